import { beforeAll, describe, expect, test } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import {
  fileDigest,
  globToRegExp,
  loadTarball,
  verifyBundleSignatures,
  type VerificationConfig,
} from '../../src/policy/index.js';
import { findOpa, loadDirectoryBundle } from '../../src/bundles/index.js';
import { tempDir } from '../helpers/warden.js';
import { decisionRego, keyPair, opaBuild, readTar, writeTar, writeTree } from './bundle-helpers.js';

// Every signed bundle here is built and signed by the real `opa build --signing-key`; Warden must
// accept exactly what OPA would accept and refuse the rest. Data holds the JSON that canonical
// hashing gets wrong most easily: a number written 1.0, HTML characters, U+2028, non-ASCII keys.
const TRICKY_DATA =
  '{"teams": {"payments": {"limit": 1.0, "big": 12345678901234567890, "html": "<a&b>", "sep": "x\\u2028y", "é": true, "z": null, "arr": [1e3, -0, "\\u0001"]}}}';

describe('bundle signatures, as OPA verifies them', () => {
  const dir = tempDir('signing');
  const src = writeTree(join(dir, 'src'), { 'mcp/decision.rego': decisionRego(), 'data.json': TRICKY_DATA });
  const keys: Record<string, ReturnType<typeof keyPair>> = {};
  const bundles: Record<string, string> = {};

  beforeAll(() => {
    for (const alg of ['RS256', 'ES256', 'EdDSA', 'PS256'] as const) {
      keys[alg] = keyPair(dir, alg);
      bundles[alg] = opaBuild(src, join(dir, `${alg}.tar.gz`), {
        signingKey: keys[alg]!.privateKey,
        alg,
        revision: `rev-${alg}`,
      });
    }
    bundles['HS256'] = opaBuild(src, join(dir, 'HS256.tar.gz'), {
      signingKey: 'correct horse battery staple',
      alg: 'HS256',
    });
    bundles['unsigned'] = opaBuild(src, join(dir, 'unsigned.tar.gz'));
    writeFileSync(join(dir, 'claims.json'), JSON.stringify({ scope: 'write', keyid: 'prod' }));
    bundles['scoped'] = opaBuild(src, join(dir, 'scoped.tar.gz'), {
      signingKey: keys['RS256']!.privateKey,
      claimsFile: join(dir, 'claims.json'),
    });
  });

  const config = (alg: string, extra: Partial<VerificationConfig> = {}): VerificationConfig => ({
    keys: { default: { algorithm: alg, key: alg === 'HS256' ? 'correct horse battery staple' : keys[alg]!.publicPem } },
    ...extra,
  });

  test('the canonical digest of data.json and .manifest is the one opa put in the signature', async () => {
    const files = await readTar(bundles['RS256']!);
    const token = (JSON.parse(files.get('.signatures.json')!.toString()) as { signatures: string[] }).signatures[0]!;
    const listed = (
      JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as {
        files: { name: string; hash: string; algorithm: string }[];
      }
    ).files;
    expect(listed.map((f) => f.name).sort()).toEqual(['.manifest', 'data.json', 'mcp/decision.rego', 'policy.wasm']);
    for (const f of listed) expect(fileDigest(f.name, files.get(f.name)!, f.algorithm), f.name).toBe(f.hash);
    // Whitespace and key order do not change a structured file's digest; content does.
    const reverseKeys = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(reverseKeys)
        : v && typeof v === 'object'
          ? Object.fromEntries(
              Object.entries(v)
                .reverse()
                .map(([k, x]) => [k, reverseKeys(x)]),
            )
          : v;
    const reordered = Buffer.from(JSON.stringify(reverseKeys(JSON.parse(files.get('.manifest')!.toString())), null, 4));
    expect(fileDigest('.manifest', reordered, 'SHA-256')).toBe(listed.find((f) => f.name === '.manifest')!.hash);
    expect(fileDigest('policy.wasm', files.get('policy.wasm')!, 'SHA-256')).toBe(
      createHash('sha256').update(files.get('policy.wasm')!).digest('hex'),
    );
  });

  test.each(['RS256', 'ES256', 'EdDSA', 'PS256', 'HS256'])('%s: a bundle signed by opa build verifies', async (alg) => {
    const files = await readTar(bundles[alg]!);
    const verified = await verifyBundleSignatures(files, config(alg), bundles[alg]!);
    expect(verified).toMatchObject({ keyid: 'default', scope: '' });
    expect([...verified.files].sort()).toEqual(['.manifest', 'data.json', 'mcp/decision.rego', 'policy.wasm']);
    const loaded = await loadTarball(readFileSync(bundles[alg]!), {
      name: 'policy',
      source: bundles[alg]!,
      verification: config(alg),
    });
    expect(loaded.signature?.keyid).toBe('default');
    expect((loaded.data as { teams: { payments: { limit: number } } }).teams.payments.limit).toBe(1);
  });

  const tamper = async (edit: (files: Map<string, Buffer>) => void): Promise<Map<string, Buffer>> => {
    const files = await readTar(bundles['RS256']!);
    edit(files);
    // Through a real tarball, as an attacker would ship it.
    return readTar(await writeTar(files, join(tempDir('tampered'), 'bundle.tar.gz')));
  };

  test.each<[string, (files: Map<string, Buffer>) => void, RegExp]>([
    [
      'policy.wasm edited',
      (f) => f.set('policy.wasm', Buffer.concat([f.get('policy.wasm')!, Buffer.from([0])])),
      /policy\.wasm: digest mismatch/,
    ],
    [
      'data.json value changed',
      (f) => f.set('data.json', Buffer.from(f.get('data.json')!.toString().replace('1.0', '1000000'))),
      /data\.json: digest mismatch/,
    ],
    [
      'data.json number rewritten 1.0 -> 1',
      (f) => f.set('data.json', Buffer.from(f.get('data.json')!.toString().replace('1.0', '1'))),
      /data\.json: digest mismatch/,
    ],
    [
      '.manifest revision changed',
      (f) => f.set('.manifest', Buffer.from(f.get('.manifest')!.toString().replace('rev-RS256', 'rev-evil'))),
      /\.manifest: digest mismatch/,
    ],
    [
      'a file added',
      (f) => f.set('mcp/extra/data.json', Buffer.from('{"x":1}')),
      /file mcp\/extra\/data\.json not included in bundle signature/,
    ],
    [
      'a file removed',
      (f) => f.delete('mcp/decision.rego'),
      /\[mcp\/decision\.rego\] specified in bundle signatures but not found/,
    ],
    [
      'signatures removed',
      (f) => f.delete('.signatures.json'),
      /has no \.signatures\.json but policy\.verification is configured/,
    ],
    [
      'signature swapped for one over other content',
      (f) => {
        const [h, , s] = (
          JSON.parse(f.get('.signatures.json')!.toString()) as { signatures: string[] }
        ).signatures[0]!.split('.');
        const payload = Buffer.from(JSON.stringify({ files: [] })).toString('base64url');
        f.set('.signatures.json', Buffer.from(JSON.stringify({ signatures: [`${h}.${payload}.${s}`] })));
      },
      /does not verify with key "default"/,
    ],
  ])('refused: %s', async (_name, edit, message) => {
    const files = await tamper(edit);
    await expect(verifyBundleSignatures(files, config('RS256'), 'tampered')).rejects.toThrow(message);
  });

  test('reformatting data.json (whitespace, key order) keeps the signature valid, as in OPA', async () => {
    const files = await tamper((f) =>
      f.set(
        'data.json',
        Buffer.from(JSON.stringify(JSON.parse(f.get('data.json')!.toString()), null, 3).replace('1', '1')),
      ),
    );
    // JSON.stringify turned 1.0 into 1: that IS a content change for OPA's hash (json.Number).
    await expect(verifyBundleSignatures(files, config('RS256'), 'reformatted')).rejects.toThrow(
      /data\.json: digest mismatch/,
    );
    const same = await tamper((f) =>
      f.set('data.json', Buffer.from(`\n  ${f.get('data.json')!.toString().trim()}  \n`)),
    );
    await expect(verifyBundleSignatures(same, config('RS256'), 'padded')).resolves.toMatchObject({ keyid: 'default' });
  });

  test('unsigned bundle: refused when verification is configured, loaded when not', async () => {
    const files = await readTar(bundles['unsigned']!);
    await expect(verifyBundleSignatures(files, config('RS256'), 'unsigned')).rejects.toMatchObject({
      code: 'policy_signature_missing',
    });
    await expect(
      loadTarball(readFileSync(bundles['unsigned']!), { name: 'p', source: 'unsigned' }),
    ).resolves.toMatchObject({ name: 'p' });
  });

  test('the wrong key, the wrong algorithm or an unknown key id is refused', async () => {
    const files = await readTar(bundles['RS256']!);
    await expect(
      verifyBundleSignatures(files, { keys: { default: { algorithm: 'RS256', key: keys['PS256']!.publicPem } } }, 'b'),
    ).rejects.toThrow(/does not verify/);
    await expect(
      verifyBundleSignatures(files, { keys: { default: { algorithm: 'RS512', key: keys['RS256']!.publicPem } } }, 'b'),
    ).rejects.toThrow(/does not verify/);
    await expect(
      verifyBundleSignatures(files, { keys: { other: { algorithm: 'RS256', key: keys['RS256']!.publicPem } } }, 'b'),
    ).rejects.toThrow(/no key "default"/);
    // A configured keyid wins over the token's kid.
    await expect(
      verifyBundleSignatures(
        files,
        { keyid: 'pinned', keys: { pinned: { algorithm: 'RS256', key: keys['RS256']!.publicPem } } },
        'b',
      ),
    ).resolves.toMatchObject({ keyid: 'pinned' });
    const hs = await readTar(bundles['HS256']!);
    await expect(
      verifyBundleSignatures(hs, { keys: { default: { algorithm: 'HS256', key: 'wrong secret' } } }, 'b'),
    ).rejects.toThrow(/does not verify/);
  });

  test('scope and the keyid claim (opa build --claims-file)', async () => {
    const files = await readTar(bundles['scoped']!);
    const key = { algorithm: 'RS256', key: keys['RS256']!.publicPem };
    // No kid header with claims: the deprecated keyid claim names the key.
    await expect(verifyBundleSignatures(files, { keys: { prod: key }, scope: 'write' }, 'b')).resolves.toMatchObject({
      keyid: 'prod',
      scope: 'write',
    });
    await expect(
      verifyBundleSignatures(files, { keys: { prod: { ...key, scope: 'write' } } }, 'b'),
    ).resolves.toMatchObject({ scope: 'write' });
    await expect(verifyBundleSignatures(files, { keys: { prod: key } }, 'b')).rejects.toThrow(/scope mismatch/);
    await expect(verifyBundleSignatures(files, { keys: { prod: key }, scope: 'read' }, 'b')).rejects.toThrow(
      /scope mismatch/,
    );
  });

  test('a directory signed with opa sign --bundle . is verified before it is compiled; an edit after signing is refused', async () => {
    const signedDir = writeTree(join(dir, 'signed-dir'), {
      'mcp/decision.rego': decisionRego(),
      'data.json': TRICKY_DATA,
    });
    // opa sign (no claims): no kid; with a single key configured, that key is used (as opa run --verification-key).
    execFileSync(findOpa(), ['sign', '--signing-key', keys['RS256']!.privateKey, '--bundle', '.'], { cwd: signedDir });
    const single = { keys: { ci: { algorithm: 'RS256', key: keys['RS256']!.publicPem } } };
    const loaded = await loadDirectoryBundle({
      name: 'p',
      dir: signedDir,
      entrypoint: 'mcp/decision',
      verification: single,
    });
    expect(loaded.signature).toMatchObject({ keyid: 'ci', files: ['data.json', 'mcp/decision.rego'] });
    expect(loaded.wasm).toBeDefined();
    writeFileSync(join(signedDir, 'mcp/decision.rego'), decisionRego({ deny: 'echo' }));
    await expect(
      loadDirectoryBundle({ name: 'p', dir: signedDir, entrypoint: 'mcp/decision', verification: single }),
    ).rejects.toThrow(/mcp\/decision\.rego: digest mismatch/);
  });

  // Issue 11, break 2: only the root's .signatures.json is the signature; opa build loads every other
  // .json of a directory without .manifest as data, so a file merely named like it must be signed too.
  describe('a signed directory without .manifest: every file opa build would load must be signed', () => {
    const signedDir = (name: string): { dir: string; verification: VerificationConfig } => {
      const d = writeTree(join(dir, name), { 'mcp/decision.rego': decisionRego({ deny: 'echo' }), 'data.json': '{}' });
      execFileSync(findOpa(), ['sign', '--signing-key', keys['RS256']!.privateKey, '--bundle', '.'], { cwd: d });
      return { dir: d, verification: { keys: { ci: { algorithm: 'RS256', key: keys['RS256']!.publicPem } } } };
    };
    const load = (d: { dir: string; verification: VerificationConfig }): Promise<unknown> =>
      loadDirectoryBundle({ name: 'p', dir: d.dir, entrypoint: 'mcp/decision', verification: d.verification });

    test.each([
      ['zzsignatures.json', '{"exempt": {"echo": true}}'],
      ['signatures.json', '{"exempt": {"echo": true}}'],
      ['sub/.signatures.json', '{"signatures": []}'],
      ['extra/data.json', '{"exempt": {"echo": true}}'],
      ['extra/notes.yaml', 'exempt: {echo: true}\n'],
      ['mcp/override.rego', 'package mcp.override\n\nx := 1\n'],
    ])('an unsigned %s added after signing is refused, naming the file', async (path, text) => {
      const signed = signedDir(`uncovered-${path.replace(/[/.]/g, '-')}`);
      await expect(load(signed)).resolves.toMatchObject({ signature: { keyid: 'ci' } });
      writeTree(signed.dir, { [path]: text });
      const refused = load(signed);
      await expect(refused).rejects.toMatchObject({ code: 'policy_signature_invalid' });
      await expect(refused).rejects.toThrow(`file ${path} not included in bundle signature`);
    });

    test('the same file inside a signed tarball is refused too, as opa build --verification-key does', async () => {
      const files = await tamper((f) => f.set('zzsignatures.json', Buffer.from('{"exempt": {"echo": true}}')));
      await expect(verifyBundleSignatures(files, config('RS256'), 'b')).rejects.toThrow(
        'file zzsignatures.json not included in bundle signature',
      );
      const nested = await tamper((f) => f.set('sub/.signatures.json', Buffer.from('{"signatures": []}')));
      await expect(verifyBundleSignatures(nested, config('RS256'), 'b')).rejects.toThrow(
        'file sub/.signatures.json not included in bundle signature',
      );
    });

    test('exclude_files cannot exempt a file Warden loads: an excluded data file is refused', async () => {
      const signed = signedDir('excluded-data');
      writeTree(signed.dir, { 'extra/data.json': '{"exempt": {"echo": true}}' });
      const verification = { ...signed.verification, excludeFiles: ['extra/*'] };
      const refused = loadDirectoryBundle({ name: 'p', dir: signed.dir, entrypoint: 'mcp/decision', verification });
      await expect(refused).rejects.toThrow(/extra\/data\.json matches exclude_files pattern "extra\/\*", but Warden/);
      const files = await tamper((f) => f.set('extra/data.json', Buffer.from('{"exempt": {"echo": true}}')));
      const excluding = config('RS256', { excludeFiles: ['extra/*'] });
      await expect(verifyBundleSignatures(files, excluding, 'b')).rejects.toThrow(/extra\/data\.json matches exclude/);
    });
  });

  test('exclude_files leaves matching files out, with Go filepath.Match globs', async () => {
    const files = await tamper((f) => f.set('notes/README.md', Buffer.from('not signed')));
    await expect(verifyBundleSignatures(files, config('RS256'), 'b')).rejects.toThrow(/notes\/README\.md not included/);
    await expect(
      verifyBundleSignatures(files, config('RS256', { excludeFiles: ['notes/*.md'] }), 'b'),
    ).resolves.toMatchObject({ excluded: ['notes/README.md'] });
    expect(globToRegExp('*.md').test('notes/README.md')).toBe(false);
    expect(globToRegExp('notes/[A-Z]*.md').test('notes/README.md')).toBe(true);
    expect(globToRegExp('notes/[^A-Z]*.md').test('notes/README.md')).toBe(false);
    expect(globToRegExp('a?c').test('a/c')).toBe(false);
  });
});
