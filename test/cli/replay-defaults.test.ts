// `warden replay` without --config rebuilds history with the session defaults a Warden runs with
// (config's SESSION_DEFAULTS), not numbers of its own: a replay must see the history the recorded
// Warden saw.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, test } from 'vitest';
import { parseConfig, SESSION_DEFAULTS } from '../../src/config/index.js';
import { CLI, FIXTURES, POLICIES } from '../helpers/warden.js';

const run = promisify(execFile);

test('replay falls back to the config defaults for history window and result cut', async () => {
  const config = parseConfig(
    `mcpServers: { a: { command: x } }\npolicy: { bundle: ${join(POLICIES, 'allow-all')} }\n`,
    join(FIXTURES, 'warden.yaml'),
    {},
  );
  expect(config.session).toEqual(SESSION_DEFAULTS);
  const { stdout } = await run(process.execPath, [CLI, 'replay', '--help']);
  const help = stdout.replace(/\s+/g, ' ');
  expect(help).toContain(`(default: the config's, else ${SESSION_DEFAULTS.historyWindow})`);
  expect(help).toContain(`(default: the config's, else ${SESSION_DEFAULTS.resultMaxChars})`);
});
