// The HAProxy set-up that Warden's replica tests and benchmarks share: its config file and the
// reading of its stats. HAProxy itself comes from Debian's package (scripts/haproxy-test.sh).

/** The backend the replicas are servers of. */
export const BACKEND = 'replicas';

/**
 * HAProxy's config for `backends` behind 127.0.0.1:`port`: HTTP mode, plain round robin, no
 * stickiness, stats as CSV on `statsPort`.
 *
 * @param {number} port
 * @param {number} statsPort
 * @param {{host: string, port: number, name?: string}[]} backends  names default to r0, r1, ...
 * @param {{timeoutMs?: number, checkIntervalMs?: number}} [options]
 *   timeoutMs: how long a quiet SSE stream or a slow call may stay open (default 120 s);
 *   checkIntervalMs: TCP health checks this often (a dead replica leaves the rotation); off when unset.
 */
export function haproxyConfig(port, statsPort, backends, options = {}) {
  const timeout = options.timeoutMs ?? 120_000;
  const check = options.checkIntervalMs ? ` check inter ${options.checkIntervalMs}ms fall 1 rise 1` : '';
  const servers = backends.map((b, i) => `  server ${b.name ?? `r${i}`} ${b.host}:${b.port}${check}`);
  return [
    'global',
    '  maxconn 256',
    '',
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    `  timeout client ${timeout}ms`,
    `  timeout server ${timeout}ms`,
    '  timeout http-request 10s',
    '  timeout http-keep-alive 10s',
    // Close the server side after each response: the next request on the same client connection
    // is balanced again instead of following the connection to the same replica.
    '  option http-server-close',
    // A request that cannot connect to a replica (it died) is sent to another one: it never ran.
    '  retries 2',
    '  option redispatch 1',
    '',
    'frontend front',
    `  bind 127.0.0.1:${port}`,
    `  default_backend ${BACKEND}`,
    '',
    `backend ${BACKEND}`,
    '  balance roundrobin',
    ...servers,
    '',
    'listen stats',
    `  bind 127.0.0.1:${statsPort}`,
    '  stats enable',
    '  stats uri /stats',
    '',
  ].join('\n');
}

/**
 * Requests each server of `backend` was sent (column `stot`), from HAProxy's stats CSV.
 *
 * @param {string} csv
 * @returns {Record<string, number>}
 */
export function parseHaproxyStats(csv, backend = BACKEND) {
  const [header, ...rows] = csv.trim().split('\n');
  const columns = (header ?? '').replace(/^# /, '').split(',');
  const [pxname, svname, stot] = ['pxname', 'svname', 'stot'].map((c) => columns.indexOf(c));
  if (pxname < 0 || svname < 0 || stot < 0) throw new Error(`not HAProxy stats CSV:\n${csv}`);
  const counts = {};
  for (const cells of rows.map((r) => r.split(','))) {
    const server = cells[svname] ?? '';
    if (cells[pxname] !== backend || server === 'FRONTEND' || server === 'BACKEND') continue;
    counts[server] = Number(cells[stot] || 0);
  }
  return counts;
}
