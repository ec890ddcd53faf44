import { AuditError } from '../common/index.js';
import { ChainedStore, checkChainName, type Backend } from './chain-store.js';
import { MemoryBackend } from './memory-backend.js';
import type { AuditStoreOptions, ChainStore } from './types.js';

/**
 * Opens (creating when needed) the audit store named by `url`:
 * - `sqlite:PATH` — embedded default (`sqlite:./data/audit.db`);
 * - `postgres://…` or `postgresql://…` — one chain shared by many replicas, or one chain per
 *   replica (`options.chain`: the replica's name);
 * - `memory:` — tests and demos, nothing survives the process.
 *
 * @example
 * ```ts
 * const store = await openAuditStore('sqlite:./data/audit.db', { redact: createRedactor({ keys: ['password'], secret }) });
 * await store.append({ type: 'call.received', session_id: 's1', data: { call_id: 'c1', tool: 'deploy' } });
 * await store.close();
 * ```
 */
export async function openAuditStore(url: string, options: AuditStoreOptions = {}): Promise<ChainStore> {
  let backend: Backend;
  const chain = checkChainName(options.chain ?? '');
  if (typeof url !== 'string' || url === '') {
    throw new AuditError(
      'audit_store_url_invalid',
      'audit.store is empty; use sqlite:./data/audit.db, postgres://user@host/db or memory:',
    );
  }
  const postgres = typeof url === 'string' && (url.startsWith('postgres://') || url.startsWith('postgresql://'));
  if (chain !== '' && !postgres) {
    throw new AuditError(
      'audit_chain_unsupported',
      `the audit store ${url.replace(/:[^:@/]*@/, ':***@')} holds one chain; one chain per replica ` +
        '(audit.chain: instance) needs a PostgreSQL store (audit.store: postgres://…), or use audit.chain: shared',
    );
  }
  if (url.startsWith('sqlite:')) {
    const { SqliteBackend } = await import('./sqlite-backend.js');
    backend = await SqliteBackend.open(url, options.readOnly ?? false, options.synchronous ?? 'full');
  } else if (postgres) {
    const { PostgresBackend } = await import('./postgres-backend.js');
    backend = await PostgresBackend.open(url, options.poolSize, options.readOnly ?? false, chain);
  } else if (url === 'memory:' || url.startsWith('memory:')) {
    backend = new MemoryBackend();
  } else {
    throw new AuditError(
      'audit_store_url_invalid',
      `audit store URL "${url.replace(/:[^:@/]*@/, ':***@')}" is not supported; use sqlite:PATH, postgres://… or memory:`,
    );
  }
  try {
    return new ChainedStore(backend, options);
  } catch (err) {
    await backend.close();
    throw err;
  }
}

/** Wraps an existing backend (tests reach the memory backend's rows this way). */
export function storeFromBackend(backend: Backend, options: AuditStoreOptions = {}): ChainStore {
  return new ChainedStore(backend, options);
}
