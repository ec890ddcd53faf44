import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import {
  fileDigest,
  loadTarball,
  parseJsonPreservingNumbers,
  verifyBundleSignatures,
  type VerificationConfig,
} from '../../src/policy/index.js';
import { tempDir } from '../helpers/warden.js';
import { decisionRego, keyPair, opaBuild, readTar, writeTar, writeTree } from './bundle-helpers.js';

// A `__proto__` key in a signed bundle's data.json. OPA hashes it like any other key; a digest
// that drops it (`obj[key] = …` sets the prototype) lets an attacker add such a key to signed data
// unnoticed, and the bundle loader then hands it to the policy as data.
describe('__proto__ keys in bundle data and signatures', () => {
  const dir = tempDir('proto-sign');
  const data = '{"roles": {"__proto__": {"admin": ["alice"]}, "ops": ["bob"]}}';
  const src = writeTree(join(dir, 'src'), { 'mcp/decision.rego': decisionRego(), 'data.json': data });
  let keys: ReturnType<typeof keyPair>;
  let bundle: string;
  let config: VerificationConfig;

  beforeAll(() => {
    keys = keyPair(dir, 'RS256');
    bundle = opaBuild(src, join(dir, 'signed.tar.gz'), { signingKey: keys.privateKey });
    config = { keys: { default: { algorithm: 'RS256', key: keys.publicPem } } };
  });

  test('the parser keeps the key as an own property', () => {
    const parsed = parseJsonPreservingNumbers(data) as { roles: Record<string, unknown> };
    expect(Object.keys(parsed.roles)).toEqual(['__proto__', 'ops']);
  });

  test('the digest of data.json counts it, exactly as the one opa build signed', async () => {
    const files = await readTar(bundle);
    const token = (JSON.parse(files.get('.signatures.json')!.toString()) as { signatures: string[] }).signatures[0]!;
    const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
    const listed = (payload as { files: { name: string; hash: string; algorithm: string }[] }).files;
    const signed = listed.find((f) => f.name === 'data.json')!;
    expect(fileDigest('data.json', files.get('data.json')!, signed.algorithm)).toBe(signed.hash);
    const loaded = await loadTarball(readFileSync(bundle), { name: 'policy', source: bundle, verification: config });
    expect(Object.keys((loaded.data as { roles: object }).roles)).toEqual(['__proto__', 'ops']);
  });

  test('adding a nested __proto__ key to signed data is refused as a digest mismatch', async () => {
    const plainData = '{"roles": {"ops": ["bob"]}}';
    const plain = writeTree(join(dir, 'plain'), { 'mcp/decision.rego': decisionRego(), 'data.json': plainData });
    const files = await readTar(opaBuild(plain, join(dir, 'plain.tar.gz'), { signingKey: keys.privateKey }));
    await expect(verifyBundleSignatures(files, config, 'genuine')).resolves.toMatchObject({ keyid: 'default' });
    files.set('data.json', Buffer.from('{"roles": {"ops": ["bob"], "__proto__": {"admin": ["mallory"]}}}'));
    const tampered = await readTar(await writeTar(files, join(tempDir('proto-tampered'), 'bundle.tar.gz')));
    await expect(verifyBundleSignatures(tampered, config, 'tampered')).rejects.toThrow(/data\.json: digest mismatch/);
  });
});
