import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';

const SCRIPT = new URL('../../../scripts/pg-test-server.sh', import.meta.url).pathname;
const run = promisify(execFile);

export interface TestPostgres {
  /** URL of the `postgres` maintenance database. */
  url: string;
  /** Creates an empty database and returns its URL. */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Starts a private PostgreSQL with scripts/pg-test-server.sh (which apt-get installs Debian's
 * `postgresql` first if it is missing). Call in beforeAll, stop in afterAll; a process exit hook
 * stops it too if the run is cut short.
 */
export async function startPostgres(options: { fast?: boolean } = {}): Promise<TestPostgres> {
  const { stdout } = await run('bash', [SCRIPT, 'start', ...(options.fast ? ['--fast'] : [])], { timeout: 590_000 });
  const vars = Object.fromEntries(
    stdout
      .split('\n')
      .filter((line) => line.includes('='))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
  const url = vars['PGURL'];
  const dataDir = vars['PGDATA'];
  if (!url || !dataDir) throw new Error(`pg-test-server.sh printed no PGURL/PGDATA:\n${stdout}`);
  let stopped = false;
  const stopSync = (): void => {
    if (stopped) return;
    stopped = true;
    try {
      execFileSync('bash', [SCRIPT, 'stop', dataDir], { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
  };
  process.once('exit', stopSync);
  return {
    url,
    async createDatabase(name: string): Promise<string> {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE "${name.replace(/"/g, '')}"`);
      } finally {
        await client.end();
      }
      const u = new URL(url);
      u.pathname = `/${name}`;
      return u.toString();
    },
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      process.removeListener('exit', stopSync);
      await run('bash', [SCRIPT, 'stop', dataDir]);
    },
  };
}
