// The result policy end to end: a downstream that makes up fake credentials and personal data,
// Warden over stdio with the shipped policy (results.yaml set per server), a real SDK client. The
// client sees only the redactions, a denied result never reaches it, and neither the audit store
// nor the decision log holds any of the values: the raw files are searched for them.
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import YAML from 'yaml';
import {
  CLI,
  FIXTURES,
  ROOT,
  SERVERS,
  WARDEN_NODE,
  nodeServer,
  startWarden,
  tempDir,
  textOf,
  wardenEnv,
  type RunningWarden,
} from '../helpers/warden.js';
import { execFileSync } from 'node:child_process';

const LEAKS = JSON.parse(readFileSync(join(FIXTURES, 'servers/leaks.json'), 'utf8')) as Record<string, string>;
const CREDENTIALS = ['aws', 'pem', 'github', 'slack', 'stripe', 'jwt', 'password'];
const PII = ['email', 'card', 'iban'];

let w: RunningWarden;

beforeAll(async () => {
  // The shipped policy, with per-server settings: `pii_` redacts personal data too, `vault_` withholds credentials.
  const policy = join(tempDir('results-policy'), 'policy');
  cpSync(join(ROOT, 'policy'), policy, { recursive: true });
  const settings = YAML.parse(readFileSync(join(policy, 'results.yaml'), 'utf8')) as {
    results: Record<string, unknown>;
  };
  settings.results['servers'] = { pii: { redact: ['credentials', 'pii'] }, vault: { deny: ['credentials'] } };
  writeFileSync(join(policy, 'results.yaml'), YAML.stringify(settings));
  const leaky = (prefix: string) => ({ ...nodeServer(join(SERVERS, 'leaky.js'), '$CALL_LOG'), prefix });
  w = await startWarden({
    mcpServers: { leaky: leaky(''), pii: leaky('pii_'), vault: leaky('vault_') },
    policy: { bundle: policy },
  });
}, 60_000);

afterAll(async () => {
  await w?.close();
});

const call = (name: string, kind?: string) =>
  w.client.callTool({ name, arguments: kind ? { kind } : {} }) as Promise<{
    content: { type: string; text: string }[];
    structuredContent?: Record<string, unknown>;
    isError?: boolean;
  }>;

describe('the result policy (mcp/result)', () => {
  test.each(CREDENTIALS)('a %s credential is redacted in text and in structured content', async (kind) => {
    const text = await call('leak_text', kind);
    expect(textOf(text)).toMatch(/^here it is: .*\[REDACTED:[a-z_]+\]/s);
    expect(textOf(text)).not.toContain(LEAKS[kind]);
    const structured = await call('leak_structured', kind);
    const value = (structured.structuredContent!['user'] as { value: string }).value;
    expect(value).toMatch(/\[REDACTED:[a-z_]+\]/);
    expect(value).not.toContain(LEAKS[kind]);
    expect(structured.structuredContent!['note']).toBe('fetched');
    expect(textOf(structured)).not.toContain(LEAKS[kind]);
  });

  test.each(PII)('personal data (%s) is redacted where results.yaml says so', async (kind) => {
    const text = await call('pii_leak_text', kind);
    expect(textOf(text)).toMatch(/\[REDACTED:(email|card_number|iban)\]/);
    expect(textOf(text)).not.toContain(LEAKS[kind]);
    const structured = await call('pii_leak_structured', kind);
    expect(JSON.stringify(structured.structuredContent)).not.toContain(LEAKS[kind]);
  });

  test('a result with nothing to find passes unchanged', async () => {
    expect(textOf(await call('clean'))).toBe('nothing to see here');
  });

  test('a withheld result never reaches the client, though the tool ran', async () => {
    const withheld = await call('vault_leak_text', 'aws');
    expect(withheld.isError).toBe(true);
    expect(textOf(withheld)).toMatch(/^Warden withheld the result of vault_leak_text:\n[\s\S]*\[result\.deny\]/);
    expect(textOf(withheld)).not.toContain(LEAKS['aws']);
    // leak_text(aws) ran twice: through leaky (redacted) and through vault (withheld).
    expect(w.executed().filter((c) => c.tool === 'leak_text' && c.arguments['kind'] === 'aws')).toHaveLength(2);
  });

  test('the trail records what the client received, the action and the labels; no file holds a value', async () => {
    await w.close();
    const exported = execFileSync(
      WARDEN_NODE,
      [CLI, 'audit', 'export', '--store', `sqlite:${join(w.dir, 'audit.db')}`],
      {
        env: wardenEnv(),
        encoding: 'utf8',
      },
    );
    const completed = exported
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { type: string; data: Record<string, unknown> })
      .filter((r) => r.type === 'call.completed');
    expect(
      completed.filter((r) => (r.data['labels'] as string[] | undefined)?.includes('secret')).length,
    ).toBeGreaterThanOrEqual(CREDENTIALS.length * 2);
    expect(completed).toContainEqual(
      expect.objectContaining({
        data: expect.objectContaining({
          result_policy: expect.objectContaining({ action: 'deny', rules: expect.arrayContaining(['result.deny']) }),
        }),
      }),
    );
    const files = ['audit.db', 'audit.db-wal', 'decisions.jsonl']
      .map((f) => join(w.dir, f))
      .map((f) => {
        try {
          return readFileSync(f).toString('latin1');
        } catch {
          return '';
        }
      })
      .join('\n');
    expect(files.length).toBeGreaterThan(1000);
    for (const kind of [...CREDENTIALS, ...PII]) {
      const value = LEAKS[kind]!;
      // The PEM block's body line is its most distinctive part; JSON escapes its newlines.
      const probe = kind === 'pem' ? value.split('\n')[1]! : value;
      expect(files.includes(probe), `${kind} found in the records`).toBe(false);
    }
    expect(exported).toContain('[REDACTED:');
  });
});
