import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import type { Command } from 'commander';
import YAML, { isMap, isScalar } from 'yaml';
import { ConfigError, describeError } from '../common/index.js';
import { parseConfig } from '../config/index.js';

interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
}

type Mode = 'enforce' | 'monitor';

/**
 * `warden policy enforce` and `warden policy monitor`: switch `policy.mode` in a Warden config
 * file, changing nothing else in it (comments, layout and quoting stay as they are). Registered
 * on the `policy` command that {@link registerPolicyCommands} created.
 */
export function registerPolicyModeCommands(program: Command, io: Io, setExit: (code: number) => void): void {
  const policy = program.commands.find((c) => c.name() === 'policy');
  if (!policy) throw new Error('registerPolicyModeCommands: register the policy commands first');
  for (const mode of ['enforce', 'monitor'] as const) {
    policy
      .command(mode)
      .description(
        mode === 'enforce'
          ? 'set policy.mode to enforce in the config: calls the policy denies are denied ' +
              '(after monitoring; comments are kept)'
          : 'set policy.mode to monitor in the config: every call is allowed and what the policy would deny is logged',
      )
      .option('-c, --config <file>', 'the Warden config to change', 'warden.yaml')
      .action((opts: { config: string }) => {
        const result = setPolicyMode(opts.config, mode);
        io.out(
          result.changed
            ? `${result.path}: policy.mode ${result.from} → ${mode}. ` +
                'Restart Warden to apply it: restart the client that launches it ' +
                `(Claude Desktop, Cursor, VS Code), and any \`warden serve --http\` on this config.\n`
            : `${result.path}: policy.mode is already ${mode}; nothing changed.\n`,
        );
        setExit(0);
      });
  }
}

/**
 * Sets `policy.mode` in a YAML or JSON Warden config. YAML is edited in place, at the value's own
 * position in the text (or by adding the key to `policy`), so every comment survives; the result
 * must still load as a Warden config, or nothing is written.
 * @throws ConfigError naming the file and the fix.
 */
export function setPolicyMode(file: string, mode: Mode): { path: string; changed: boolean; from: string } {
  const path = resolve(file);
  if (!existsSync(path)) {
    throw new ConfigError(
      'config_not_found',
      `config file not found: ${path}. Fix: pass --config with your warden.yaml (warden init writes one).`,
    );
  }
  const text = readFileSync(path, 'utf8');
  const { next, from } = extname(path) === '.json' ? setInJson(text, path, mode) : setInYaml(text, path, mode);
  if (from === mode) return { path, changed: false, from };
  try {
    // Only a config that loads is written back; unset ${VAR}s are no reason to refuse the switch.
    parseConfig(
      next,
      path,
      new Proxy(process.env, { get: (t, k) => (typeof k === 'string' ? (t[k] ?? 'set') : undefined) }),
    );
  } catch (err) {
    throw new ConfigError(
      'config_invalid',
      `${path} would not load after setting policy.mode to ${mode}: ${describeError(err)}`,
      { cause: err },
    );
  }
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, next, { mode: statSync(path).mode & 0o777 });
  renameSync(tmp, path);
  return { path, changed: true, from };
}

function setInYaml(text: string, path: string, mode: Mode): { next: string; from: string } {
  const doc = YAML.parseDocument(text, { keepSourceTokens: true });
  if (doc.errors.length)
    throw new ConfigError('config_syntax', `config file ${path} is not valid YAML: ${doc.errors[0]!.message}`);
  const policy = doc.get('policy', true);
  if (!isMap(policy)) {
    throw new ConfigError(
      'config_invalid',
      `config error in ${path} at policy: missing or not a map. ` +
        `Fix: add policy: { bundle: builtin:shipped, mode: ${mode} }.`,
    );
  }
  const node = policy.get('mode', true);
  if (node === undefined) {
    // No mode yet (so enforce, the default): add it, letting yaml lay out the policy map.
    if (mode === 'enforce') return { next: text, from: 'enforce' };
    policy.set('mode', mode);
    return { next: doc.toString({ lineWidth: 0 }), from: 'enforce' };
  }
  if (!isScalar(node) || !node.range)
    throw new ConfigError('config_invalid', `config error in ${path} at policy.mode: must be enforce or monitor.`);
  const from = String(node.value);
  if (from === mode) return { next: text, from };
  // Replace the value's characters only: comments, quoting of other keys and layout stay.
  const [start, end] = node.range;
  return { next: text.slice(0, start) + mode + text.slice(end), from };
}

function setInJson(text: string, path: string, mode: Mode): { next: string; from: string } {
  let doc: { policy?: { mode?: string } };
  try {
    doc = JSON.parse(text) as typeof doc;
  } catch (err) {
    throw new ConfigError('config_syntax', `config file ${path} is not valid JSON: ${describeError(err)}`, {
      cause: err,
    });
  }
  if (!doc.policy || typeof doc.policy !== 'object')
    throw new ConfigError(
      'config_invalid',
      `config error in ${path} at policy: missing. Fix: add "policy": {"bundle": "builtin:shipped"}.`,
    );
  const from = doc.policy.mode ?? 'enforce';
  if (from === mode) return { next: text, from };
  doc.policy.mode = mode;
  const indent = /\n([ \t]+)\S/.exec(text)?.[1] ?? '  ';
  return { next: JSON.stringify(doc, null, indent) + '\n', from };
}
