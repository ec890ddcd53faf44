import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import YAML, { type Pair, type Scalar, type YAMLMap, type YAMLSeq } from 'yaml';
import { ConfigError } from '../common/index.js';
import { parseConfig, SHIPPED_POLICY } from '../config/index.js';
import { DEFAULT_ENTRYPOINT } from '../policy/index.js';
import { loadDirectoryBundle, SHIPPED_POLICY_DIR } from '../bundles/index.js';
import {
  candidatePaths,
  CLIENT_NAMES,
  convertServers,
  readClientConfig,
  rewriteClientConfig,
  type ClientConfig,
  type ClientKind,
  type Conversion,
} from './client-config.js';
import { unifiedDiff } from './diff.js';
import { openProgress } from './progress.js';

interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
}

export interface InitOptions {
  from?: string;
  client?: ClientKind;
  out: string;
  apply?: boolean;
  force?: boolean;
  dashboardPort: number;
  progress?: boolean;
}

/** How the printed next steps and the launch entry run Warden. */
const WARDEN = 'npx -y mcp-warden';

/**
 * `warden init`: reads an MCP client's config (Claude Desktop, Cursor, VS Code), writes a
 * warden.yaml that fronts its servers with the shipped policy in monitor mode, an SQLite audit
 * trail and a decision log; with `--apply`, rewrites the client config to launch Warden instead
 * (backup kept, diff printed). Running it again changes nothing.
 * Exit codes: 0 done (or nothing to do), 2 a file could not be read or written (ConfigError).
 */
export function registerInitCommand(program: Command, io: Io, setExit: (code: number) => void): void {
  program
    .command('init')
    .description(
      'write a warden.yaml that fronts the servers of your MCP client (Claude Desktop, Cursor, VS Code), ' +
        'in monitor mode',
    )
    .option('--from <file>', 'the client config to read (default: the one found in its usual place)')
    .addOption(
      new Option('--client <kind>', "read --from as this client's config").choices([
        'claude-desktop',
        'cursor',
        'vscode',
      ]),
    )
    .option('-o, --out <file>', 'the Warden config to write', 'warden.yaml')
    .option('--apply', 'also rewrite the client config to launch Warden (a timestamped .bak copy is kept)')
    .option('--force', 'overwrite an existing --out file that differs (a .bak copy is kept)')
    .option('--dashboard-port <port>', 'the port the printed dashboard command uses', (v) => Number(v), 8780)
    .option('--no-progress', 'no progress bar on stderr')
    .action(async (opts: InitOptions) => {
      setExit(await runInit(opts, io));
    });
}

/** The steps of `warden init`, as the progress bar counts them. */
const STEPS = [
  'reading the client config',
  'converting servers',
  'checking the Warden config',
  'loading the shipped policy',
  'writing files',
];

export async function runInit(
  opts: InitOptions,
  io: Io,
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
): Promise<number> {
  const progress = await openProgress({
    label: STEPS[0]!,
    unit: 'steps',
    total: STEPS.length,
    ...(opts.progress === false ? { enabled: false } : {}),
  });
  const step = (i: number): void => progress.update(i, STEPS[i]);
  try {
    const client = findClientConfig(opts, env, cwd);
    step(1);
    const outPath = resolve(cwd, opts.out);
    const conversion = convertServers(client);
    const lines: string[] = [];

    if (conversion.wardenEntries.length > 0) {
      progress.stop();
      return reportFronted(client, conversion, outPath, io);
    }
    if (conversion.servers.length === 0) {
      throw new ConfigError(
        'client_config_no_servers',
        `the client config ${client.path} has no server Warden can front ` +
          `(${conversion.kept.map((k) => `${k.name}: ${k.why}`).join('; ')}). ` +
          'Fix: Warden fronts stdio servers (command, args) and Streamable HTTP servers (url); ' +
          'pass --from with a config that has some.',
      );
    }
    step(2);
    const yamlText = renderWardenYaml(client, conversion, outPath, opts.dashboardPort);
    // Check it loads as `warden serve` will load it; the variables the client will set are stand-ins here.
    const referenced = [...yamlText.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]!);
    const stand = Object.fromEntries(referenced.map((k) => [k, env[k] || 'set-by-the-client']));
    parseConfig(yamlText, outPath, { ...env, ...stand });
    step(3);
    await loadDirectoryBundle({ name: 'policy', dir: SHIPPED_POLICY_DIR, entrypoint: DEFAULT_ENTRYPOINT });
    step(4);

    lines.push(`read the ${CLIENT_NAMES[client.kind]} config ${client.path}:`);
    for (const s of conversion.servers) {
      const what =
        'command' in s.entry
          ? `stdio  ${[s.entry['command'], ...((s.entry['args'] as string[] | undefined) ?? [])].join(' ')}`
          : `http   ${String(s.entry['url'])}`;
      lines.push(`  ${s.name.padEnd(14)} ${what}`);
      const secrets = Object.entries(s.env)
        .filter(([, v]) => v.secret)
        .map(([k]) => k);
      if (secrets.length)
        lines.push(
          `  ${''.padEnd(14)} secrets kept out of warden.yaml: ${secrets.join(', ')} ` +
            '(warden.yaml reads them as ${VAR})',
        );
      for (const n of s.notes) lines.push(`  ${''.padEnd(14)} note: ${n}`);
    }
    for (const k of conversion.kept)
      lines.push(`  ${k.name.padEnd(14)} not fronted, stays in the client config: ${k.why}`);

    const existing = existsSync(outPath) ? readFileSync(outPath, 'utf8') : undefined;
    if (existing === undefined || existing !== yamlText) {
      if (existing !== undefined && !opts.force) {
        throw new ConfigError(
          'init_output_exists',
          `${outPath} already exists and differs from what warden init would write. ` +
            'Fix: pass --force to replace it (a .bak copy is kept), ' +
            'or --out with another file, or edit it by hand.',
        );
      }
      if (existing !== undefined) lines.push(`backed up ${outPath} to ${backup(outPath)}`);
      mkdirSync(dirname(outPath), { recursive: true });
      writeAtomic(outPath, yamlText, 0o600);
      lines.push(
        `wrote ${outPath}: the shipped policy in monitor mode, audit trail ${join2(outPath, 'data/audit.db')}, ` +
          `decision log ${join2(outPath, 'data/decisions.jsonl')}`,
      );
    } else {
      lines.push(`${outPath} is up to date`);
    }

    const rewritten = rewriteClientConfig(client, outPath, conversion);
    const diff = maskSecrets(
      unifiedDiff(client.text, rewritten, `a/${basename(client.path)}`, `b/${basename(client.path)}`),
      conversion,
    );
    const dashboard = `${WARDEN} serve --config ${quote(outPath)} --http ${opts.dashboardPort}`;
    if (opts.apply) {
      const saved = backup(client.path);
      writeAtomic(client.path, rewritten, statSync(client.path).mode & 0o777);
      step(5);
      progress.stop();
      lines.push(
        `backed up ${client.path} to ${saved}`,
        `rewrote ${client.path} to launch Warden instead (restart ${CLIENT_NAMES[client.kind]} to pick it up):`,
      );
      io.out(lines.join('\n') + '\n' + diff);
      io.out(
        [
          '',
          'Next:',
          `  1. Restart ${CLIENT_NAMES[client.kind]}: its servers now run behind Warden, ` +
            'which logs what the policy would deny and denies nothing yet.',
          `  2. The dashboard (would-denies, sessions, audit trail): ${dashboard}`,
          `     then open http://127.0.0.1:${opts.dashboardPort}/`,
          `  3. When the would-deny list looks right: ${WARDEN} policy enforce --config ${quote(outPath)}, ` +
            `and restart ${CLIENT_NAMES[client.kind]}.`,
          '',
        ].join('\n'),
      );
      return 0;
    }
    step(5);
    progress.stop();
    io.out(lines.join('\n') + '\n');
    io.out(
      [
        '',
        'Next:',
        `  1. Launch Warden from ${CLIENT_NAMES[client.kind]}: run this again with --apply, ` +
          'which makes this change (a backup is kept):',
        ...diff
          .trimEnd()
          .split('\n')
          .map((l) => `     ${l}`),
        `  2. The dashboard (would-denies, sessions, audit trail): ${dashboard}`,
        `     then open http://127.0.0.1:${opts.dashboardPort}/`,
        `  3. When the would-deny list looks right: ${WARDEN} policy enforce --config ${quote(outPath)}`,
        '',
      ].join('\n'),
    );
    return 0;
  } finally {
    progress.stop();
  }
}

function findClientConfig(opts: InitOptions, env: NodeJS.ProcessEnv, cwd: string): ClientConfig {
  if (opts.from) return readClientConfig(resolve(cwd, opts.from), opts.client);
  const candidates = candidatePaths(env, cwd).filter(
    (c) => (!opts.client || c.kind === opts.client) && existsSync(c.path),
  );
  const unique = candidates.filter((c, i) => candidates.findIndex((d) => resolve(d.path) === resolve(c.path)) === i);
  if (unique.length === 0) {
    const looked = candidatePaths(env, cwd).filter((c) => !opts.client || c.kind === opts.client);
    throw new ConfigError(
      'client_config_not_found',
      `found no MCP client config; looked for ${looked.map((c) => c.path).join(', ')}. ` +
        'Fix: pass --from with the path of your claude_desktop_config.json or mcp.json.',
    );
  }
  if (unique.length > 1) {
    throw new ConfigError(
      'client_config_ambiguous',
      `found several MCP client configs: ${unique.map((c) => `${c.path} (${CLIENT_NAMES[c.kind]})`).join(', ')}. ` +
        `Fix: pick one with --from, e.g. warden init --from ${quote(unique[0]!.path)}.`,
    );
  }
  return readClientConfig(unique[0]!.path, unique[0]!.kind);
}

function reportFronted(client: ClientConfig, conversion: Conversion, outPath: string, io: Io): number {
  const entry = conversion.wardenEntries[0]!;
  const config = entry.config ? resolve(dirname(client.path), entry.config) : undefined;
  const lines = [
    `${client.path} already launches Warden ` +
      `(server "${entry.name}"${config ? `, config ${config}` : ''}): nothing changed.`,
  ];
  if (config && !existsSync(config))
    lines.push(
      `warning: ${config} does not exist; Warden will not start. ` +
        'Fix: restore it, or restore the client config from its .bak copy and run warden init again.',
    );
  if (config && resolve(config) !== outPath && existsSync(outPath))
    lines.push(`note: it uses ${config}, not ${outPath}.`);
  const loose = conversion.servers.map((s) => s.original);
  if (loose.length) {
    lines.push(
      `note: ${loose.join(', ')} ${loose.length === 1 ? 'is' : 'are'} listed beside Warden ` +
        'and so not governed by it. ' +
        `Fix: move ${loose.length === 1 ? 'it' : 'them'} into the mcpServers of ${config ?? 'the Warden config'}.`,
    );
  }
  io.out(lines.join('\n') + '\n');
  return 0;
}

/** warden.yaml for the converted servers: the shipped policy in monitor mode, SQLite audit trail, decision log. */
export function renderWardenYaml(
  client: ClientConfig,
  conversion: Conversion,
  outPath: string,
  dashboardPort: number,
): string {
  const servers: Record<string, unknown> = {};
  for (const s of conversion.servers) servers[s.name] = s.entry;
  const doc = new YAML.Document({
    mcpServers: servers,
    // The person at this client: the shipped access.yaml lets a developer see and use every shipped tool.
    identity: { roles: ['developer'] },
    policy: { bundle: SHIPPED_POLICY, mode: 'monitor' },
    audit: { store: 'sqlite:./data/audit.db' },
    decisionLogs: { file: './data/decisions.jsonl' },
  });
  doc.commentBefore = [
    ` Warden's configuration, written by \`warden init\` from ${client.path}`,
    ` (${CLIENT_NAMES[client.kind]}). Warden fronts these servers: every call they get goes through the policy first.`,
    " Relative paths resolve against this file's directory. Reference: schema/warden.schema.json and the README in the",
    ' mcp-warden package.',
  ].join('\n');
  const top = doc.contents as YAMLMap;
  const pair = (map: YAMLMap, key: string): Pair<Scalar, Scalar> =>
    map.items.find((p) => (p.key as Scalar).value === key) as Pair<Scalar, Scalar>;
  const serversMap = pair(top, 'mcpServers').value as unknown as YAMLMap;
  for (const s of conversion.servers) {
    const node = pair(serversMap, s.name);
    const args = (node.value as unknown as YAMLMap).get('args', true) as YAMLSeq | undefined;
    if (args && args.items.length <= 6) args.flow = true;
    const env = Object.entries(s.env);
    const notes = [
      ...(env.some(([, v]) => v.secret)
        ? [
            `\${${env
              .filter(([, v]) => v.secret)
              .map(([k]) => k)
              .join('}, ${')}}: secrets, set in the client config's Warden entry`,
          ]
        : []),
      ...(env.some(([, v]) => !v.secret)
        ? [
            `\${${env
              .filter(([, v]) => !v.secret)
              .map(([k]) => k)
              .join('}, ${')}}: filled in by ${CLIENT_NAMES[client.kind]} when it starts Warden`,
          ]
        : []),
      ...(s.envFile ? [`variables of ${s.envFile}, which ${CLIENT_NAMES[client.kind]} loads for Warden`] : []),
      ...s.notes,
    ];
    if (notes.length) (node.key as Scalar).commentBefore = notes.map((n) => ` ${n}`).join('\n');
  }
  const policy = pair(top, 'policy');
  const policyMap = policy.value as unknown as YAMLMap;
  pair(policyMap, 'bundle').value!.comment =
    ' the policy shipped with Warden, pre-built: no opa needed. Or a directory of your own .rego';
  pair(policyMap, 'mode').value!.comment =
    ' monitor: allow every call, log what the policy would deny. enforce: deny it';
  (policy.key as Scalar).commentBefore = [
    ' Monitor first: the dashboard and the decision log show each would-deny with its rule. When they look right,',
    ` \`${WARDEN} policy enforce --config ${quote(outPath)}\` switches mode to enforce (comments are kept).`,
  ].join('\n');
  pair(pair(top, 'audit').value as unknown as YAMLMap, 'store').value!.comment =
    ' the hash-chained audit trail: `warden audit verify --config <this file>`';
  doc.comment = [
    " The dashboard: Warden serves it over HTTP, from the same audit trail that the client's Warden writes:",
    `   ${WARDEN} serve --config ${quote(outPath)} --http ${dashboardPort}`,
    `   then open http://127.0.0.1:${dashboardPort}/ (loopback only; see docs/http.md for auth).`,
  ].join('\n');
  return doc.toString({ lineWidth: 0 });
}

function join2(configPath: string, rel: string): string {
  return resolve(dirname(configPath), rel);
}

function quote(path: string): string {
  return /^[\w@%+=:,./-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`;
}

/** Copies a file to `<file>.<UTC timestamp>.bak` (never over an older backup); returns the copy's path. */
function backup(path: string): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  let target = `${path}.${stamp}.bak`;
  for (let i = 2; existsSync(target); i++) target = `${path}.${stamp}-${i}.bak`;
  writeFileSync(target, readFileSync(path), { mode: statSync(path).mode & 0o777, flag: 'wx' });
  return target;
}

/** Writes through a temporary file and a rename, so a crash never leaves half a config. */
function writeAtomic(path: string, text: string, mode: number): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

/** The diff as printed: secret values that move into the launch entry are shown as ***. */
function maskSecrets(diff: string, conversion: Conversion): string {
  let out = diff;
  for (const name of conversion.secrets) {
    const value = conversion.env[name];
    if (value && value.length >= 4) out = out.split(JSON.stringify(value).slice(1, -1)).join('***');
  }
  return out;
}
