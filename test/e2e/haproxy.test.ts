import { Agent, createServer, request, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startHaproxy, type RunningHaproxy } from '../helpers/haproxy.js';

// The helper the replica tests stand on: real HAProxy in front of real HTTP servers. It is not
// skipped where haproxy is missing: startHaproxy installs it, or fails with the script's message.

const NAMES = ['r0', 'r1', 'r2'];
let servers: Server[] = [];
let lb: RunningHaproxy;

function nameServer(name: string): Promise<Server> {
  const server = createServer((_req, res) => res.end(name));
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function portOf(server: Server): number {
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('server not listening');
  return address.port;
}

function get(url: string, agent: Agent | false): Promise<{ body: string; socketReused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ body, socketReused: req.reusedSocket }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function sequence(agent: Agent | false): Promise<{ bodies: string[]; reused: number }> {
  const bodies: string[] = [];
  let reused = 0;
  for (let i = 0; i < 6; i++) {
    const { body, socketReused } = await get(`${lb.url}/who`, agent);
    bodies.push(body);
    if (socketReused) reused++;
  }
  return { bodies, reused };
}

/** Six requests in round-robin order: the three names twice, in a rotation of NAMES. */
function expectRoundRobin(bodies: string[]): void {
  const start = NAMES.indexOf(bodies[0] ?? '');
  expect(start).toBeGreaterThanOrEqual(0);
  const rotation = [...NAMES.slice(start), ...NAMES.slice(0, start)];
  expect(bodies).toEqual([...rotation, ...rotation]);
}

describe('HAProxy in front of three HTTP servers', () => {
  beforeAll(async () => {
    servers = await Promise.all(NAMES.map(nameServer));
    lb = await startHaproxy(servers.map((s, i) => ({ host: '127.0.0.1', port: portOf(s), name: NAMES[i] })));
  });

  afterAll(async () => {
    await lb?.stop();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });

  test('one kept-alive connection: requests still rotate through every backend', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const { bodies, reused } = await sequence(agent);
      expectRoundRobin(bodies);
      expect(reused).toBe(5);
    } finally {
      agent.destroy();
    }
    expect(await lb.stats()).toEqual({ r0: 2, r1: 2, r2: 2 });
  });

  test('a fresh connection per request: the same rotation, and stats agree', async () => {
    const { bodies, reused } = await sequence(false);
    expectRoundRobin(bodies);
    expect(reused).toBe(0);
    expect(await lb.stats()).toEqual({ r0: 4, r1: 4, r2: 4 });
  });

  test('stop() frees the port', async () => {
    await lb.stop();
    await expect(get(`${lb.url}/who`, false)).rejects.toThrow(/ECONNREFUSED/);
    const probe = createNetServer();
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen(lb.port, '127.0.0.1', () => resolve());
    });
    await new Promise((r) => probe.close(r));
  });
});
