import { existsSync, readFileSync, statSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject } from 'ajv';
import YAML from 'yaml';
import { ConfigError, describeError } from '../common/index.js';
import { expandEnv, formatPath } from './env.js';
import type {
  AuthConfig,
  BundleLimits,
  DecisionLogServiceConfig,
  HttpConfig,
  PolicyBundleConfig,
  PolicyVerificationConfig,
  ServerConfig,
  WardenConfig,
} from './types.js';

const SCHEMA_URL = new URL('../../schema/warden.schema.json', import.meta.url);

/**
 * 8 KiB, the request line common HTTP servers accept (nginx's large_client_header_buffers, Apache's
 * LimitRequestLine): far above real resource URIs, and little work per URI for every template.
 */
const DEFAULT_MAX_URI_LENGTH = 8192;

/**
 * `policy.bundle: builtin:shipped` names the policy shipped in this package (its `policy/`), so a
 * config written by `warden init` does not depend on where npm or npx put the package. Served from
 * the pre-built Wasm bundle when its sources are unchanged (src/policy/shipped.ts).
 */
export const SHIPPED_POLICY = 'builtin:shipped';
const SHIPPED_POLICY_DIR = fileURLToPath(new URL('../../policy', import.meta.url));

/**
 * The decision entrypoint when `policy.entrypoint` is not set (`data.mcp.decision`). Defined here,
 * where config defaults live, since config may not import policy; the policy part re-exports it.
 */
export const DEFAULT_ENTRYPOINT = 'mcp/decision';

/** The JSON Schema every config is validated against (shipped as `schema/warden.schema.json`). */
export const CONFIG_SCHEMA: Record<string, unknown> = JSON.parse(readFileSync(SCHEMA_URL, 'utf8'));

/** `session` when a config sets none: what readers of the trail assume without a config, too. */
export const SESSION_DEFAULTS: Readonly<{ historyWindow: number; resultMaxChars: number }> = Object.freeze({
  historyWindow: 100,
  resultMaxChars: 512,
});

// strictRequired is off only because oneOf branches name keys declared by the parent schema.
const ajv = new Ajv({
  allErrors: true,
  verbose: true,
  strict: true,
  strictRequired: false,
  strictTuples: false,
  allowUnionTypes: true,
});
const validate = ajv.compile(CONFIG_SCHEMA);

/**
 * Reads, expands, validates and freezes a Warden config file (YAML or JSON).
 *
 * @example
 * ```ts
 * const config = loadConfig('examples/warden.yaml');
 * config.servers.map((s) => s.name); // ['crm', 'payments', 'ci', 'ops']
 * ```
 * @throws ConfigError naming the key path and the fix.
 */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): WardenConfig {
  const path = resolve(file);
  if (!existsSync(path)) {
    throw new ConfigError(
      'config_not_found',
      `config file not found: ${path}. Fix: pass --config with the path of your warden.yaml (see examples/warden.yaml).`,
    );
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError('config_unreadable', `cannot read config file ${path}: ${describeError(err)}`, {
      cause: err,
    });
  }
  return parseConfig(text, path, env);
}

/** Like {@link loadConfig} for a document already in memory; `source` names it and anchors relative paths. */
export function parseConfig(text: string, source: string, env: NodeJS.ProcessEnv = process.env): WardenConfig {
  let raw: unknown;
  try {
    raw = extname(source) === '.json' ? JSON.parse(text) : YAML.parse(text, { prettyErrors: true });
  } catch (err) {
    throw new ConfigError(
      'config_syntax',
      `config file ${source} is not valid ${extname(source) === '.json' ? 'JSON' : 'YAML'}: ${describeError(err)}`,
      { cause: err },
    );
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(
      'config_invalid',
      `config file ${source} must hold an object with at least mcpServers and policy. See examples/warden.yaml.`,
    );
  }
  precheckServers(raw as Record<string, unknown>, source);
  if (!validate(raw)) throw new ConfigError('config_invalid', describeSchemaErrors(validate.errors ?? [], source));
  const expanded = expandEnv(raw, env) as RawConfig;
  return derive(expanded, source);
}

interface RawServer {
  command?: string;
  args?: string[];
  env?: Record<string, string>;
  cwd?: string;
  url?: string;
  headers?: Record<string, string>;
  prefix?: string;
  timeoutMs?: number;
  tools?: { onChange?: 'deny' | 'monitor' | 'accept' };
  disabled?: boolean;
}
interface RawConfig {
  instance?: string;
  mcpServers: Record<string, RawServer>;
  policy: {
    bundle?: string;
    entrypoint?: string;
    mode?: 'enforce' | 'monitor';
    watch?: boolean;
    statusFile?: string;
    evaluation?: { timeoutMs?: number; maxMemoryMb?: number };
    bundles?: Record<string, RawPolicyBundle>;
    services?: Record<string, RawBundleService>;
    verification?: RawVerification;
    limits?: { compressedBytes?: number | string; uncompressedBytes?: number | string; files?: number };
  };
  identity?: { sub?: string; roles?: string[]; claims?: Record<string, unknown> };
  session?: { historyWindow?: number; resultMaxChars?: number; tenantClaim?: string };
  limits?: { maxUriLength?: number; argumentsMaxDepth?: number; argumentsMaxBytes?: number | string };
  audit?: {
    store?: string;
    onFailure?: 'deny' | 'allow';
    synchronous?: 'full' | 'normal';
    redact?: string[];
    redactKey?: string;
    resultMaxChars?: number;
    checkpointEvery?: number;
    signingKey?: string;
    retention?: { maxAgeDays?: number; archiveDir?: string };
    chain?: 'shared' | 'instance';
    tieEveryMs?: number;
  };
  approval?: { timeoutMs?: number; progressIntervalMs?: number; stateKey?: string; retryWithinMs?: number };
  decisionLogs?: {
    file?: string;
    stderr?: boolean;
    service?: {
      url: string;
      headers?: Record<string, string>;
      minDelayMs?: number;
      maxDelayMs?: number;
      maxBufferRecords?: number;
      timeoutMs?: number;
    };
  };
  telemetry?: { serviceName?: string; otlp?: { endpoint: string; headers?: Record<string, string> } };
  log?: { level?: 'error' | 'warn' | 'info' | 'debug'; format?: 'json' | 'text' };
  http?: RawHttp;
  auth?: RawAuth;
}
interface RawPolicyBundle {
  path?: string;
  service?: string;
  resource?: string;
  watch?: boolean;
  polling?: { min_delay_seconds?: number; max_delay_seconds?: number; long_polling_timeout_seconds?: number };
  signing?: { keyid?: string; scope?: string; exclude_files?: string[] };
}
interface RawBundleService {
  url: string;
  headers?: Record<string, string>;
  credentials?: { bearer?: { token: string; scheme?: string } };
}
interface RawVerification {
  keys: Record<string, { algorithm?: string; key?: string; key_file?: string; scope?: string }>;
  keyid?: string;
  scope?: string;
  exclude_files?: string[];
}
interface RawHttp {
  bodyLimit?: number | string;
  idleTimeoutMs?: number;
  maxSessions?: number;
  maxSessionsPerPrincipal?: number;
  allowedHosts?: string[];
  allowedOrigins?: string[];
  publicUrl?: string;
  sse?: { retryMs?: number; pollAfterMs?: number; replayBytes?: number | string };
}
interface RawAuth {
  type: 'none' | 'bearer' | 'jwt';
  tokens?: { token: string; sub: string; roles?: string[]; claims?: Record<string, unknown> }[];
  jwks?: string;
  issuer?: string;
  audience?: string | string[];
  algorithms?: string[];
  rolesClaim?: string;
  clockToleranceSec?: number;
  requireExp?: boolean;
  maxTokenAgeSec?: number;
  authorizationServers?: string[];
}

// The schema's oneOf gives ajv's least helpful message for the commonest mistake; say it plainly first.
function precheckServers(raw: Record<string, unknown>, source: string): void {
  const servers = raw['mcpServers'];
  if (!servers || typeof servers !== 'object') return;
  for (const [name, server] of Object.entries(servers)) {
    if (!server || typeof server !== 'object') continue;
    const hasCommand = 'command' in server;
    const hasUrl = 'url' in server;
    if (hasCommand === hasUrl) {
      throw new ConfigError(
        'config_invalid',
        `config error in ${source} at mcpServers.${name}: ${hasCommand ? 'has both command and url' : 'has neither command nor url'}. ` +
          'Fix: give command (+ args, env, cwd) for a server Warden starts over stdio, or url (+ headers) for a Streamable HTTP server.',
      );
    }
  }
}

function describeSchemaErrors(errors: ErrorObject[], source: string): string {
  const lines = errors
    .filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'not' && e.keyword !== 'if')
    .map((e) => describeOne(e));
  const unique = [...new Set(lines)];
  return (
    `config error in ${source}:\n  - ${unique.slice(0, 8).join('\n  - ')}` +
    (unique.length > 8 ? `\n  (${unique.length - 8} more)` : '')
  );
}

function describeOne(e: ErrorObject): string {
  const path = formatPath(
    e.instancePath
      .split('/')
      .slice(1)
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~')),
  );
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const allowed = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      const where = e.instancePath
        ? `${path}.${String(params['additionalProperty'])}`
        : String(params['additionalProperty']);
      return `${where}: unknown key. Fix: remove it or use one of: ${allowed.join(', ')}`;
    }
    case 'required':
      return `${e.instancePath ? path + '.' : ''}${String(params['missingProperty'])}: required key is missing`;
    case 'enum':
      return `${path}: must be one of ${(params['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'type':
      return `${path}: must be ${String(params['type'])}`;
    case 'pattern':
      return `${path}: ${e.message ?? 'does not match'}${describePattern(e.instancePath)}`;
    default:
      return `${path}: ${e.message ?? e.keyword}`;
  }
}

function describePattern(instancePath: string): string {
  if (instancePath.endsWith('/store')) return ' (use sqlite:PATH, postgres://... or memory:)';
  if (instancePath.endsWith('/url')) return " (an http:// or https:// URL of the server's MCP endpoint)";
  if (instancePath.endsWith('/entrypoint')) return ' (a path such as mcp/decision)';
  if (instancePath === '/instance') return ' (1 to 64 of A-Z a-z 0-9 . _ -, e.g. warden-1)';
  return '';
}

function derive(raw: RawConfig, source: string): WardenConfig {
  const base = source === '<inline>' ? process.cwd() : dirname(source);
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));

  const servers: ServerConfig[] = [];
  for (const [name, s] of Object.entries(raw.mcpServers)) {
    if (s.disabled) continue;
    const common = {
      name,
      prefix: s.prefix ?? '',
      timeoutMs: s.timeoutMs ?? 60_000,
      tools: Object.freeze({ onChange: s.tools?.onChange ?? 'deny' }),
    };
    if (s.command !== undefined) {
      const cwd = abs(s.cwd ?? '.');
      if (!existsSync(cwd) || !statSync(cwd).isDirectory()) {
        throw new ConfigError(
          'config_invalid',
          `config error in ${source} at mcpServers.${name}.cwd: directory ${cwd} does not exist. Fix: create it or correct the path (relative paths resolve against the config file's directory).`,
        );
      }
      servers.push(
        Object.freeze({
          kind: 'stdio',
          ...common,
          command: s.command,
          args: Object.freeze([...(s.args ?? [])]),
          env: Object.freeze({ ...(s.env ?? {}) }),
          cwd,
        }),
      );
    } else {
      servers.push(
        Object.freeze({
          kind: 'http',
          ...common,
          url: s.url as string,
          headers: Object.freeze({ ...(s.headers ?? {}) }),
        }),
      );
    }
  }
  if (servers.length === 0) {
    throw new ConfigError(
      'config_invalid',
      `config error in ${source} at mcpServers: every server is disabled. Fix: enable at least one.`,
    );
  }

  const policySources = derivePolicySources(raw.policy, source, abs);

  const store = raw.audit?.store ?? 'sqlite:./data/audit.db';
  const audit = raw.audit ?? {};
  const user = safeUser();
  const config: WardenConfig = {
    source,
    instance: deriveInstance(raw.instance, source),
    servers: Object.freeze(servers),
    policy: Object.freeze({
      ...policySources,
      entrypoint: raw.policy.entrypoint ?? DEFAULT_ENTRYPOINT,
      mode: raw.policy.mode ?? 'enforce',
      watch: raw.policy.watch ?? false,
      evaluation: Object.freeze({
        timeoutMs: raw.policy.evaluation?.timeoutMs ?? 1000,
        maxMemoryMb: raw.policy.evaluation?.maxMemoryMb ?? 256,
      }),
      limits: deriveBundleLimits(raw.policy.limits ?? {}),
    }),
    identity: Object.freeze({
      sub: raw.identity?.sub ?? user,
      roles: Object.freeze([...(raw.identity?.roles ?? [])]),
      claims: Object.freeze({ ...(raw.identity?.claims ?? {}) }),
    }),
    session: Object.freeze({
      historyWindow: raw.session?.historyWindow ?? SESSION_DEFAULTS.historyWindow,
      resultMaxChars: raw.session?.resultMaxChars ?? SESSION_DEFAULTS.resultMaxChars,
      ...(raw.session?.tenantClaim ? { tenantClaim: raw.session.tenantClaim } : {}),
    }),
    limits: Object.freeze({
      maxUriLength: raw.limits?.maxUriLength ?? DEFAULT_MAX_URI_LENGTH,
      argumentsMaxDepth: raw.limits?.argumentsMaxDepth ?? 64,
      argumentsMaxBytes: parseSize(raw.limits?.argumentsMaxBytes ?? '1mb'),
    }),
    audit: Object.freeze({
      store: store.startsWith('sqlite:') ? `sqlite:${abs(store.slice('sqlite:'.length))}` : store,
      onFailure: audit.onFailure ?? 'deny',
      synchronous: audit.synchronous ?? 'full',
      redact: Object.freeze([...(audit.redact ?? [])]),
      redactKey: audit.redactKey,
      resultMaxChars: audit.resultMaxChars ?? 4096,
      checkpointEvery: audit.checkpointEvery ?? 100,
      signingKey: audit.signingKey === undefined ? undefined : abs(audit.signingKey),
      retention: deriveRetention(audit.retention, store, source, abs),
      chain: deriveChain(audit, store, source),
      tieEveryMs: audit.tieEveryMs ?? 10_000,
    }),
    approval: Object.freeze({
      timeoutMs: raw.approval?.timeoutMs ?? 300_000,
      progressIntervalMs: raw.approval?.progressIntervalMs ?? 10_000,
      stateKey: raw.approval?.stateKey,
      retryWithinMs: raw.approval?.retryWithinMs ?? 15 * 60_000,
    }),
    decisionLogs: Object.freeze({
      file: raw.decisionLogs?.file === undefined ? undefined : abs(raw.decisionLogs.file),
      stderr: raw.decisionLogs?.stderr ?? false,
      ...(raw.decisionLogs?.service ? { service: deriveDecisionLogService(raw.decisionLogs.service, source) } : {}),
    }),
    telemetry: Object.freeze({
      serviceName: raw.telemetry?.serviceName,
      ...(raw.telemetry?.otlp
        ? {
            otlp: Object.freeze({
              endpoint: raw.telemetry.otlp.endpoint,
              headers: Object.freeze({ ...(raw.telemetry.otlp.headers ?? {}) }),
            }),
          }
        : {}),
    }),
    log: Object.freeze({ level: raw.log?.level ?? 'info', format: raw.log?.format ?? 'json' }),
    http: deriveHttp(raw.http ?? {}),
    auth: deriveAuth(raw.auth ?? { type: 'none' }, source, abs),
  };
  return Object.freeze(config);
}

// Records older than maxAgeDays move to archive files (with their chain proof) in archiveDir,
// which defaults to archive/ beside a SQLite store.
function deriveRetention(
  retention: { maxAgeDays?: number; archiveDir?: string } | undefined,
  store: string,
  source: string,
  abs: (p: string) => string,
): { maxAgeDays: number; archiveDir: string } | undefined {
  if (retention === undefined) return undefined;
  if (retention.maxAgeDays === undefined) {
    throw new ConfigError(
      'config_invalid',
      `config error in ${source} at audit.retention.maxAgeDays: required key is missing. Fix: say how many days records stay in the live store, e.g. maxAgeDays: 90.`,
    );
  }
  let archiveDir = retention.archiveDir === undefined ? undefined : abs(retention.archiveDir);
  if (archiveDir === undefined && store.startsWith('sqlite:'))
    archiveDir = join(dirname(abs(store.slice('sqlite:'.length))), 'archive');
  if (archiveDir === undefined) {
    throw new ConfigError(
      'config_invalid',
      `config error in ${source} at audit.retention.archiveDir: required with a ${store.split(':')[0]} store. Fix: name the directory where archived records (with their chain proof) are written.`,
    );
  }
  return Object.freeze({ maxAgeDays: retention.maxAgeDays, archiveDir });
}

/** `audit.chain`: `instance` needs a store that holds many chains, and retention archives one chain only. */
function deriveChain(audit: NonNullable<RawConfig['audit']>, store: string, source: string): 'shared' | 'instance' {
  const chain = audit.chain ?? 'shared';
  if (chain === 'shared') return chain;
  if (!store.startsWith('postgres://') && !store.startsWith('postgresql://')) {
    throw new ConfigError(
      'config_invalid',
      `config error in ${source} at audit.chain: "instance" (one hash chain per replica) needs a PostgreSQL ` +
        `store, and audit.store is ${store.split(':')[0]}. Fix: set audit.store to postgres://…, or audit.chain: shared.`,
    );
  }
  if (audit.retention !== undefined) {
    throw new ConfigError(
      'config_invalid',
      `config error in ${source} at audit.retention: retention archives the shared chain only and cannot be ` +
        'combined with audit.chain: instance yet. Fix: remove audit.retention, or set audit.chain: shared.',
    );
  }
  return chain;
}

// policy.bundle (one local path or URL) or policy.bundles (OPA-style named bundles, services, keys).
function derivePolicySources(
  policy: RawConfig['policy'],
  source: string,
  abs: (p: string) => string,
): Pick<WardenConfig['policy'], 'bundle' | 'bundles' | 'verification' | 'statusFile'> {
  const at = (key: string): string => `config error in ${source} at policy.${key}`;
  if (policy.bundle !== undefined && policy.bundles !== undefined) {
    throw new ConfigError(
      'config_invalid',
      `${at('bundle')}: set either policy.bundle (one source) or policy.bundles (named bundles), not both.`,
    );
  }
  if (policy.bundle === undefined && policy.bundles === undefined) {
    throw new ConfigError(
      'config_invalid',
      `${at('bundle')}: required key is missing. Fix: set policy.bundle to a policy directory, a bundle .tar.gz or a bundle URL, or configure policy.bundles.`,
    );
  }
  const statusFile = policy.statusFile === undefined ? {} : { statusFile: abs(policy.statusFile) };
  const verification = policy.verification
    ? { verification: deriveVerification(policy.verification, source, abs) }
    : {};
  if (policy.bundle !== undefined) {
    if (/^https?:\/\//.test(policy.bundle)) return { bundle: policy.bundle, ...verification, ...statusFile };
    const bundle = policy.bundle === SHIPPED_POLICY ? SHIPPED_POLICY_DIR : abs(policy.bundle);
    if (!existsSync(bundle)) {
      throw new ConfigError(
        'config_invalid',
        `${at('bundle')}: ${bundle} does not exist. Fix: point it at a directory of .rego files or a bundle .tar.gz built with 'warden policy build'.`,
      );
    }
    return { bundle, ...verification, ...statusFile };
  }
  const services = policy.services ?? {};
  const bundles: PolicyBundleConfig[] = [];
  for (const [name, b] of Object.entries(policy.bundles!)) {
    const key = `bundles.${name}`;
    if ((b.path === undefined) === (b.resource === undefined && b.service === undefined)) {
      throw new ConfigError(
        'config_invalid',
        `${at(key)}: ${b.path === undefined ? 'has neither path nor resource' : 'has both path and resource/service'}. Fix: give path (a local directory or .tar.gz) or resource (with service, or a full http(s) URL).`,
      );
    }
    if (b.signing && !policy.verification) {
      throw new ConfigError(
        'config_invalid',
        `${at(`${key}.signing`)}: there are no keys to verify with. Fix: add policy.verification.keys.`,
      );
    }
    const signing = b.signing
      ? {
          signing: Object.freeze({
            ...(b.signing.keyid ? { keyid: b.signing.keyid } : {}),
            ...(b.signing.scope !== undefined ? { scope: b.signing.scope } : {}),
            ...(b.signing.exclude_files ? { excludeFiles: Object.freeze([...b.signing.exclude_files]) } : {}),
          }),
        }
      : {};
    const minDelaySeconds = b.polling?.min_delay_seconds ?? 60;
    const polling = b.polling
      ? {
          polling: Object.freeze({
            minDelaySeconds,
            maxDelaySeconds: b.polling.max_delay_seconds ?? Math.max(120, minDelaySeconds),
            ...(b.polling.long_polling_timeout_seconds !== undefined
              ? { longPollingTimeoutSeconds: b.polling.long_polling_timeout_seconds }
              : {}),
          }),
        }
      : {};
    if (polling.polling && polling.polling.minDelaySeconds > polling.polling.maxDelaySeconds) {
      throw new ConfigError(
        'config_invalid',
        `${at(`${key}.polling`)}: min_delay_seconds (${polling.polling.minDelaySeconds}) is greater than max_delay_seconds (${polling.polling.maxDelaySeconds}).`,
      );
    }
    const watch = b.watch === undefined ? {} : { watch: b.watch };
    if (b.path !== undefined) {
      const path = b.path === SHIPPED_POLICY ? SHIPPED_POLICY_DIR : abs(b.path);
      if (!existsSync(path))
        throw new ConfigError(
          'config_invalid',
          `${at(`${key}.path`)}: ${path} does not exist. Fix: point it at a policy or data directory, or a bundle .tar.gz.`,
        );
      bundles.push(Object.freeze({ name, path, headers: Object.freeze({}), ...polling, ...signing, ...watch }));
      continue;
    }
    let url: string;
    let headers: Record<string, string> = {};
    const resource = b.resource ?? `bundles/${name}`;
    if (b.service !== undefined) {
      const svc = services[b.service];
      if (!svc)
        throw new ConfigError(
          'config_invalid',
          `${at(`${key}.service`)}: no service "${b.service}" in policy.services (configured: ${Object.keys(services).join(', ') || 'none'}).`,
        );
      url = /^https?:\/\//.test(resource) ? resource : `${svc.url.replace(/\/+$/, '')}/${resource.replace(/^\/+/, '')}`;
      headers = { ...(svc.headers ?? {}) };
      if (svc.credentials?.bearer)
        headers['Authorization'] = `${svc.credentials.bearer.scheme ?? 'Bearer'} ${svc.credentials.bearer.token}`;
    } else if (/^https?:\/\//.test(resource)) {
      url = resource;
    } else {
      throw new ConfigError(
        'config_invalid',
        `${at(`${key}.resource`)}: "${resource}" is not a URL and no service is named. Fix: set ${key}.service, or give a full http(s) URL.`,
      );
    }
    bundles.push(Object.freeze({ name, url, headers: Object.freeze(headers), ...polling, ...signing, ...watch }));
  }
  const first = bundles[0]!;
  return { bundle: first.path ?? first.url!, bundles: Object.freeze(bundles), ...verification, ...statusFile };
}

function deriveVerification(v: RawVerification, source: string, abs: (p: string) => string): PolicyVerificationConfig {
  const keys: Record<string, { algorithm: string; key: string; scope?: string }> = {};
  for (const [id, k] of Object.entries(v.keys)) {
    const at = `config error in ${source} at policy.verification.keys.${id}`;
    if ((k.key === undefined) === (k.key_file === undefined))
      throw new ConfigError('config_invalid', `${at}: give exactly one of key (PEM text or HMAC secret) and key_file.`);
    let material = k.key;
    if (k.key_file !== undefined) {
      try {
        material = readFileSync(abs(k.key_file), 'utf8');
      } catch (err) {
        throw new ConfigError(
          'config_invalid',
          `${at}.key_file: cannot read ${abs(k.key_file)}: ${describeError(err)}`,
          { cause: err },
        );
      }
    }
    keys[id] = Object.freeze({
      algorithm: k.algorithm ?? 'RS256',
      key: material!,
      ...(k.scope !== undefined ? { scope: k.scope } : {}),
    });
  }
  if (v.keyid !== undefined && !keys[v.keyid])
    throw new ConfigError(
      'config_invalid',
      `config error in ${source} at policy.verification.keyid: no key "${v.keyid}" in policy.verification.keys.`,
    );
  return Object.freeze({
    keys: Object.freeze(keys),
    ...(v.keyid ? { keyid: v.keyid } : {}),
    ...(v.scope !== undefined ? { scope: v.scope } : {}),
    excludeFiles: Object.freeze([...(v.exclude_files ?? [])]),
  });
}

function deriveDecisionLogService(
  s: NonNullable<NonNullable<RawConfig['decisionLogs']>['service']>,
  source: string,
): DecisionLogServiceConfig {
  const minDelayMs = s.minDelayMs ?? 1000;
  const maxDelayMs = s.maxDelayMs ?? Math.max(10_000, minDelayMs);
  if (minDelayMs > maxDelayMs)
    throw new ConfigError(
      'config_invalid',
      `config error in ${source} at decisionLogs.service: minDelayMs (${minDelayMs}) is greater than maxDelayMs (${maxDelayMs}).`,
    );
  return Object.freeze({
    url: s.url,
    headers: Object.freeze({ ...(s.headers ?? {}) }),
    minDelayMs,
    maxDelayMs,
    maxBufferRecords: s.maxBufferRecords ?? 10_000,
    timeoutMs: s.timeoutMs ?? 10_000,
  });
}

/** What `instance` may hold: a label for decision logs and audit records, and safe in a file name. */
const INSTANCE_NAME = /^[A-Za-z0-9._-]{1,64}$/;

// Checked after ${ENV} expansion (the schema sees `${POD_NAME}`): each replica may take its name from its environment.
function deriveInstance(instance: string | undefined, source: string): string {
  if (instance === undefined) return defaultInstance(hostname());
  if (!INSTANCE_NAME.test(instance))
    throw new ConfigError(
      'config_invalid',
      `config error in ${source} at instance: ${JSON.stringify(instance)} is not a replica name. ` +
        'Fix: use 1 to 64 letters, digits, dots, underscores or dashes, e.g. instance: warden-1.',
    );
  return instance;
}

/**
 * The replica's name when `instance` is not set: the host name, which stays the same across
 * restarts of one deployment (a pod's name, a VM's), with every character outside
 * `[A-Za-z0-9._-]` turned into `-` and cut to 64.
 *
 * @example
 * ```ts
 * defaultInstance('web 1.example.com'); // 'web-1.example.com'
 * ```
 */
export function defaultInstance(host: string): string {
  return host.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64) || 'warden';
}

function safeUser(): string {
  try {
    return userInfo().username || 'local';
  } catch {
    return 'local';
  }
}

const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/**
 * The default `policy.limits`, generous for real bundles. 256 MiB unpacked is the fixed cap Warden
 * had before the limits could be set, so nothing that loaded before is refused for size. Rego,
 * JSON and Wasm compress 3 to 10 times, so 64 MiB of gzip carries a bundle near that cap. 10,000
 * entries is far beyond a policy tree (Warden's shipped one has 11 files; Rego, data and their
 * directories rarely reach a thousand), and each entry is cheap, so the limit only stops floods.
 */
export const DEFAULT_BUNDLE_LIMITS: BundleLimits = Object.freeze({
  compressedBytes: 64 * 1024 ** 2,
  uncompressedBytes: 256 * 1024 ** 2,
  files: 10_000,
});

/** Bytes of a size the schema admitted: an integer, or digits with a unit (`512kb`, `4mb`). */
function parseSize(size: number | string): number {
  if (typeof size === 'number') return size;
  // The schema's pattern already admitted it: digits, optional fraction, unit.
  const m = /^([0-9.]+)\s*([a-z]+)$/.exec(size.toLowerCase()) as RegExpExecArray;
  return Math.floor(Number(m[1]) * (SIZE_UNITS[m[2] as string] ?? 1));
}

function deriveBundleLimits(raw: NonNullable<RawConfig['policy']['limits']>): BundleLimits {
  return Object.freeze({
    compressedBytes: parseSize(raw.compressedBytes ?? DEFAULT_BUNDLE_LIMITS.compressedBytes),
    uncompressedBytes: parseSize(raw.uncompressedBytes ?? DEFAULT_BUNDLE_LIMITS.uncompressedBytes),
    files: raw.files ?? DEFAULT_BUNDLE_LIMITS.files,
  });
}

function deriveHttp(raw: RawHttp): HttpConfig {
  return Object.freeze({
    bodyLimit: parseSize(raw.bodyLimit ?? '4mb'),
    idleTimeoutMs: raw.idleTimeoutMs ?? 30 * 60_000,
    // Each session runs its own copy of every stdio server. 16 covers one person's clients (an IDE,
    // a desktop app, a few agents) with room for reconnects that never send DELETE and wait for the
    // idle reaper; 256 bounds the process (16 such principals, or 256 x the stdio servers).
    maxSessions: raw.maxSessions ?? 256,
    maxSessionsPerPrincipal: raw.maxSessionsPerPrincipal ?? 16,
    allowedHosts: raw.allowedHosts ? Object.freeze(raw.allowedHosts.map((h) => h.toLowerCase())) : undefined,
    allowedOrigins: raw.allowedOrigins ? Object.freeze(raw.allowedOrigins.map((o) => o.toLowerCase())) : undefined,
    publicUrl: raw.publicUrl?.replace(/\/+$/, ''),
    sse: Object.freeze({
      retryMs: raw.sse?.retryMs ?? 2000,
      pollAfterMs: raw.sse?.pollAfterMs ?? 0,
      replayBytes: parseSize(raw.sse?.replayBytes ?? '256kb'),
    }),
  });
}

// Which keys belong to which auth type: a key of another type is almost always a typo in `type`.
const AUTH_KEYS: Record<RawAuth['type'], readonly string[]> = {
  none: ['type', 'authorizationServers'],
  bearer: ['type', 'tokens', 'authorizationServers'],
  jwt: [
    'type',
    'jwks',
    'issuer',
    'audience',
    'algorithms',
    'rolesClaim',
    'clockToleranceSec',
    'requireExp',
    'maxTokenAgeSec',
    'authorizationServers',
  ],
};

function deriveAuth(raw: RawAuth, source: string, abs: (p: string) => string): AuthConfig {
  const fail = (key: string, message: string): never => {
    throw new ConfigError('config_invalid', `config error in ${source} at auth${key ? '.' + key : ''}: ${message}`);
  };
  for (const key of Object.keys(raw)) {
    if (!AUTH_KEYS[raw.type].includes(key)) {
      const owner = (Object.keys(AUTH_KEYS) as RawAuth['type'][]).filter((t) => AUTH_KEYS[t].includes(key));
      fail(key, `does not apply to type ${raw.type}. Fix: remove it, or set type to ${owner.join(' or ')}.`);
    }
  }
  const authorizationServers = Object.freeze([...(raw.authorizationServers ?? [])]);
  if (raw.type === 'none') return Object.freeze({ type: 'none', authorizationServers });
  if (raw.type === 'bearer') {
    if (!raw.tokens?.length)
      fail(
        'tokens',
        'type bearer needs at least one token. Fix: add tokens: [{ token: "${TOKEN_ALICE}", sub: alice, roles: [...] }].',
      );
    const seen = new Set<string>();
    const tokens = (raw.tokens ?? []).map((t, i) => {
      // Checked after ${ENV} expansion: a short token is guessable whatever the schema saw.
      if (t.token.length < 16)
        fail(
          `tokens[${i}].token`,
          `is ${t.token.length} characters; at least 16 are required. Fix: generate one with \`openssl rand -hex 32\`.`,
        );
      if (seen.has(t.token))
        fail(
          `tokens[${i}].token`,
          'is the same as an earlier token, so the principal would be ambiguous. Fix: give each principal its own token.',
        );
      seen.add(t.token);
      return Object.freeze({
        token: t.token,
        principal: Object.freeze({
          sub: t.sub,
          roles: Object.freeze([...(t.roles ?? [])]),
          claims: Object.freeze({ ...(t.claims ?? {}) }),
        }),
      });
    });
    return Object.freeze({ type: 'bearer', tokens: Object.freeze(tokens), authorizationServers });
  }
  for (const key of ['jwks', 'issuer', 'audience'] as const) {
    if (raw[key] === undefined || (Array.isArray(raw[key]) && raw[key].length === 0)) {
      fail(
        key,
        `type jwt requires jwks, issuer and audience; ${key} is missing. Fix: set it to ${key === 'jwks' ? "your issuer's JWKS URL (or a JWKS file path)" : key === 'issuer' ? "the token's expected iss" : 'the aud your tokens carry for Warden'}.`,
      );
    }
  }
  const jwks = raw.jwks as string;
  let jwksSource: { kind: 'url'; url: string } | { kind: 'file'; path: string };
  if (/^https?:\/\//.test(jwks)) jwksSource = { kind: 'url', url: jwks };
  else {
    const path = abs(jwks);
    if (!existsSync(path))
      fail(
        'jwks',
        `${path} does not exist. Fix: give an https:// URL of the issuer's JWKS or the path of a JWKS JSON file.`,
      );
    jwksSource = { kind: 'file', path };
  }
  return Object.freeze({
    type: 'jwt',
    jwks: Object.freeze(jwksSource),
    issuer: raw.issuer as string,
    audience: Object.freeze(typeof raw.audience === 'string' ? [raw.audience] : [...(raw.audience ?? [])]),
    algorithms: raw.algorithms ? Object.freeze([...raw.algorithms]) : undefined,
    rolesClaim: raw.rolesClaim ?? 'roles',
    clockToleranceSec: raw.clockToleranceSec ?? 0,
    // A token without exp never expires: a leaked one works until its key is rotated.
    requireExp: raw.requireExp ?? true,
    maxTokenAgeSec: raw.maxTokenAgeSec,
    authorizationServers,
  });
}
