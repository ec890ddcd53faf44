import { loadPublicKey, tieSignatureValid, keyId } from './signing.js';
import { GENESIS_HASH } from './hash.js';
import type { ChainHead, ChainStore, Tie } from './types.js';
import { verifyChain, type VerifyOptions, type VerifyResult } from './verify.js';

/** What is wrong with a tie: it names a record a chain no longer holds as named, or is not validly signed. */
export interface TieFailure {
  /** The chain whose head the tie names (for a bad signature: the tie's writer). */
  chain: string;
  seq: number;
  problem: 'truncated' | 'altered' | 'deleted' | 'unsigned';
  detail: string;
}

/** The result of {@link verifyStore}: each chain's, the ties', and the whole. */
export interface StoreVerifyResult {
  ok: boolean;
  chains: { chain: string; result: VerifyResult }[];
  ties: { count: number; signed: number; failure: TieFailure | null };
}

/** Describes a tie for messages: who wrote it, when. */
function tieName(tie: Tie): string {
  return `the tie written by ${tie.by === '' ? 'the shared chain' : `chain "${tie.by}"`} at ${tie.at}`;
}

/** Checks one head a tie names against its chain: the record must be there with that hash, or archived. */
async function checkHead(
  store: ChainStore,
  chains: Map<string, ChainHead>,
  tie: Tie,
  head: Tie['heads'][number],
): Promise<TieFailure | null> {
  const named = `${tieName(tie)} names record ${head.seq} of chain "${head.chain}" (hash ${String(head.hash).slice(0, 12)}…)`;
  const chain = chains.get(head.chain);
  if (!chain)
    return {
      chain: head.chain,
      seq: head.seq,
      problem: 'deleted',
      detail: `${named}, but the store has no such chain`,
    };
  if (head.seq === 0) {
    if (head.hash === GENESIS_HASH) return null;
    return { chain: head.chain, seq: 0, problem: 'altered', detail: `${named}: seq 0 is the genesis, 64 zeros` };
  }
  // Archived records are held to their archives by the chain's own verification.
  if (head.seq < chain.base.seq) return null;
  if (head.seq === chain.base.seq) {
    if (chain.base.hash === head.hash) return null;
    const detail = `${named}, but the chain's base at that seq has hash ${chain.base.hash.slice(0, 12)}…`;
    return { chain: head.chain, seq: head.seq, problem: 'altered', detail };
  }
  const [row] = await store.forChain(head.chain).scan(head.seq - 1, 1);
  if (!row || Number(row.seq) !== head.seq) {
    const detail =
      `${named}, but the chain ends at ${chain.head.seq}: ` +
      'its records from there on were cut off after the tie (and its head moved back)';
    return { chain: head.chain, seq: head.seq, problem: 'truncated', detail };
  }
  if (row.hash !== head.hash) {
    const detail = `${named}, but that record's hash is ${String(row.hash).slice(0, 12)}…: the chain was rewritten`;
    return { chain: head.chain, seq: head.seq, problem: 'altered', detail };
  }
  return null;
}

/** Checks every tie; the first failure, or null. With a public key every tie must be validly signed. */
async function checkTies(
  store: ChainStore,
  ties: Tie[],
  chains: Map<string, ChainHead>,
  options: VerifyOptions,
): Promise<{ signed: number; failure: TieFailure | null }> {
  const key = options.publicKey === undefined ? undefined : loadPublicKey(options.publicKey);
  let signed = 0;
  for (const tie of ties) {
    if (key) {
      if (!tieSignatureValid(tie, key)) {
        const why = !tie.signature
          ? 'is not signed: it was written outside Warden, or its writer had no audit.signingKey'
          : tie.key_id && tie.key_id !== keyId(key)
            ? `was signed by another key (${tie.key_id}): check that --public-key belongs to audit.signingKey`
            : 'has an invalid signature: it was changed outside Warden';
        return { signed, failure: { chain: tie.by, seq: 0, problem: 'unsigned', detail: `${tieName(tie)} ${why}` } };
      }
      signed += 1;
    }
    if (tie.heads.length === 0) {
      const detail = `${tieName(tie)} names no chain head: it was changed outside Warden`;
      return { signed, failure: { chain: tie.by, seq: 0, problem: 'altered', detail } };
    }
    for (const head of tie.heads) {
      const failure = await checkHead(store, chains, tie, head);
      if (failure) return { signed, failure };
    }
  }
  return { signed, failure: null };
}

/**
 * `warden audit verify` over a whole store: every chain from its base, as {@link verifyChain}
 * checks one (archives belong to the shared chain `''`), then every tie: each head it names must
 * be a record of that chain with that hash, or at or before the chain's base. A chain cut after a
 * tie fails at that tie, naming the chain.
 *
 * @example
 * ```ts
 * const whole = await verifyStore(store, { publicKey: pem });
 * for (const { chain, result } of whole.chains) console.log(chain, result.ok);
 * ```
 */
export async function verifyStore(store: ChainStore, options: VerifyOptions = {}): Promise<StoreVerifyResult> {
  const heads = await store.chains();
  const chains: StoreVerifyResult['chains'] = [];
  for (const { chain } of heads) {
    const own = chain === '' ? options : { ...options, archives: [] };
    chains.push({ chain, result: await verifyChain(store.forChain(chain), own) });
  }
  const ties = await store.ties();
  // Chains read after the ties: a tie written meanwhile names heads these already hold.
  const now = new Map((await store.chains()).map((c) => [c.chain, c]));
  const { signed, failure } = await checkTies(store, ties, now, options);
  const ok = failure === null && chains.every(({ result }) => result.ok);
  return { ok, chains, ties: { count: ties.length, signed, failure } };
}
