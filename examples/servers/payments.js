#!/usr/bin/env node
// payments: card payments. The example policies require a fraud_check that approved a payment before
// payment_processing may capture it, and cap refunds. Scores are deterministic so tests can rely on
// them; no money moves.

import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import * as z from 'zod/v4';
import { recorded } from './lib/record.js';
import { ok } from './lib/results.js';
import { stableId, sequenceIds } from './lib/ids.js';
import { serveStdio } from './lib/serve.js';

const NAME = 'payments';
const DECISIONS = ['approve', 'review', 'reject'];
/** Amount (in major units) from which a payment is rejected outright. */
const REJECT_AMOUNT = 10_000;
/** Amount from which a payment goes to manual review. */
const REVIEW_AMOUNT = 5_000;
// XX and ZZ are ISO 3166 user-assigned codes, never real countries: the example flags no real
// country. Override with a comma-separated list, e.g. PAYMENTS_RISKY_COUNTRIES=XX,ZZ,QM.
const RISKY_COUNTRIES = new Set(
  (process.env.PAYMENTS_RISKY_COUNTRIES ?? 'XX,ZZ')
    .split(',')
    .map((c) => c.trim().toUpperCase())
    .filter(Boolean),
);

const server = new McpServer({ name: NAME, title: 'Payments', version: '1.0.0' });
const nextId = sequenceIds();
const paymentId = z.string().min(1).max(64).describe('Payment identifier, e.g. "pay_7781"');
const amount = z.number().positive().describe('Amount in major units (e.g. 12.50)');
const currency = z
  .string()
  .regex(/^[A-Za-z]{3}$/)
  .optional()
  .describe('ISO 4217 currency code; default USD');

/** @returns {{risk_score: number, decision: 'approve'|'review'|'reject', reasons: string[]}} */
function score(amountValue, cardCountry) {
  const reasons = [];
  let risk = 0.05 + 0.1 * Math.min(amountValue / REVIEW_AMOUNT, 1);
  if (cardCountry && RISKY_COUNTRIES.has(cardCountry.toUpperCase())) {
    risk = Math.max(risk, 0.95);
    reasons.push(`card issued in high-risk country ${cardCountry.toUpperCase()}`);
  }
  if (amountValue >= REJECT_AMOUNT) {
    risk = Math.max(risk, 0.9);
    reasons.push(`amount ${amountValue} >= ${REJECT_AMOUNT}`);
  } else if (amountValue >= REVIEW_AMOUNT) {
    risk = Math.max(risk, 0.6);
    reasons.push(`amount ${amountValue} >= ${REVIEW_AMOUNT}`);
  }
  const risk_score = Math.round(risk * 100) / 100;
  const decision = risk_score >= 0.8 ? 'reject' : risk_score >= 0.5 ? 'review' : 'approve';
  return { risk_score, decision, reasons };
}

server.registerTool(
  'fraud_check',
  {
    title: 'Fraud check',
    description:
      `Score a payment for fraud risk (0 = safe, 1 = certain fraud) and recommend approve, review or reject. ` +
      `Amounts >= ${REJECT_AMOUNT} or cards from high-risk countries are rejected; >= ${REVIEW_AMOUNT} go to review.`,
    inputSchema: {
      payment_id: paymentId,
      amount,
      currency,
      card_country: z
        .string()
        .regex(/^[A-Za-z]{2}$/)
        .optional()
        .describe('ISO 3166 alpha-2 country of the card issuer'),
    },
    outputSchema: {
      payment_id: z.string(),
      risk_score: z.number().min(0).max(1),
      decision: z.enum(DECISIONS),
      reasons: z.array(z.string()),
    },
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  },
  recorded(NAME, 'fraud_check', ({ payment_id, amount: value, card_country }) => {
    const result = { payment_id, ...score(value, card_country) };
    return ok(result, `Payment ${payment_id}: ${result.decision} (risk ${result.risk_score}).`);
  }),
);

server.registerTool(
  'payment_processing',
  {
    title: 'Capture payment',
    description: 'Capture (charge) a payment. Governance should require an approving fraud_check first.',
    inputSchema: { payment_id: paymentId, amount, currency },
    outputSchema: {
      payment_id: z.string(),
      status: z.literal('captured'),
      transaction_id: z.string(),
      amount: z.number(),
      currency: z.string(),
    },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  },
  recorded(NAME, 'payment_processing', ({ payment_id, amount: value, currency: cur }) => {
    const result = {
      payment_id,
      status: 'captured',
      transaction_id: stableId('txn', payment_id, value),
      amount: value,
      currency: (cur ?? 'USD').toUpperCase(),
    };
    return ok(result, `Captured ${result.amount} ${result.currency} for ${payment_id}.`);
  }),
);

server.registerTool(
  'refund_payment',
  {
    title: 'Refund payment',
    description: 'Refund all or part of a captured payment back to the card.',
    inputSchema: { payment_id: paymentId, amount },
    outputSchema: {
      payment_id: z.string(),
      status: z.literal('refunded'),
      refund_id: z.string(),
      amount: z.number(),
    },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  },
  recorded(NAME, 'refund_payment', ({ payment_id, amount: value }) => {
    const result = { payment_id, status: 'refunded', refund_id: nextId('re', payment_id, value), amount: value };
    return ok(result, `Refunded ${value} on ${payment_id}.`);
  }),
);

await serveStdio(server, NAME);
