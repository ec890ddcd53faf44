// Conformance parity: the official suite's server scenarios through Warden's HTTP front, with the
// fixture behind it over stdio and over Streamable HTTP. Every scenario that passes directly must
// also pass through Warden: a client cannot tell Warden from the server behind it.
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { join } from 'node:path';
import { spawnHttpWarden, type SpawnedWarden } from '../helpers/http.js';
import { POLICIES } from '../helpers/warden.js';
import {
  FIXTURE_SERVER,
  failedScenarios,
  runConformance,
  unexpectedWarnings,
  startFixtureHttp,
  type RunningFixture,
  type Summary,
} from './run-suite.js';

const SUITE_TIMEOUT = 180_000;
const OUT = fileURLToPath(new URL('../.tmp/', import.meta.url));

function passing(summary: Summary): string[] {
  return Object.entries(summary.scenarios)
    .filter(([, r]) => r.passed)
    .map(([name]) => name)
    .sort();
}

describe('conformance parity through Warden', () => {
  let fixture: RunningFixture;
  let direct: Summary;
  const wardens: SpawnedWarden[] = [];

  beforeAll(async () => {
    fixture = await startFixtureHttp();
    direct = await runConformance(fixture.url);
  }, SUITE_TIMEOUT);

  afterAll(async () => {
    await Promise.all(wardens.map((w) => w.stop()));
    await fixture?.close();
  });

  test.each([
    ['stdio', () => ({ command: process.execPath, args: [FIXTURE_SERVER, '--stdio'] })],
    ['http', () => ({ url: fixture.url })],
  ] as const)(
    'fixture behind Warden over %s: every scenario that passes directly passes through Warden',
    async (transport, server) => {
      // The suite opens over 30 sessions as one principal (auth none) and ends none of them.
      const warden = await spawnHttpWarden({
        mcpServers: { conformance: server() },
        policy: { bundle: join(POLICIES, 'allow-all') },
        audit: { store: 'memory:' },
        http: { maxSessionsPerPrincipal: 256 },
      });
      wardens.push(warden);
      // A localhost name: the suite's DNS-rebinding scenario requires one.
      const through = await runConformance(`http://localhost:${warden.port}/mcp`);
      await mkdir(OUT, { recursive: true });
      await writeFile(
        join(OUT, `conformance-through-warden-${transport}.json`),
        JSON.stringify({ direct: { passed: direct.passed, total: direct.total }, through }, null, 2) + '\n',
      );

      const lost = passing(direct).filter((name) => !passing(through).includes(name));
      expect(
        lost,
        `scenarios passing directly but not through Warden (${transport}): ${JSON.stringify(Object.fromEntries(lost.map((n) => [n, through.scenarios[n]])), null, 1)}`,
      ).toEqual([]);
      expect(through.total).toBe(direct.total);
      expect(failedScenarios(through)).toEqual(failedScenarios(direct));
      // SHOULD-level checks too: only the suite's own known false warning, as directly.
      expect(unexpectedWarnings(through)).toEqual([]);
    },
    SUITE_TIMEOUT,
  );
});
