import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { ConfigError, describeError } from '../common/index.js';
import { JsoncSyntaxError, parseJsonc, spanKey, type Span } from './jsonc.js';

/**
 * The MCP client configs `warden init` reads and rewrites: Claude Desktop's
 * `claude_desktop_config.json` and Cursor's `mcp.json` (top-level `mcpServers`), and VS Code's
 * `mcp.json` (top-level `servers`, with `type` and `inputs`).
 */
export type ClientKind = 'claude-desktop' | 'cursor' | 'vscode';

export const CLIENT_NAMES: Record<ClientKind, string> = {
  'claude-desktop': 'Claude Desktop',
  cursor: 'Cursor',
  vscode: 'VS Code',
};

export interface ClientConfig {
  kind: ClientKind;
  /** Absolute path. */
  path: string;
  text: string;
  doc: Record<string, unknown>;
  /** `mcpServers` or `servers`. */
  key: 'mcpServers' | 'servers';
  servers: Record<string, Record<string, unknown>>;
  /** The file held comments (JSONC). */
  comments: boolean;
  /** Where each top-level value and each server entry sit in {@link text}. */
  spans: Map<string, Span>;
  /** For a project's `.cursor/mcp.json` or `.vscode/mcp.json`: the project folder (the servers' cwd there). */
  projectDir?: string;
}

/** Where the clients keep their configs on this platform, in the order `warden init` looks. */
export function candidatePaths(
  env: NodeJS.ProcessEnv,
  cwd: string,
  platform: NodeJS.Platform = process.platform,
): { kind: ClientKind; path: string }[] {
  const home = env['HOME'] || env['USERPROFILE'] || '';
  const appData = env['APPDATA'] || join(home, 'AppData', 'Roaming');
  const xdg = env['XDG_CONFIG_HOME'] || join(home, '.config');
  const userDir =
    platform === 'darwin' ? join(home, 'Library', 'Application Support') : platform === 'win32' ? appData : xdg;
  return [
    { kind: 'claude-desktop', path: join(userDir, 'Claude', 'claude_desktop_config.json') },
    { kind: 'cursor', path: join(cwd, '.cursor', 'mcp.json') },
    { kind: 'vscode', path: join(cwd, '.vscode', 'mcp.json') },
    { kind: 'cursor', path: join(home, '.cursor', 'mcp.json') },
    { kind: 'vscode', path: join(userDir, 'Code', 'User', 'mcp.json') },
  ];
}

/** The kind a file's name and place suggest; the content decides when they do not. */
function kindFromPath(path: string): ClientKind | undefined {
  if (basename(path) === 'claude_desktop_config.json') return 'claude-desktop';
  const parent = basename(dirname(path));
  if (parent === '.cursor') return 'cursor';
  if (parent === '.vscode' || (parent === 'User' && basename(path) === 'mcp.json')) return 'vscode';
  return undefined;
}

/**
 * Reads and recognises one client config.
 * @throws ConfigError naming the file and the fix: unreadable, not JSON (with line and column), an
 *   unknown shape, or no servers.
 */
export function readClientConfig(file: string, forced?: ClientKind): ClientConfig {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new ConfigError(
      missing ? 'client_config_not_found' : 'client_config_unreadable',
      `cannot read the client config ${path}: ${missing ? 'no such file' : describeError(err)}. ` +
        'Fix: pass --from with the path of claude_desktop_config.json, .cursor/mcp.json or .vscode/mcp.json.',
      { cause: err },
    );
  }
  let parsed: ReturnType<typeof parseJsonc>;
  try {
    parsed = parseJsonc(text);
  } catch (err) {
    if (!(err instanceof JsoncSyntaxError)) throw err;
    throw new ConfigError(
      'client_config_syntax',
      `the client config ${path} is not valid JSON: ${err.message}. ` +
        'Fix: correct it there (your client cannot read it either), then run warden init again.',
      { cause: err },
    );
  }
  const doc = parsed.value;
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ConfigError(
      'client_config_shape',
      `the client config ${path} holds ${Array.isArray(doc) ? 'a list' : JSON.stringify(doc)}, ` +
        `not an object. ${SHAPES}`,
    );
  }
  const obj = doc as Record<string, unknown>;
  const key = 'mcpServers' in obj ? 'mcpServers' : 'servers' in obj ? 'servers' : undefined;
  if (!key) {
    const hint =
      'mcp' in obj
        ? ' It looks like VS Code settings.json: move its "mcp.servers" into .vscode/mcp.json, or pass that file.'
        : '';
    throw new ConfigError(
      'client_config_shape',
      `the client config ${path} has neither "mcpServers" nor "servers" at the top level ` +
        `(keys: ${Object.keys(obj).join(', ') || 'none'}). ${SHAPES}${hint}`,
    );
  }
  const servers = obj[key];
  if (!servers || typeof servers !== 'object' || Array.isArray(servers)) {
    throw new ConfigError(
      'client_config_shape',
      `the client config ${path}: "${key}" must be an object of named servers. ${SHAPES}`,
    );
  }
  for (const [name, s] of Object.entries(servers)) {
    if (!s || typeof s !== 'object' || Array.isArray(s)) {
      throw new ConfigError(
        'client_config_shape',
        `the client config ${path}: ${key}.${name} must be an object (command, args, env or url, headers). ${SHAPES}`,
      );
    }
  }
  if (Object.keys(servers).length === 0) {
    throw new ConfigError(
      'client_config_no_servers',
      `the client config ${path} lists no MCP servers under "${key}", so there is nothing for Warden to front. ` +
        'Fix: add your servers to it first, or pass --from with the config that has them.',
    );
  }
  const kind = forced ?? kindFromPath(path) ?? (key === 'servers' ? 'vscode' : 'cursor');
  const parent = basename(dirname(path));
  const projectDir = parent === '.cursor' || parent === '.vscode' ? dirname(dirname(path)) : undefined;
  const isUserDir = projectDir !== undefined && resolve(projectDir) === resolve(process.env['HOME'] ?? '~nohome');
  return {
    kind,
    path,
    text,
    doc: obj,
    key,
    servers: servers as Record<string, Record<string, unknown>>,
    comments: parsed.comments,
    spans: parsed.spans,
    ...(projectDir && !isUserDir ? { projectDir } : {}),
  };
}

const SHAPES =
  'Fix: pass --from with a Claude Desktop claude_desktop_config.json or a Cursor mcp.json ' +
  '({"mcpServers": {"name": {"command": ..., "args": [...]}}}), ' +
  'or a VS Code mcp.json ({"servers": {"name": {"type": "stdio", "command": ...}}}).';

/**
 * A client config entry that already launches Warden: `npx -y mcp-warden serve`, `warden serve`,
 * `node …/dist/cli/main.js serve`.
 */
export function wardenLaunch(server: Record<string, unknown>): { config?: string } | undefined {
  const command = typeof server['command'] === 'string' ? server['command'] : '';
  const args = Array.isArray(server['args']) ? server['args'].filter((a): a is string => typeof a === 'string') : [];
  const words = [command, ...args];
  const isWarden =
    words.some((w) => /^mcp-warden(@.*)?$/.test(w) || /(^|[\\/])mcp-warden[\\/]dist[\\/]cli[\\/]main\.js$/.test(w)) ||
    /(^|[\\/])(mcp-)?warden(\.cmd)?$/.test(command);
  if (!isWarden || !args.includes('serve')) return undefined;
  const i = args.findIndex((a) => a === '--config' || a === '-c');
  const inline = args.find((a) => a.startsWith('--config='));
  const config = i >= 0 ? args[i + 1] : inline?.slice('--config='.length);
  return config ? { config } : {};
}

/** One server as Warden's config will hold it, and what the client entry that launches Warden needs for it. */
export interface ConvertedServer {
  name: string;
  /** The name in the client config. */
  original: string;
  /** The entry for warden.yaml's mcpServers. */
  entry: Record<string, unknown>;
  /** Values Warden reads from its environment, by variable name: set in the launch entry's env. */
  env: Record<string, { value: string; secret: boolean; note: string }>;
  envFile?: string;
  notes: string[];
}

export interface Conversion {
  servers: ConvertedServer[];
  /** Entries Warden cannot front (SSE, unknown transport): they stay in the client config as they are. */
  kept: { name: string; why: string }[];
  /** Entries that already launch Warden. */
  wardenEntries: { name: string; config?: string }[];
  /** Every variable the launch entry sets, merged across servers. */
  env: Record<string, string>;
  /** The subset of {@link env} whose values are secrets (masked when printed). */
  secrets: string[];
  envFiles: string[];
}

// Keys a client understands that Warden has no use for (they are dropped, with a note).
const IGNORED_KEYS = new Set([
  'type',
  'description',
  'autoApprove',
  'alwaysAllow',
  'timeout',
  'gallery',
  'version',
  'dev',
  'sandbox',
  'sandboxEnabled',
  'transportType',
  'auth',
  'oauth',
  'trust',
  'includeTools',
  'excludeTools',
  'tools',
]);

const SECRET_NAME = new RegExp(
  '(^|[_-])(api[_-]?key|apikey|key|token|secret|password|passwd|pwd|pass|pat|credentials?|auth|authorization|' +
    'private|cookie|session|dsn|connection[_-]?string)([_-]|$)|secret|token|password|apikey|api_key',
  'i',
);
// Known token prefixes (OpenAI, Stripe, GitHub, GitLab, Slack, AWS, Google), a JWT, a URL with a password.
const SECRET_VALUES = [
  /^(sk-|sk_|rk_|pk_live|ghp_|gho_|ghu_|ghs_|github_pat_|glpat-|xox[abprs]-|AKIA|ASIA|AIza|ya29\.)/,
  /^eyJ[\w-]{10,}\./,
  /:\/\/[^/@\s]+:[^/@\s]+@/,
];

/** Whether a value should stay out of warden.yaml (an env var or header holding a credential). */
export function looksSecret(name: string, value: string): boolean {
  if (value === '') return false;
  return SECRET_NAME.test(name) || SECRET_VALUES.some((re) => re.test(value));
}

const PLACEHOLDER = /\$\{([^}]+)\}/g;

/**
 * Converts a client config's servers to Warden's `mcpServers`.
 *
 * Values are carried so that warden.yaml holds no credential and the client keeps resolving what
 * it resolves today. References are written `${NAME:-}` (empty when unset): the client's Warden
 * entry always sets them, and a `warden serve --http` started by hand for the dashboard, which
 * has not got the client's secrets, still starts. A client placeholder (`${env:NAME}`,
 * `${input:id}`, `${workspaceFolder}`) becomes such a reference, and the launch entry's env maps
 * NAME back to the original placeholder, so the client fills it in and hands it to Warden. A
 * literal value that looks like a secret (by its name, or a token's shape) moves into the launch
 * entry's env the same way. Other values are copied as they are.
 */
export function convertServers(client: ClientConfig): Conversion {
  const out: Conversion = { servers: [], kept: [], wardenEntries: [], env: {}, secrets: [], envFiles: [] };
  const taken = new Map<string, string>(); // variable -> its value in the launch entry
  const claim = (wanted: string, value: string, secret: boolean): string => {
    let name = sanitizeVar(wanted);
    for (let i = 2; taken.has(name) && taken.get(name) !== value; i++) name = `${sanitizeVar(wanted)}_${i}`;
    taken.set(name, value);
    out.env[name] = value;
    if (secret && !out.secrets.includes(name)) out.secrets.push(name);
    return name;
  };
  const usedNames = new Set<string>();
  for (const [original, raw] of Object.entries(client.servers)) {
    const launch = wardenLaunch(raw);
    if (launch) {
      out.wardenEntries.push({ name: original, ...launch });
      continue;
    }
    const type = typeof raw['type'] === 'string' ? raw['type'] : undefined;
    const url =
      typeof raw['url'] === 'string' ? raw['url'] : typeof raw['serverUrl'] === 'string' ? raw['serverUrl'] : undefined;
    const command = typeof raw['command'] === 'string' ? raw['command'] : undefined;
    if (!command && !url) {
      out.kept.push({ name: original, why: 'it has neither command nor url' });
      continue;
    }
    if (type === 'sse' || (!command && url && /\/sse\/?(\?|$)/.test(url))) {
      out.kept.push({
        name: original,
        why: 'it uses the SSE transport, and Warden reaches remote servers over Streamable HTTP only',
      });
      continue;
    }
    if (type !== undefined && !['stdio', 'http', 'streamable-http', 'streamableHttp'].includes(type)) {
      out.kept.push({ name: original, why: `its type "${type}" is not one Warden fronts (stdio, http)` });
      continue;
    }
    let name = original.replace(/[^A-Za-z0-9_.-]+/g, '-');
    while (usedNames.has(name)) name = `${name}-2`;
    usedNames.add(name);
    const server: ConvertedServer = { name, original, entry: {}, env: {}, notes: [] };
    if (name !== original)
      server.notes.push(`renamed from "${original}" (Warden's server names use letters, digits, _ . -)`);
    const carry = (value: string, field: string, secretName?: string): string => {
      // Client placeholders become Warden references that the launch entry fills in.
      let text = value.replace(PLACEHOLDER, (whole, inner: string) => {
        const wanted = inner.startsWith('env:')
          ? inner.slice(4)
          : inner.startsWith('input:')
            ? inner.slice(6).toUpperCase()
            : inner;
        const v = claim(wanted, whole, false);
        server.env[v] = { value: whole, secret: false, note: `${field}: resolved by ${CLIENT_NAMES[client.kind]}` };
        return `\${${v}:-}`;
      });
      if (secretName && text === value && looksSecret(secretName, value)) {
        const bearer = /^(Bearer|Basic|Token)\s+(\S.*)$/i.exec(value);
        const secret = bearer ? bearer[2]! : value;
        const v = claim(secretName, secret, true);
        server.env[v] = { value: secret, secret: true, note: `${field}: kept out of warden.yaml` };
        text = bearer ? `${bearer[1]} \${${v}:-}` : `\${${v}:-}`;
      }
      return text;
    };
    if (command) {
      server.entry['command'] = carry(command, 'command');
      const args = Array.isArray(raw['args']) ? raw['args'].map(String) : [];
      if (args.length) server.entry['args'] = args.map((a, i) => carry(a, `args[${i}]`));
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries(isObject(raw['env']) ? raw['env'] : {})) {
        if (v === null) continue;
        env[k] = carry(String(v), `env.${k}`, k);
      }
      const envFile = typeof raw['envFile'] === 'string' ? raw['envFile'] : undefined;
      if (envFile) {
        // The client loads the file into Warden's environment (the launch entry gets envFile too);
        // warden.yaml names its variables so that Warden passes them on to this server.
        const names = envFileNames(envFile, client);
        if (names) {
          for (const n of names) env[n] ??= `\${${n}:-}`;
          if (!out.envFiles.includes(envFile)) out.envFiles.push(envFile);
          server.envFile = envFile;
        } else {
          server.notes.push(`envFile ${envFile} could not be read; add its variables to this server's env by hand`);
        }
      }
      if (Object.keys(env).length) server.entry['env'] = env;
      const cwd = typeof raw['cwd'] === 'string' ? carry(raw['cwd'], 'cwd') : client.projectDir;
      // Warden starts servers in warden.yaml's directory unless told otherwise; a project config's
      // servers ran in the project folder.
      if (cwd !== undefined) server.entry['cwd'] = cwd;
    } else {
      server.entry['url'] = carry(url!, 'url');
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(isObject(raw['headers']) ? raw['headers'] : {})) {
        headers[k] = carry(String(v), `headers.${k}`, `${name}_${k}`.toUpperCase());
      }
      if (Object.keys(headers).length) server.entry['headers'] = headers;
    }
    if (raw['disabled'] === true) server.entry['disabled'] = true;
    const dropped = Object.keys(raw).filter(
      (k) => !['command', 'args', 'env', 'envFile', 'cwd', 'url', 'serverUrl', 'headers', 'disabled'].includes(k),
    );
    const unknown = dropped.filter((k) => !IGNORED_KEYS.has(k));
    if (unknown.length || dropped.includes('autoApprove') || dropped.includes('alwaysAllow')) {
      server.notes.push(`not carried over: ${dropped.join(', ')}`);
    }
    out.servers.push(server);
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

function sanitizeVar(name: string): string {
  const s = name.replace(/[^A-Za-z0-9_]+/g, '_').replace(/^_+|_+$/g, '') || 'VALUE';
  return /^[0-9]/.test(s) ? `_${s}` : s;
}

/** Variable names in an env file (`NAME=value` lines, `export` allowed), or undefined when it cannot be read. */
function envFileNames(envFile: string, client: ClientConfig): string[] | undefined {
  const home = process.env['HOME'] ?? '';
  const folder = client.projectDir ?? dirname(client.path);
  const path = envFile.replace(/\$\{(workspaceFolder|userHome)\}/g, (_w, v: string) =>
    v === 'userHome' ? home : folder,
  );
  if (path.includes('${')) return undefined;
  const abs = isAbsolute(path) ? path : join(folder, path);
  if (!existsSync(abs)) return undefined;
  try {
    return readFileSync(abs, 'utf8')
      .split(/\r?\n/)
      .map((l) => /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=/.exec(l)?.[1])
      .filter((n): n is string => !!n);
  } catch {
    return undefined;
  }
}

/** The launch entry `--apply` writes: one server that runs Warden on the generated config. */
export function launchEntry(client: ClientConfig, configPath: string, conversion: Conversion): Record<string, unknown> {
  const entry: Record<string, unknown> = {
    ...(client.kind === 'vscode' ? { type: 'stdio' } : {}),
    command: 'npx',
    args: ['-y', 'mcp-warden', 'serve', '--config', configPath],
  };
  if (Object.keys(conversion.env).length) entry['env'] = { ...conversion.env };
  if (conversion.envFiles.length === 1) entry['envFile'] = conversion.envFiles[0];
  return entry;
}

/**
 * The client config rewritten to launch Warden: the fronted servers replaced by one `warden`
 * entry. Only the servers object's text is replaced; everything else in the file (other keys,
 * `inputs`, comments outside it) stays byte for byte, and so do the entries of servers Warden
 * cannot front, in the file's own indentation and line endings.
 */
export function rewriteClientConfig(client: ClientConfig, configPath: string, conversion: Conversion): string {
  const fronted = new Set(conversion.servers.map((s) => s.original));
  const launchName = Object.keys(client.servers).some((k) => k === 'warden' && !fronted.has(k))
    ? 'mcp-warden'
    : 'warden';
  const eol = client.text.includes('\r\n') ? '\r\n' : '\n';
  const unit = /\n([ \t]+)["}]/.exec(client.text)?.[1] ?? '  ';
  const inner = unit.repeat(2);
  const entries = [
    `${inner}${JSON.stringify(launchName)}: ${compactJson(launchEntry(client, configPath, conversion), unit, inner)}`,
  ];
  for (const name of Object.keys(client.servers)) {
    if (fronted.has(name) || name === launchName) continue;
    const span = client.spans.get(spanKey([client.key, name]))!;
    entries.push(`${inner}${JSON.stringify(name)}: ${client.text.slice(span.start, span.end)}`);
  }
  const span = client.spans.get(spanKey([client.key]))!;
  const servers = `{${eol}${entries.join(`,${eol}`)}${eol}${unit}}`;
  return client.text.slice(0, span.start) + servers.replace(/\r?\n/g, eol) + client.text.slice(span.end);
}

/** JSON laid out as people write client configs: objects one key a line, short lists of strings on one line. */
function compactJson(value: unknown, unit: string, indent: string): string {
  if (Array.isArray(value)) {
    const flat = `[${value.map((v) => JSON.stringify(v)).join(', ')}]`;
    if (value.every((v) => typeof v !== 'object' || v === null) && flat.length + indent.length <= 120) return flat;
    return `[\n${value.map((v) => `${indent}${unit}${compactJson(v, unit, indent + unit)}`).join(',\n')}\n${indent}]`;
  }
  if (value && typeof value === 'object') {
    const items = Object.entries(value).map(
      ([k, v]) => `${indent}${unit}${JSON.stringify(k)}: ${compactJson(v, unit, indent + unit)}`,
    );
    return items.length ? `{\n${items.join(',\n')}\n${indent}}` : '{}';
  }
  return JSON.stringify(value);
}
