import { createHash } from 'node:crypto';
import {
  toolAccepted,
  toolChanged,
  toolPinned,
  type ToolChangePolicy,
  type ToolDefinition,
  type ToolFinding,
} from '../audit/index.js';
import { canonicalJson, describeError, type Logger } from '../common/index.js';
import type { Reason } from '../policy/index.js';
import type { AuditPort, PipelineObserver, PolicyPort } from './ports.js';

/** The policy entrypoint that checks a tool's definition (`data.mcp.definition`); optional. */
export const DEFINITION_ENTRYPOINT = 'mcp/definition';

/** What the pinning needs of the trail's pins (the `ToolPinLedger` read model in `reports`). */
export interface PinRecords {
  sync(): Promise<void>;
  get(server: string, tool: string): PinState | undefined;
}

/** A pin as far as calls are concerned: which digest is accepted, which was offered last. */
export interface PinState {
  accepted: { digest: string } | null;
  offered: { digest: string };
  changes: number;
}

export interface ToolPinningOptions {
  pins: PinRecords;
  /** Appends the tool records; `claim` keeps replicas from recording one change twice. */
  audit: AuditPort & { claim?(key: string): Promise<boolean> };
  policy: Pick<PolicyPort, 'hasEntrypoint' | 'evaluateEntrypoint'>;
  /** `mcpServers.<name>.tools.onChange` of a server. */
  onChange: (server: string) => ToolChangePolicy;
  /** This replica's name (`instance`), kept in the records. */
  instance: string;
  logger: Logger;
  observer?: PipelineObserver;
}

/**
 * The fields of a tool's descriptor that Warden pins: name, description, input and output schemas,
 * annotations (title, icons and `_meta` may change freely).
 */
export function toolDefinition(descriptor: { name: string; [field: string]: unknown }): ToolDefinition {
  const definition: Record<string, unknown> = { name: descriptor.name };
  for (const field of ['description', 'inputSchema', 'outputSchema', 'annotations'] as const)
    if (descriptor[field] !== undefined) definition[field] = descriptor[field];
  return definition as unknown as ToolDefinition;
}

/** `sha256:` of a definition's RFC 8785 JSON: equal definitions have equal digests, whatever their key order. */
export function definitionDigest(definition: ToolDefinition): string {
  const text = canonicalJson(definition, { wellFormed: true, lenient: true }) ?? '';
  return `sha256:${createHash('sha256').update(text, 'utf8').digest('hex')}`;
}

/**
 * Pinned tool definitions (docs/tool-pinning.md). Every tool list a session's downstream server
 * gives (at start, after list_changed, after a restart) is {@link observe}d: a tool seen for the
 * first time is pinned (`tool.pinned`), a definition other than the accepted one is reported
 * (`tool.changed`, the observer's `onToolChanged`). Before a call, {@link check} compares the
 * definition the session's server offers with the accepted one: the decision follows from the
 * trail alone, so every replica sharing it decides alike.
 *
 * @example
 * ```ts
 * await pinning.observe('ci', server.tools);
 * await pinning.check('ci', 'echo', route.descriptor); // null, or the reason to deny
 * ```
 */
export class ToolPinning {
  private readonly observing = new Map<string, Promise<void>>();
  private readonly checked = new Map<string, ToolFinding[]>();
  // A session's server keeps its descriptors until its next list: each is hashed once, not per call.
  private readonly digests = new WeakMap<object, { definition: ToolDefinition; digest: string }>();

  constructor(private readonly options: ToolPinningOptions) {}

  /** Records what is new in a server's tool list. Never rejects: a failure is logged, and calls are checked anyway. */
  observe(server: string, tools: readonly { name: string; [field: string]: unknown }[]): Promise<void> {
    const previous = this.observing.get(server) ?? Promise.resolve();
    // One server's lists are recorded in turn: the second session to list a tool sees the first's pin.
    const next = previous.then(() =>
      this.record(server, tools).catch((err: unknown) => {
        this.options.logger.error('tool pinning could not record a tool list', { server, error: describeError(err) });
      }),
    );
    this.observing.set(server, next);
    return next;
  }

  /** Null when a call to `tool` as `descriptor` defines it may go on, else the reason it is denied. */
  async check(
    server: string,
    tool: string,
    descriptor: { name: string; [field: string]: unknown },
  ): Promise<Reason | null> {
    await this.observing.get(server);
    const { definition, digest } = this.digestOf(descriptor);
    const pin = this.options.pins.get(server, tool);
    if (pin?.accepted?.digest === digest) return null;
    const onChange = this.options.onChange(server);
    if (onChange === 'monitor') return null;
    const findings = await this.findingsOf(server, definition, digest);
    const accept = `an admin accepts it (warden tools accept ${server} ${tool}, or the admin API / dashboard)`;
    if (findings.length > 0)
      return {
        rule: 'warden.tool_suspicious',
        message:
          `the definition of tool "${tool}" of server "${server}" trips the definition check ` +
          `(${[...new Set(findings.map((f) => `${f.kind} at ${f.path}`))].join(', ')}); calls to it are denied until ${accept}`,
      };
    // Never pinned (its record could not be stored) or accepted by config: a clean definition goes on.
    if (!pin || onChange === 'accept') return null;
    return {
      rule: 'warden.tool_changed',
      message:
        `the definition of tool "${tool}" of server "${server}" changed since it was accepted ` +
        `(${pin.accepted?.digest ?? 'none accepted'} -> ${digest}); calls to it are denied until ${accept}`,
    };
  }

  private async record(server: string, tools: readonly { name: string; [field: string]: unknown }[]): Promise<void> {
    const o = this.options;
    await o.pins.sync();
    for (const descriptor of tools) {
      const { definition, digest } = this.digestOf(descriptor);
      const pin = o.pins.get(server, descriptor.name);
      if (pin && (pin.accepted?.digest === digest || pin.offered.digest === digest)) continue;
      const findings = await this.findingsOf(server, definition, digest);
      const data = { server, tool: descriptor.name, digest, definition, findings, instance: o.instance };
      if (!pin) {
        await o.audit.append(toolPinned(data));
        if (findings.length) this.report(server, descriptor.name, 'suspicious', o.onChange(server), digest);
        continue;
      }
      // Every replica that sees the change would record it: the first to claim it does.
      // As JSON: names may hold any character, and PostgreSQL text cannot hold NUL.
      const claim = `tool.changed:${JSON.stringify([server, descriptor.name, digest, pin.changes])}`;
      if (o.audit.claim && !(await o.audit.claim(claim))) continue;
      const onChange = o.onChange(server);
      await o.audit.append(
        toolChanged({ ...data, previous_digest: pin.accepted?.digest ?? null, on_change: onChange }),
      );
      this.report(server, descriptor.name, findings.length ? 'suspicious' : 'changed', onChange, digest);
      if (onChange === 'accept' && findings.length === 0)
        await o.audit.append(
          toolAccepted({ server, tool: descriptor.name, digest, by: 'warden', via: 'config', comment: null }),
        );
    }
  }

  private digestOf(descriptor: { name: string; [field: string]: unknown }): {
    definition: ToolDefinition;
    digest: string;
  } {
    let known = this.digests.get(descriptor);
    if (!known) {
      const definition = toolDefinition(descriptor);
      known = { definition, digest: definitionDigest(definition) };
      this.digests.set(descriptor, known);
    }
    return known;
  }

  private report(
    server: string,
    tool: string,
    status: 'changed' | 'suspicious',
    onChange: ToolChangePolicy,
    digest: string,
  ): void {
    this.options.logger.warn(`tool definition ${status}`, { server, tool, digest, on_change: onChange });
    try {
      this.options.observer?.onToolChanged?.({ server, tool, status, on_change: onChange });
    } catch {
      // an observer's failure is its own
    }
  }

  /**
   * The policy's findings on a definition (`mcp/definition`); none when the policy has no such
   * entrypoint. A check that fails counts as a finding: an unchecked definition is not trusted.
   */
  private async findingsOf(server: string, definition: ToolDefinition, digest: string): Promise<ToolFinding[]> {
    const { policy, logger } = this.options;
    if (!policy.hasEntrypoint?.(DEFINITION_ENTRYPOINT) || !policy.evaluateEntrypoint) return [];
    const known = this.checked.get(digest);
    if (known) return known;
    const answer = await policy.evaluateEntrypoint(DEFINITION_ENTRYPOINT, { version: 1, server, tool: definition });
    const read = answer.ok ? readFindings(answer.result) : null;
    if (read) {
      this.checked.set(digest, read);
      return read;
    }
    const why = answer.ok ? 'its answer is not {"findings": [...]}' : answer.message;
    logger.error('the tool definition check failed; the definition is held (fail closed)', { server, error: why });
    return [{ kind: 'definition_check_failed', path: '', text: why }];
  }
}

/** `{"findings": [{kind, path, text}]}`, as `mcp/definition` answers; null for any other shape. */
function readFindings(result: unknown): ToolFinding[] | null {
  const findings = (result as { findings?: unknown } | null)?.findings;
  if (!Array.isArray(findings)) return null;
  const read: ToolFinding[] = [];
  for (const f of findings as Record<string, unknown>[]) {
    if (!f || typeof f['kind'] !== 'string') return null;
    read.push({ kind: f['kind'], path: String(f['path'] ?? ''), text: String(f['text'] ?? '') });
  }
  return read;
}
