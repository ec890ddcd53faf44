import { ConfigError } from '../common/index.js';

const PLACEHOLDER = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Expands `${VAR}` and `${VAR:-default}` in every string of a parsed config document.
 * An unset variable without a default is an error naming the key path, so a missing secret
 * fails at start instead of reaching a downstream server as the literal text `${CI_TOKEN}`.
 */
export function expandEnv(value: unknown, env: NodeJS.ProcessEnv, path: string[] = []): unknown {
  if (typeof value === 'string') {
    return value.replace(PLACEHOLDER, (_whole, name: string, fallback: string | undefined) => {
      const found = env[name];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      throw new ConfigError(
        'config_env_missing',
        `config error at ${formatPath(path)}: environment variable ${name} is not set. ` +
          `Fix: export ${name}=... before starting Warden, or write \${${name}:-default} to give a default.`,
      );
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => expandEnv(item, env, [...path, String(i)]));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = expandEnv(item, env, [...path, key]);
    return out;
  }
  return value;
}

/** `mcpServers.crm.args[0]`-style path for messages. */
export function formatPath(path: readonly string[]): string {
  if (path.length === 0) return '(top level)';
  return path.map((part, i) => (/^\d+$/.test(part) ? `[${part}]` : i === 0 ? part : `.${part}`)).join('');
}
