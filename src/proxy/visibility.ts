import { describeError, type Logger } from '../common/index.js';
import type { Principal } from '../config/index.js';
import type { EntrypointResult } from '../policy/index.js';
import type { ClientInfo } from '../session/index.js';

/** The optional entrypoint that says which list entries a principal sees (policy/mcp/access.rego). */
export const VISIBLE_ENTRYPOINT = 'mcp/visible';

/** What a list holds, as the policy input names it. */
export type ListItemKind = 'tool' | 'resource' | 'resource_template' | 'prompt';

/** The policy as the list filter uses it: the active revision's optional entrypoint (a `PolicyRuntime`). */
export interface VisibilityPort {
  hasEntrypoint(name: string): boolean;
  evaluateEntrypoint(name: string, input: unknown): Promise<EntrypointResult>;
}

/** One list entry as the policy sees it. */
export interface VisibilityItem {
  name: string;
  server: string;
  annotations?: Record<string, unknown>;
  /** A resource's URI, a resource template's URI template. */
  uri?: string;
}

/**
 * The input of `mcp/visible` (docs/policies.md, "Who sees which tools"). It has no history on
 * purpose: the MCP spec forbids a tool set that changes as a side effect of other calls.
 */
export interface VisibilityInput {
  version: 1;
  kind: ListItemKind;
  principal: Principal;
  session: { id: string; client: ClientInfo };
  items: VisibilityItem[];
}

/** One list page to filter: its entries as the client would get them, each with the server it came from. */
export interface ListPage {
  kind: ListItemKind;
  principal: Principal;
  session: { id: string; client: ClientInfo };
  entries: readonly { entry: Record<string, unknown>; server: string }[];
}

/**
 * Filters list pages through the policy's `mcp/visible`, one evaluation per page. A policy without
 * the entrypoint lists everything, as before it existed; one whose answer cannot be had or read
 * lists nothing (fail closed) and the failure is logged as a warning. In monitor mode nothing is
 * hidden: what would be is logged, as calls that would be denied are.
 *
 * @example
 * ```ts
 * const filter = new ListFilter(warden.policy, logger, 'enforce');
 * const tools = await filter.visible({ kind: 'tool', principal, session, entries });
 * ```
 */
export class ListFilter {
  constructor(
    private readonly policy: VisibilityPort,
    private readonly logger: Logger,
    private readonly mode: 'enforce' | 'monitor',
  ) {}

  async visible(page: ListPage): Promise<Record<string, unknown>[]> {
    const all = page.entries.map((e) => e.entry);
    if (!this.policy.hasEntrypoint(VISIBLE_ENTRYPOINT) || all.length === 0) return all;
    const input = visibilityInput(page);
    const keys = await this.ask(input);
    const fields = {
      entrypoint: VISIBLE_ENTRYPOINT,
      kind: page.kind,
      session_id: page.session.id,
      principal: page.principal.sub,
    };
    if (typeof keys === 'string') {
      if (this.mode === 'monitor') {
        this.logger.warn('policy failure: list not filtered (monitor mode)', { ...fields, error: keys });
        return all;
      }
      this.logger.warn('policy failure: list withheld (fail closed)', { ...fields, error: keys });
      return [];
    }
    // An entry without a key (a resource without a URI) cannot be named visible: it stays hidden.
    const shown = input.items.map((item) => {
      const key = itemKey(page.kind, item);
      return key !== undefined && keys.has(key);
    });
    if (this.mode === 'monitor') {
      const hidden = input.items.filter((_, i) => !shown[i]).map((item) => item.uri ?? item.name);
      if (hidden.length > 0) this.logger.info('monitor: would hide', { ...fields, hidden });
      return all;
    }
    return all.filter((_, i) => shown[i]);
  }

  /** The names the policy makes visible, or why there are none to be had. */
  private async ask(input: VisibilityInput): Promise<Set<string> | string> {
    try {
      const answer = await this.policy.evaluateEntrypoint(VISIBLE_ENTRYPOINT, input);
      return answer.ok ? readVisible(answer.result) : answer.message;
    } catch (err) {
      return describeError(err);
    }
  }
}

/** The `mcp/visible` input document of one list page. */
export function visibilityInput(page: ListPage): VisibilityInput {
  return {
    version: 1,
    kind: page.kind,
    principal: page.principal,
    session: { id: page.session.id, client: page.session.client },
    items: page.entries.map(({ entry, server }) => visibilityItem(page.kind, entry, server)),
  };
}

function visibilityItem(kind: ListItemKind, entry: Record<string, unknown>, server: string): VisibilityItem {
  const uri = kind === 'resource' ? entry['uri'] : kind === 'resource_template' ? entry['uriTemplate'] : undefined;
  const annotations = entry['annotations'];
  return {
    name: String(entry['name'] ?? ''),
    server,
    ...(annotations && typeof annotations === 'object' ? { annotations: annotations as Record<string, unknown> } : {}),
    ...(typeof uri === 'string' ? { uri } : {}),
  };
}

/** What `mcp/visible` answers with for an item: a resource's URI, anything else's name. */
function itemKey(kind: ListItemKind, item: VisibilityItem): string | undefined {
  return kind === 'resource' ? item.uri : item.name;
}

/** The names an answer makes visible (an array or set of strings), or why it cannot be read. */
export function readVisible(result: unknown): Set<string> | string {
  if (!Array.isArray(result))
    return `${VISIBLE_ENTRYPOINT} must answer with an array (or set) of names, not ${describeValue(result)}`;
  const bad = result.find((name) => typeof name !== 'string');
  if (bad !== undefined) return `${VISIBLE_ENTRYPOINT} must answer with names (strings); it gave ${describeValue(bad)}`;
  return new Set(result as string[]);
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'an undefined result';
  if (value === null) return 'null';
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}
