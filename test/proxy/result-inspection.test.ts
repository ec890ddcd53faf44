// The pure half of the result policy: which strings of a result a client reads, how matched spans
// are replaced in them, and how the policy's answer is checked. The policy half is Rego.
import { describe, expect, test } from 'vitest';
import { readResultDecision, redactResult, resultTexts } from '../../src/proxy/result-inspection.js';

const KEY = 'AKIAABCDEFGHIJKLMNOP';

describe('resultTexts', () => {
  test.each([
    ['tool text', { content: [{ type: 'text', text: 'hi' }] }, [{ path: '/content/0/text', text: 'hi' }]],
    [
      'structured content: every string is data, "type" included',
      { structuredContent: { user: { email: 'a@b.c', type: 'admin' } }, content: [] },
      [
        { path: '/structuredContent/user/email', text: 'a@b.c' },
        { path: '/structuredContent/user/type', text: 'admin' },
      ],
    ],
    [
      'a resource: its text, not its uri or mime type',
      { contents: [{ uri: 'file:///x', mimeType: 'text/plain', text: 'body' }] },
      [{ path: '/contents/0/text', text: 'body' }],
    ],
    [
      'a prompt message, and a key that needs escaping',
      { messages: [{ role: 'user', content: { type: 'text', text: 'go' } }], structuredContent: { 'a/b': 'x' } },
      [
        { path: '/structuredContent/a~1b', text: 'x' },
        { path: '/messages/0/content/text', text: 'go' },
      ],
    ],
    ['a blob is not text', { contents: [{ uri: 'x', blob: 'QUtJQQ==' }] }, []],
  ])('%s', (_name, result, expected) => {
    expect(resultTexts(result as Record<string, unknown>)).toEqual(expected);
  });

  test('a result nested 100,000 deep is walked without overflowing the stack', () => {
    let deep: unknown = 'bottom';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(resultTexts({ structuredContent: deep as Record<string, unknown> })).toHaveLength(1);
  });
});

describe('redactResult', () => {
  test('every occurrence in every readable string, longest match first; the rest stays; the input is not changed', () => {
    const result = {
      content: [{ type: 'text', text: `key ${KEY} and ${KEY}` }],
      structuredContent: { key: KEY, type: `x${KEY}`, n: 3 },
      _meta: { note: KEY },
    };
    const redacted = redactResult(result, [
      { kind: 'aws_access_key_id', text: KEY },
      { kind: 'prefix', text: 'AKIA' },
    ]);
    expect(redacted).toEqual({
      content: [{ type: 'text', text: 'key [REDACTED:aws_access_key_id] and [REDACTED:aws_access_key_id]' }],
      structuredContent: { key: '[REDACTED:aws_access_key_id]', type: 'x[REDACTED:aws_access_key_id]', n: 3 },
      _meta: { note: KEY },
    });
    expect(result.content[0]!.text).toContain(KEY);
  });

  test('no redactions: the same object', () => {
    const result = { content: [] };
    expect(redactResult(result, [])).toBe(result);
  });
});

describe('readResultDecision', () => {
  test('defaults and sorted, unique labels', () => {
    expect(readResultDecision({ action: 'pass', labels: ['secret', 'pii', 'secret'] })).toEqual({
      ok: true,
      decision: { action: 'pass', reasons: [], redact: [], labels: ['pii', 'secret'] },
    });
  });

  test.each([
    [null, 'data.mcp.result must be an object {action, reasons, redact, labels}'],
    [{ action: 'allow' }, 'data.mcp.result.action must be pass, redact or deny (got "allow")'],
    [{ action: 'deny' }, 'data.mcp.result denies without a reason: give reasons [{rule, message}]'],
    [{ action: 'redact', redact: [{ kind: 'x' }] }, 'data.mcp.result.redact must be a list of {kind, text}'],
    [{ action: 'pass', reasons: [{ rule: 1 }] }, 'data.mcp.result.reasons must be a list of {rule, message}'],
    [{ action: 'pass', labels: [1] }, 'data.mcp.result.labels must be a list of strings'],
  ])('%j is refused', (value, message) => {
    expect(readResultDecision(value)).toEqual({ ok: false, message });
  });
});
