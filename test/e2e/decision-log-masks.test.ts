import { afterEach, describe, expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  POLICIES,
  SERVERS,
  eventually,
  nodeServer,
  startWarden,
  textOf,
  type RunningWarden,
} from '../helpers/warden.js';

let w: RunningWarden | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

describe('decision-log masks from the policy (OPA system.log.mask)', () => {
  test('removes and replaces what the policy names, and says so in erased / masked', async () => {
    w = await startWarden({
      mcpServers: { faulty: nodeServer(join(SERVERS, 'faulty.js'), '$CALL_LOG') },
      policy: { bundle: join(POLICIES, 'masked') },
    });
    const result = await w.client.callTool({
      name: 'echo',
      arguments: { message: 'pay', card_number: '4111111111111111', name: 'Ada Lovelace' },
    });
    expect(textOf(result)).toBe('pay');
    const event = await eventually(() => w!.decisions()[0]);
    expect((event['input'] as { call: { arguments: Record<string, unknown> } }).call.arguments).toEqual({
      message: 'pay',
      name: '[hidden by policy]',
    });
    expect(event['erased']).toEqual(['/input/call/arguments/card_number']);
    expect(event['masked']).toEqual(['/input/call/arguments/name']);
    // The masks apply to what is written, not to what the policy decided on.
    expect(event['result']).toMatchObject({ allow: true });
    const written = readFileSync(join(w.dir, 'decisions.jsonl'), 'utf8');
    expect(written).not.toContain('4111111111111111');
    expect(written).not.toContain('Ada Lovelace');
  });

  test('a policy without a mask rule logs the input as it is', async () => {
    w = await startWarden({
      mcpServers: { faulty: nodeServer(join(SERVERS, 'faulty.js'), '$CALL_LOG') },
      policy: { bundle: join(POLICIES, 'allow-all') },
    });
    await w.client.callTool({ name: 'echo', arguments: { message: 'pay', card_number: '4111111111111111' } });
    const event = await eventually(() => w!.decisions()[0]);
    expect((event['input'] as { call: { arguments: Record<string, unknown> } }).call.arguments).toEqual({
      message: 'pay',
      card_number: '4111111111111111',
    });
    expect(event['erased']).toBeUndefined();
  });
});
