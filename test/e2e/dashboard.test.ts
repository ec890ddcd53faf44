import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { EXAMPLES, ROOT, nodeServer, tempDir, textOf } from '../helpers/warden.js';
import { startHttpWarden, type InProcessWarden } from '../helpers/http.js';
import { PEOPLE, agent, shippedConfig } from '../http/admin-helpers.js';

// The dashboard in a real browser: Playwright (playwright-core, no browser download) drives
// Debian's Chromium, which `make test` installs (Makefile test-deps). Missing Chromium fails the
// test rather than skipping it. Everything stays on 127.0.0.1.
const CHROMIUM = process.env['WARDEN_CHROMIUM'] ?? '/usr/bin/chromium';
const SCREENSHOT = join(ROOT, 'test/.tmp/dashboard.png');
// Bounded waits: generous for a loaded CI machine, still far below the test's timeout.
const POLL = { timeout: 15_000, interval: 100 };
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

describe('dashboard in Chromium', () => {
  let w: InProcessWarden;
  let context: BrowserContext;
  let profile: string;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    expect(
      existsSync(CHROMIUM),
      `Chromium is missing at ${CHROMIUM}: run \`make test-deps\` (apt-get install -y chromium)`,
    ).toBe(true);
    const config = shippedConfig();
    (config['mcpServers'] as Record<string, unknown>)['crm'] = nodeServer(join(EXAMPLES, 'crm.js'), '$CALL_LOG');
    w = await startHttpWarden({ ...config, instance: 'dash-1' });
    profile = mkdtempSync(join(tempDir('chromium'), 'profile-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      viewport: { width: 1400, height: 1100 },
      timeout: 30_000,
    });
  });

  afterAll(async () => {
    await context?.close().catch(() => undefined);
    await w?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  async function score(page: Page): Promise<string> {
    return (await page.locator('#compliance-score').textContent()) ?? '';
  }

  test('sign in, watch calls live, approve a held deploy by clicking, and see the compliance score change', async () => {
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.setDefaultTimeout(15_000);
    await page.goto(`${w.url}/`);

    // Bearer auth: the login form stores the token in sessionStorage.
    await page.getByLabel('Token').fill(PEOPLE.root.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.locator('#live-status').textContent(), POLL).toBe('live');
    await expect.poll(() => page.locator('#whoami').textContent(), POLL).toContain('root');
    expect(await page.locator('header #instance').textContent()).toBe('instance: dash-1');
    await expect.poll(() => page.locator('#policy-pill').textContent(), POLL).toMatch(/^policy sha256:/);
    expect(await score(page)).toBe('\u2014');

    // A live call appears: a deploy before its tests is denied (a violation).
    const s1 = await agent(w.url, 'alice');
    const s2 = await agent(w.url, 'alice');
    const s3 = await agent(w.url, 'alice');
    try {
      await s1.client.callTool({
        name: 'deploy_to_production',
        arguments: { service: 'billing-api', version: '2.4.0' },
      });
      const deniedRow = page.locator('tr[data-tool="deploy_to_production"][data-outcome="denied"]');
      await expect.poll(() => deniedRow.count(), POLL).toBe(1);
      expect(await deniedRow.textContent()).toContain('workflow.step_order');
      await expect.poll(() => score(page), POLL).toBe('0%');

      // Another session follows the workflow; the live sessions panel shows its steps.
      await s2.client.callTool({ name: 'run_tests', arguments: { service: 'billing-api' } });
      await s2.client.callTool({ name: 'security_scan', arguments: { service: 'billing-api' } });
      await s3.client.callTool({
        name: 'validate_customer_data',
        arguments: { customer_id: 'cus_ada', name: 'Ada Lovelace', email: 'ada@example.com' },
      });
      // S1's card shows the same workflow for billing-api, untouched; S2's card has the tests done.
      const s2card = page
        .locator('article.session')
        .filter({ has: page.locator('.step[data-step="run_tests"][data-state="done"]') });
      const steps = s2card.locator('.workflow[data-workflow="production_deployment"] .step');
      await expect
        .poll(
          async () =>
            (
              await steps.evaluateAll((els) =>
                els.map((e) => `${e.getAttribute('data-step')}:${e.getAttribute('data-state')}`),
              )
            ).join(' '),
          POLL,
        )
        .toBe('run_tests:done security_scan:done deploy_to_production:pending');
      const onboarding = page.locator('.workflow[data-workflow="customer_onboarding"] .step');
      await expect
        .poll(
          async () => (await onboarding.evaluateAll((els) => els.map((e) => e.getAttribute('data-state')))).join(' '),
          POLL,
        )
        .toBe('done pending blocked blocked pending');

      // The deploy is held; the approval appears with Approve/Deny; clicking Approve lets it through.
      const deploy = s2.client.callTool({
        name: 'deploy_to_production',
        arguments: { service: 'billing-api', version: '2.4.0' },
      });
      const card = page.locator('article.approval');
      await expect.poll(() => card.count(), POLL).toBe(1);
      expect(await card.textContent()).toContain('production deploy needs a release manager');
      await card.getByLabel('Comment').fill('CHG-1042');
      await card.getByRole('button', { name: 'Approve' }).click();
      const result = await deploy;
      expect(result.isError, textOf(result)).toBeFalsy();
      await expect
        .poll(() => page.locator('tr[data-tool="deploy_to_production"][data-outcome="success"]').count(), POLL)
        .toBe(1);
      await expect.poll(() => card.count(), POLL).toBe(0);
      await expect
        .poll(
          async () => (await steps.evaluateAll((els) => els.map((e) => e.getAttribute('data-state')))).join(' '),
          POLL,
        )
        .toBe('done done done');

      // One violating session, one that completed its workflow: the score moves to 50%.
      await expect.poll(() => score(page), POLL).toBe('50%');
      await expect.poll(() => page.locator('#violation-count').textContent(), POLL).toBe('1');
      expect(await page.locator('#chart-rules svg').getAttribute('aria-label')).toBe(
        'Top rules by violations: workflow.step_order 1',
      );

      // The decision stream filters; a row opens the session trace; the audit report verifies the chain.
      await page.getByLabel('Decision', { exact: true }).selectOption('denied');
      await expect.poll(() => page.locator('#decision-rows tr').count(), POLL).toBe(1);
      await page.getByLabel('Decision', { exact: true }).selectOption('');
      await page.locator('tr[data-tool="deploy_to_production"][data-outcome="success"]').click();
      await expect
        .poll(() => page.locator('#trace-body').textContent(), POLL)
        .toContain('approval granted by root: CHG-1042');
      await page.locator('#trace-close').click();
      await page.getByRole('button', { name: 'Show report' }).click();
      await expect
        .poll(() => page.locator('#report-chain').textContent(), POLL)
        .toMatch(/^Hash chain verified: \d+ records/);

      // Toasts fade by themselves; the artifact should show the panels.
      await page.evaluate(() => document.querySelectorAll('.toast').forEach((t) => t.remove()));
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      expect(existsSync(SCREENSHOT)).toBe(true);
      expect(pageErrors).toEqual([]);
    } finally {
      await Promise.allSettled([s1.close(), s2.close(), s3.close()]);
    }
  });

  test('an approver without the admin role sees only the approvals panel', async () => {
    const page = await context.newPage();
    await page.goto(`${w.url}/`);
    await page.evaluate((token) => sessionStorage.setItem('warden.token', token), PEOPLE.bob.token);
    await page.reload();
    await expect.poll(() => page.locator('#whoami').textContent(), POLL).toContain('bob');
    expect(await page.locator('#approvals').isVisible()).toBe(true);
    expect(await page.locator('#compliance').isVisible()).toBe(false);
    expect(await page.locator('#decisions').isVisible()).toBe(false);
  });

  test('serves the page from the package with a strict Content-Security-Policy', async () => {
    const res = await fetch(`${w.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'; script-src 'self'/);
    const html = await res.text();
    const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets).toHaveLength(2);
    for (const asset of assets) {
      const r = await fetch(`${w.url}${asset}`);
      expect(r.status).toBe(200);
      expect(r.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    }
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
  });
});
