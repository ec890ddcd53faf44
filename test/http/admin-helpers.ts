// Shared by the admin API tests and the dashboard's browser test: principals with bearer tokens,
// the two policies used (the approval fixture and the shipped policy with the example servers),
// and small clients for the admin API and its SSE stream.
import { join } from 'node:path';
import { EXAMPLES, POLICIES, ROOT, SERVERS, nodeServer } from '../helpers/warden.js';
import { connectHttp } from '../helpers/http.js';

/** Who is who: tokens are at least 16 characters (docs/http.md). */
export const PEOPLE = {
  alice: { token: 'alice-token-0123456789', sub: 'alice', roles: ['developer'] },
  bob: { token: 'bob-token-0123456789ab', sub: 'bob', roles: ['approver', 'release-manager'] },
  carol: { token: 'carol-token-0123456789', sub: 'carol', roles: ['admin'] },
  erin: { token: 'erin-token-0123456789a', sub: 'erin', roles: ['approver'] },
  root: { token: 'root-token-0123456789a', sub: 'root', roles: ['admin', 'release-manager'] },
} as const;

export type Person = keyof typeof PEOPLE;

export const BEARER = {
  type: 'bearer',
  tokens: Object.values(PEOPLE).map((p) => ({ token: p.token, sub: p.sub, roles: [...p.roles] })),
};

/** The approval fixture: `echo` of a message starting "approve-me" needs role approver. No workflow status. */
export function approvalConfig(approval: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    mcpServers: { faulty: nodeServer(join(SERVERS, 'faulty.js'), '$CALL_LOG') },
    policy: { bundle: join(POLICIES, 'approval') },
    auth: BEARER,
    approval: { timeoutMs: 20_000, progressIntervalMs: 500, ...approval },
  };
}

/** The shipped policy (with data.mcp.workflow.status) in front of the example CI server. */
export function shippedConfig(approval: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    mcpServers: { ci: nodeServer(join(EXAMPLES, 'ci.js'), '$CALL_LOG') },
    policy: { bundle: join(ROOT, 'policy') },
    auth: BEARER,
    approval: { timeoutMs: 30_000, progressIntervalMs: 500, ...approval },
  };
}

export interface AdminResponse<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
  text: string;
}

/** One admin API request as `who` (or without a token). */
export async function admin<T = Record<string, unknown>>(
  url: string,
  path: string,
  who: Person | null,
  init: { method?: string; body?: unknown } = {},
): Promise<AdminResponse<T>> {
  const res = await fetch(`${url}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      ...(who ? { Authorization: `Bearer ${PEOPLE[who].token}` } : {}),
      ...(init.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
    },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  return { status: res.status, body: body as T, headers: res.headers, text };
}

/** An MCP client as `who`; `close()` ends the session (DELETE), as a well-behaved client does. */
export async function agent(
  url: string,
  who: Person,
  capabilities: Record<string, unknown> = {},
): Promise<{ client: Awaited<ReturnType<typeof connectHttp>>['client']; close(): Promise<void> }> {
  const { client, transport } = await connectHttp(url, { token: PEOPLE[who].token, capabilities });
  return {
    client,
    close: async () => {
      await transport.terminateSession().catch(() => undefined);
      await client.close();
    },
  };
}

export interface SseEvent {
  id: number | null;
  type: string;
  data: Record<string, unknown>;
}

/** Follows `/admin/events` as `who`, collecting events until `close()`. */
export async function followEvents(
  url: string,
  who: Person,
): Promise<{ events: SseEvent[]; status: number; close(): void }> {
  const controller = new AbortController();
  const res = await fetch(`${url}/admin/events`, {
    headers: { Authorization: `Bearer ${PEOPLE[who].token}`, Accept: 'text/event-stream' },
    signal: controller.signal,
  });
  const events: SseEvent[] = [];
  if (res.ok && res.body) {
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    void (async () => {
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          buffer += decoder.decode(value, { stream: true });
          let cut: number;
          while ((cut = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            const event: SseEvent = { id: null, type: 'message', data: {} };
            let data = '';
            for (const line of block.split('\n')) {
              if (line.startsWith(':')) continue;
              const i = line.indexOf(':');
              const field = i < 0 ? line : line.slice(0, i);
              const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
              if (field === 'event') event.type = value;
              else if (field === 'data') data += value;
              else if (field === 'id') event.id = Number(value);
            }
            if (data) event.data = JSON.parse(data) as Record<string, unknown>;
            if (event.type !== 'message' || data) events.push(event);
          }
        }
      } catch {
        // aborted
      }
    })();
  }
  return { events, status: res.status, close: () => controller.abort() };
}
