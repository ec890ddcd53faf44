import { userInfo } from 'node:os';
import type { Command } from 'commander';
import type { AuditEvent, AuditRecord, ChainStore } from '../audit/index.js';
import { acceptOffered, definitionDiff, ToolPinLedger, type ToolPin } from '../reports/index.js';
import {
  auditDeps,
  openStore,
  withStore,
  type AuditCommandOptions,
  type AuditDeps,
  type StoreSelection,
} from './audit-command.js';
import { unifiedDiff } from './diff.js';

/** Options of `warden tools accept`. */
export type AcceptOpts = StoreSelection & { by?: string; comment?: string };

/**
 * `warden tools list|accept`: the pinned tool definitions of the audit trail (docs/tool-pinning.md),
 * with the same store options as `warden audit` (`--store URL` or `--config FILE`). Exit codes: 0
 * ok, 2 the store could not be read or the tool is not pinned (thrown `WardenError`s; `main` maps them).
 *
 * @example
 * ```ts
 * registerToolsCommands(program, { io, setExit, resolveStore });
 * // warden tools accept ci echo --config warden.yaml
 * ```
 */
export function registerToolsCommands(program: Command, options: AuditCommandOptions): Command {
  const deps = auditDeps(options, undefined, {});
  const tools = program.command('tools').description('pinned tool definitions: list them, accept a changed one');
  withStore(
    tools.command('list').description('every pinned tool: its status and, when it changed, what changed'),
  ).action((opts: StoreSelection) => toolsList(opts, deps));
  withStore(
    tools
      .command('accept')
      .description('accept the definition SERVER offers now for TOOL: calls to it are allowed again (within 2 s)')
      .argument('<server>', 'the downstream server (its mcpServers key)')
      .argument('<tool>', "the server's own name of the tool (without a prefix)")
      .option('--by <name>', 'who accepts it, for the record (default: the OS user)')
      .option('--comment <text>', 'why, for the record'),
  ).action((server: string, tool: string, opts: AcceptOpts) => toolsAccept(server, tool, opts, deps));
  return tools;
}

/** `warden tools list`. */
export async function toolsList(opts: StoreSelection, deps: AuditDeps): Promise<void> {
  const store = await openStore(opts, deps);
  try {
    const ledger = new ToolPinLedger(store);
    await ledger.sync();
    const pins = ledger.list();
    if (pins.length === 0) deps.io.out('no tools are pinned in this audit trail yet\n');
    for (const pin of pins) deps.io.out(describePin(pin));
  } finally {
    await store.close();
  }
}

/** `warden tools accept SERVER TOOL`: records `tool.accepted` for the definition the server offers. */
export async function toolsAccept(server: string, tool: string, opts: AcceptOpts, deps: AuditDeps): Promise<void> {
  // Read-only first: a mistyped store fails here, creating nothing; the store is written only to accept.
  const store = await openStore(opts, deps);
  let writer: ChainStore | undefined;
  const append = async (event: AuditEvent): Promise<AuditRecord> =>
    (writer ??= await openStore(opts, deps, true)).append(event);
  try {
    const ledger = new ToolPinLedger(store);
    const by = opts.by ?? userInfo().username;
    const who = { server, tool, by, via: 'cli' as const, ...(opts.comment ? { comment: opts.comment } : {}) };
    await ledger.sync();
    // What is accepted, as it was before: printed with its diff once the acceptance is recorded.
    const before = ledger.get(server, tool);
    const { pin, accepted } = await acceptOffered(ledger, { append }, who);
    if (!accepted) {
      deps.io.out(
        `${server}/${tool}: nothing to accept, the server offers the accepted definition (${pin.offered.digest})\n`,
      );
      return;
    }
    if (before) deps.io.out(describePin(before));
    deps.io.out(
      `accepted ${server}/${tool} ${pin.offered.digest} (by ${by}); running Wardens allow calls to it within 2 s\n`,
    );
  } finally {
    await writer?.close();
    await store.close();
  }
}

/** A pin as `tools list` prints it: status, digests, and a unified diff of each changed field. */
function describePin(pin: ToolPin): string {
  const accepted = pin.accepted?.digest ?? 'none';
  const head = `${pin.server}/${pin.tool}  ${pin.status.toUpperCase()}  accepted ${accepted}`;
  if (pin.status === 'pinned') return `${head}\n`;
  const findings = pin.offered.findings.map((f) => `  finding: ${f.kind} at ${f.path}: ${f.text}\n`).join('');
  const diff = definitionDiff(pin)
    .map((c) => unifiedDiff(pretty(c.before), pretty(c.after), `accepted ${c.field}`, `offered ${c.field}`))
    .join('');
  return `${head}  offered ${pin.offered.digest}\n${findings}${diff}`;
}

function pretty(value: unknown): string {
  if (value === undefined) return '';
  return (typeof value === 'string' ? value : JSON.stringify(value, null, 2)) + '\n';
}
