import { AuditError } from '../common/index.js';
import { noTies, singleChainHeads, singleChainView, type Backend, type Batch } from './chain-store.js';
import { GENESIS_HASH } from './hash.js';
import type { AuditQuery, ChainHead, ChainPoint, ChainState, Checkpoint, StoredRow, Tie } from './types.js';

/** `memory:` — for tests and demos; nothing survives the process. */
export class MemoryBackend implements Backend {
  readonly kind = 'memory' as const;
  readonly description = 'memory:';
  readonly chain = '';
  /** Exposed so tests can tamper with it as an attacker would with a database. */
  rows: StoredRow[] = [];
  checkpointRows: Checkpoint[] = [];
  baseRows: Checkpoint[] = [];
  ends: ChainState = { base: { seq: 0, hash: GENESIS_HASH }, head: { seq: 0, hash: GENESIS_HASH } };

  async commit(build: (head: ChainPoint) => Batch): Promise<void> {
    const batch = build({ ...this.ends.head });
    this.rows.push(...batch.rows.map((row) => ({ ...row })));
    for (const cp of batch.checkpoints) this.putCheckpoint(cp);
    this.ends.head = { ...batch.head };
  }

  private putCheckpoint(cp: Checkpoint): boolean {
    if (this.checkpointRows.some((c) => c.seq === cp.seq)) return false;
    this.checkpointRows.push({ ...cp });
    this.checkpointRows.sort((a, b) => a.seq - b.seq);
    return true;
  }

  private sorted(): StoredRow[] {
    return [...this.rows].sort((a, b) => Number(a.seq) - Number(b.seq));
  }

  async read(query: AuditQuery): Promise<StoredRow[]> {
    // One chain, '': a query for another finds nothing.
    if (query.chain !== undefined && query.chain !== '') return [];
    const out = this.sorted().filter(
      (row) =>
        (query.sinceSeq === undefined || Number(row.seq) > query.sinceSeq) &&
        (query.session === undefined || row.session_id === query.session) &&
        (query.since === undefined || String(row.at) >= query.since) &&
        (query.until === undefined || String(row.at) < query.until),
    );
    return (query.limit === undefined ? out : out.slice(0, query.limit)).map((row) => ({ ...row }));
  }

  chains(): Promise<ChainHead[]> {
    return singleChainHeads(this);
  }

  forChain(chain: string): Backend {
    return singleChainView(this, chain);
  }

  async ties(): Promise<Tie[]> {
    return [];
  }

  addTie(): Promise<Tie> {
    return noTies(this);
  }

  async scan(afterSeq: number, limit: number): Promise<StoredRow[]> {
    return this.sorted()
      .filter((row) => Number(row.seq) > afterSeq)
      .slice(0, limit)
      .map((row) => ({ ...row }));
  }

  async state(): Promise<ChainState> {
    return { base: { ...this.ends.base }, head: { ...this.ends.head } };
  }

  async checkpoints(): Promise<Checkpoint[]> {
    return this.checkpointRows.map((cp) => ({ ...cp }));
  }

  async bases(): Promise<Checkpoint[]> {
    return this.baseRows.map((cp) => ({ ...cp }));
  }

  async addCheckpoint(build: (head: ChainPoint) => Checkpoint | null): Promise<Checkpoint | null> {
    const cp = build({ ...this.ends.head });
    return cp && this.putCheckpoint(cp) ? cp : null;
  }

  async dropPrefix(through: ChainPoint, expectedBase: ChainPoint, base: Checkpoint): Promise<number> {
    if (this.ends.base.seq !== expectedBase.seq || this.ends.base.hash !== expectedBase.hash) {
      throw new AuditError(
        'audit_archive_conflict',
        'the chain base moved while archiving (another archiver ran); archive again',
      );
    }
    const before = this.rows.length;
    this.rows = this.rows.filter((row) => Number(row.seq) > through.seq);
    this.checkpointRows = this.checkpointRows.filter((cp) => cp.seq > through.seq);
    this.ends.base = { ...through };
    this.baseRows = [...this.baseRows.filter((cp) => cp.seq !== base.seq), { ...base }].sort((a, b) => a.seq - b.seq);
    return before - this.rows.length;
  }

  private readonly claims = new Set<string>();

  async claim(key: string): Promise<boolean> {
    if (this.claims.has(key)) return false;
    this.claims.add(key);
    return true;
  }

  async close(): Promise<void> {}
}
