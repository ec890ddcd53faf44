// The official suite's 2026-07-28 requirements (0.2.0-alpha.12, --requirements 2026-07-28) through
// Warden's HTTP front, with the conformance fixture behind it over stdio and over Streamable HTTP.
// The fixture speaks both eras, so Warden reaches it in 2026-07-28 (learned by server/discover):
// its input_required rounds come back through Warden with their requestState sealed in Warden's.
// Every scenario that passes directly must pass through Warden, and every scored scenario but the
// known gaps below; the list is exact, so a gap that closes (or a new failure) fails the test.
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { spawnHttpWarden, type SpawnedWarden } from '../helpers/http.js';
import { POLICIES } from '../helpers/warden.js';
import { FIXTURE_SERVER, runConformance, startFixtureHttp, type RunningFixture, type Summary } from './run-suite.js';

const SUITE_TIMEOUT = 240_000;
const OUT = fileURLToPath(new URL('../.tmp/', import.meta.url));

/** Scored scenarios that do not pass through Warden yet, and why. */
const KNOWN_GAPS: Readonly<Record<string, string>> = {
  'server-stateless':
    "the fixture lists none of the suite's diagnostic tools (test_missing_capability, test_streaming_elicitation, " +
    'test_logging_tool), so four checks are not testable',
};

function scoredFailing(summary: Summary): string[] {
  return Object.entries(summary.scenarios)
    .filter(([, r]) => r.scored && !r.passed)
    .map(([name]) => name)
    .sort();
}

describe('MCP 2026-07-28 conformance through Warden', () => {
  let fixture: RunningFixture;
  let direct: Summary;
  const wardens: SpawnedWarden[] = [];

  beforeAll(async () => {
    fixture = await startFixtureHttp();
    direct = await runConformance(fixture.url, { requirements: '2026-07-28' });
  }, SUITE_TIMEOUT);
  afterAll(async () => {
    await Promise.all(wardens.map((w) => w.stop()));
    await fixture?.close();
  });

  test.each([
    ['stdio', () => ({ command: process.execPath, args: [FIXTURE_SERVER, '--stdio'] })],
    ['http', () => ({ url: fixture.url })],
  ] as const)(
    'fixture behind Warden over %s: every scored scenario passes but the known gaps',
    async (transport, server) => {
      const warden = await spawnHttpWarden({
        mcpServers: { conformance: server() },
        policy: { bundle: join(POLICIES, 'allow-all') },
        audit: { store: 'memory:' },
        http: { maxSessionsPerPrincipal: 256, maxSessions: 256 },
      });
      wardens.push(warden);
      // A localhost name: the suite's DNS-rebinding scenario requires one.
      const through = await runConformance(`http://localhost:${warden.port}/mcp`, { requirements: '2026-07-28' });
      await mkdir(OUT, { recursive: true });
      await writeFile(
        join(OUT, `conformance-2026-through-warden-${transport}.json`),
        JSON.stringify(
          { direct: { scored: direct.scored, passed: direct.passed, total: direct.total }, through },
          null,
          2,
        ) + '\n',
      );
      expect(through.scored.total).toBeGreaterThanOrEqual(30);
      expect(through.total).toBe(direct.total);
      const passing = (x: Summary) => Object.keys(x.scenarios).filter((n) => x.scenarios[n]!.passed);
      expect(
        passing(direct).filter((n) => !passing(through).includes(n)),
        'passing directly, not through Warden',
      ).toEqual([]);
      const failing = scoredFailing(through);
      const detail = Object.fromEntries(failing.map((n) => [n, through.scenarios[n]!.failures]));
      expect(
        failing,
        `scored scenarios failing through Warden (${transport}): ${JSON.stringify(detail, null, 1)}`,
      ).toEqual(Object.keys(KNOWN_GAPS).sort());
    },
    SUITE_TIMEOUT,
  );
});
