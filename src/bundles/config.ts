import { dirname, join } from 'node:path';
import type { WardenConfig } from '../config/index.js';
import type { BundleSpec, VerificationConfig } from '../policy/index.js';
import type { RuntimeSpec } from './open.js';
import { POLICY_STATUS_FILE } from './status-file.js';

/**
 * Where a Warden started from `config` writes `policy-status.json`: `policy.statusFile`, else the
 * data directory (the SQLite audit store's directory, else the decision log's, else `data/` next
 * to the config file). `warden policy status|rollback --config` find it the same way.
 */
export function policyStatusFile(config: WardenConfig): string {
  if (config.policy.statusFile) return config.policy.statusFile;
  if (config.audit.store.startsWith('sqlite:'))
    return join(dirname(config.audit.store.slice('sqlite:'.length)), POLICY_STATUS_FILE);
  if (config.decisionLogs.file) return join(dirname(config.decisionLogs.file), POLICY_STATUS_FILE);
  const base = config.source === '<inline>' ? process.cwd() : dirname(config.source);
  return join(base, 'data', POLICY_STATUS_FILE);
}

/**
 * The runtime options a config asks for: its bundles, their verification, watching, the status
 * file and the evaluation budget.
 */
export function runtimeSpecFromConfig(config: WardenConfig, extra: Partial<RuntimeSpec> = {}): RuntimeSpec {
  const p = config.policy;
  const verification = (signing?: {
    keyid?: string;
    scope?: string;
    excludeFiles?: readonly string[];
  }): { verification?: VerificationConfig } => {
    if (!p.verification) return {};
    const keyid = signing?.keyid ?? p.verification.keyid;
    const scope = signing?.scope ?? p.verification.scope;
    return {
      verification: {
        keys: p.verification.keys,
        ...(keyid ? { keyid } : {}),
        ...(scope !== undefined ? { scope } : {}),
        excludeFiles: signing?.excludeFiles ?? p.verification.excludeFiles,
      },
    };
  };
  const bundles: BundleSpec[] = p.bundles
    ? p.bundles.map((b) => ({
        name: b.name,
        ...(b.path ? { path: b.path } : {}),
        ...(b.url ? { url: b.url, headers: b.headers } : {}),
        ...(b.polling ? { polling: b.polling } : {}),
        ...(b.watch !== undefined ? { watch: b.watch } : {}),
        ...verification(b.signing),
        limits: p.limits,
      }))
    : [
        {
          name: 'policy',
          ...(/^https?:\/\//.test(p.bundle) ? { url: p.bundle } : { path: p.bundle }),
          ...verification(),
          limits: p.limits,
        },
      ];
  return {
    bundles,
    entrypoint: p.entrypoint,
    watch: p.watch,
    nameFromManifest: !p.bundles,
    statusFile: policyStatusFile(config),
    instanceId: config.instance,
    evaluation: p.evaluation,
    ...extra,
  };
}
