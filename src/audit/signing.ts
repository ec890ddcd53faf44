import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { AuditError } from '../common/index.js';
import { canonicalText } from './hash.js';
import type { Checkpoint, Tie } from './types.js';

/**
 * What a signed statement says about record `seq`: `checkpoint`, "the record has this hash", or
 * `base`, "the records up to and including it were archived, and it had this hash" (written when
 * retention moves the chain's base). The kind is inside the signed bytes, so a periodic checkpoint
 * can never be passed off as a base.
 */
export type CheckpointKind = 'checkpoint' | 'base';

const MESSAGE_TYPE: Record<CheckpointKind, string> = {
  checkpoint: 'warden.audit.checkpoint',
  base: 'warden.audit.base',
};

/**
 * The exact bytes a checkpoint signature covers (UTF-8 of this canonical JSON).
 *
 * @example
 * ```ts
 * checkpointMessage({ seq: 10, hash, at }); // {"at":"…","hash":"…","seq":10,"type":"warden.audit.checkpoint"}
 * checkpointMessage({ seq: 10, hash, at }, 'base'); // … "type":"warden.audit.base"}
 * ```
 */
export function checkpointMessage(
  cp: Pick<Checkpoint, 'seq' | 'hash' | 'at'>,
  kind: CheckpointKind = 'checkpoint',
): string {
  return canonicalText({ type: MESSAGE_TYPE[kind], seq: cp.seq, hash: cp.hash, at: cp.at });
}

/** First 16 hex digits of SHA-256 over the public key's SPKI DER bytes. */
export function keyId(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256')
    .update(pub.export({ type: 'spki', format: 'der' }))
    .digest('hex')
    .slice(0, 16);
}

export function loadPrivateKey(key: string | KeyObject): KeyObject {
  try {
    const obj = typeof key === 'string' ? createPrivateKey(key) : key;
    if (obj.type !== 'private' || obj.asymmetricKeyType !== 'ed25519')
      throw new Error(`got a ${obj.asymmetricKeyType ?? obj.type} key`);
    return obj;
  } catch (err) {
    throw new AuditError(
      'audit_signing_key_invalid',
      `the checkpoint signing key must be an Ed25519 private key in PEM (${err instanceof Error ? err.message : String(err)}); ` +
        'make one with: openssl genpkey -algorithm ed25519 -out audit-key.pem',
      { cause: err },
    );
  }
}

export function loadPublicKey(key: string | KeyObject): KeyObject {
  try {
    const obj = typeof key === 'string' ? createPublicKey(key) : key.type === 'private' ? createPublicKey(key) : key;
    if (obj.asymmetricKeyType !== 'ed25519') throw new Error(`got a ${obj.asymmetricKeyType ?? obj.type} key`);
    return obj;
  } catch (err) {
    throw new AuditError(
      'audit_signing_key_invalid',
      `the checkpoint verification key must be an Ed25519 public key in PEM (${err instanceof Error ? err.message : String(err)}); ` +
        'derive it with: openssl pkey -in audit-key.pem -pubout -out audit-key.pub',
      { cause: err },
    );
  }
}

export function signCheckpoint(
  cp: Pick<Checkpoint, 'seq' | 'hash' | 'at'>,
  key: KeyObject,
  kind: CheckpointKind = 'checkpoint',
): Checkpoint {
  const signature = sign(null, Buffer.from(checkpointMessage(cp, kind), 'utf8'), key).toString('base64');
  return { seq: cp.seq, hash: cp.hash, at: cp.at, key_id: keyId(key), signature };
}

export function checkpointSignatureValid(cp: Checkpoint, key: KeyObject, kind: CheckpointKind = 'checkpoint'): boolean {
  if (!cp.signature) return false;
  try {
    return verify(null, Buffer.from(checkpointMessage(cp, kind), 'utf8'), key, Buffer.from(cp.signature, 'base64'));
  } catch {
    return false;
  }
}

/** The exact bytes a tie's signature covers (UTF-8 of this canonical JSON). */
export function tieMessage(tie: Pick<Tie, 'by' | 'at' | 'heads'>): string {
  const heads = tie.heads.map(({ chain, seq, hash }) => ({ chain, seq, hash }));
  return canonicalText({ type: 'warden.audit.tie', by: tie.by, at: tie.at, heads });
}

/** `tie` with its signature (or marked unsigned, without a key). */
export function signTie(tie: Pick<Tie, 'by' | 'at' | 'heads'>, key: KeyObject | undefined): Tie {
  if (!key) return { ...tie, key_id: null, signature: null };
  const signature = sign(null, Buffer.from(tieMessage(tie), 'utf8'), key).toString('base64');
  return { ...tie, key_id: keyId(key), signature };
}

export function tieSignatureValid(tie: Tie, key: KeyObject): boolean {
  if (!tie.signature) return false;
  try {
    return verify(null, Buffer.from(tieMessage(tie), 'utf8'), key, Buffer.from(tie.signature, 'base64'));
  } catch {
    return false;
  }
}
