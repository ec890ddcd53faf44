import { afterEach, describe, expect, test } from 'vitest';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/index.js';
import {
  describesBuild,
  loadDirectoryBundle,
  readBundleFile,
  SHIPPED_BUNDLE_FILE,
  SHIPPED_BUNDLE_INFO,
  SHIPPED_POLICY_DIR,
} from '../../src/bundles/index.js';
import { OPTIONAL_ENTRYPOINTS } from '../../src/policy/index.js';
import { tempDir } from '../helpers/warden.js';
import type { ShippedBundleInfo } from '../../src/bundles/index.js';

// `npm run build` compiles policy/ into dist/policy/shipped.tar.gz with the real opa; serving the
// unchanged shipped policy then needs no opa (an npm install has none). Here opa is made
// unavailable by pointing WARDEN_OPA at a file that does not exist, which findOpa refuses outright.
describe('the pre-built shipped policy', () => {
  const saved = process.env['WARDEN_OPA'];
  afterEach(() => {
    if (saved === undefined) delete process.env['WARDEN_OPA'];
    else process.env['WARDEN_OPA'] = saved;
  });

  test('serves policy/ without opa: the same bundle opa built, with the directory revision', async () => {
    const info = JSON.parse(readFileSync(SHIPPED_BUNDLE_INFO, 'utf8')) as { revision: string; entrypoints: string[] };
    expect(info.entrypoints).toEqual(expect.arrayContaining(['mcp/decision', 'mcp/workflow/status']));
    process.env['WARDEN_OPA'] = '/nonexistent/opa';
    const loaded = await loadDirectoryBundle({ name: 'policy', dir: SHIPPED_POLICY_DIR, entrypoint: 'mcp/decision' });
    const prebuilt = await readBundleFile(SHIPPED_BUNDLE_FILE);
    expect(Buffer.from(loaded.wasm!).equals(Buffer.from(prebuilt.wasm))).toBe(true);
    expect(loaded.revision).toBe(info.revision);
    expect(loaded.source).toBe(SHIPPED_POLICY_DIR);
  });

  test('a changed copy is compiled, so without opa it fails saying how to get opa', async () => {
    const dir = tempDir('shipped-copy');
    cpSync(SHIPPED_POLICY_DIR, dir, { recursive: true });
    process.env['WARDEN_OPA'] = '/nonexistent/opa';
    // An unchanged copy matches by content, wherever it is.
    await expect(loadDirectoryBundle({ name: 'policy', dir, entrypoint: 'mcp/decision' })).resolves.toMatchObject({
      source: dir,
    });
    writeFileSync(join(dir, 'mcp', 'extra.rego'), 'package mcp.extra\n\nx := 1\n');
    await expect(loadDirectoryBundle({ name: 'policy', dir, entrypoint: 'mcp/decision' })).rejects.toThrow(
      /WARDEN_OPA=\/nonexistent\/opa is not an executable file/,
    );
    delete process.env['WARDEN_OPA'];
    const withOpa = await loadDirectoryBundle({ name: 'policy', dir, entrypoint: 'mcp/decision' });
    expect(withOpa.revision).not.toBe(JSON.parse(readFileSync(SHIPPED_BUNDLE_INFO, 'utf8')).revision);
  });

  test('a bundle built by a Warden that looked for other optional entrypoints is compiled again', () => {
    const info = JSON.parse(readFileSync(SHIPPED_BUNDLE_INFO, 'utf8')) as ShippedBundleInfo;
    // The build compiled in every optional entrypoint policy/ defines, mcp/visible among them.
    expect(info.entrypoints).toContain('mcp/visible');
    expect(describesBuild(info, info.digest, 'mcp/decision')).toBe(true);
    const older = { ...info, optional_entrypoints: OPTIONAL_ENTRYPOINTS.slice(0, -1) };
    expect(describesBuild(older, info.digest, 'mcp/decision')).toBe(false);
    const { optional_entrypoints: _unknown, ...undescribed } = info;
    expect(describesBuild(undescribed as ShippedBundleInfo, info.digest, 'mcp/decision')).toBe(false);
    expect(describesBuild(info, 'another digest', 'mcp/decision')).toBe(false);
  });

  test("policy.bundle: builtin:shipped names the package's policy/, wherever the config is", () => {
    const config = parseConfig(
      'mcpServers: { a: { url: "http://127.0.0.1:1/mcp" } }\n' +
        'policy: { bundle: builtin:shipped }\naudit: { store: "memory:" }\n',
      '/somewhere/else/warden.yaml',
    );
    expect(config.policy.bundle).toBe(SHIPPED_POLICY_DIR);
  });
});
