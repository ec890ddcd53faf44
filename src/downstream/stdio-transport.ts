import { spawn, type ChildProcess } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ReadBuffer, serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

export interface GroupStdioParameters {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
}

/** How long a server gets to leave after its stdin closes, then after SIGTERM. */
const GRACE_MS = 2000;

/**
 * A stdio client transport that starts the server as the leader of its own process group and ends
 * the whole group on close (POSIX).
 *
 * The SDK's `StdioClientTransport` spawns without `detached` and signals only its direct child, so
 * servers started through a wrapper (`npx`, `tsx`, `uv run`, a shell script) leave the real server
 * running as an orphan after every session: on a shared HTTP Warden that is one leaked process per
 * session. Same protocol handling as the SDK's (its `ReadBuffer`, `serializeMessage` and default
 * environment), so only the process lifecycle differs.
 *
 * Close: end stdin (the normal way a stdio server is told to stop), wait, SIGTERM the group, wait,
 * SIGKILL the group. The group is signalled even when the direct child left on its own, since a
 * wrapper that exits on EOF may still leave its children behind.
 */
export class ProcessGroupStdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  private child: ChildProcess | undefined;
  private readonly readBuffer = new ReadBuffer();
  private readonly stderrStream = new PassThrough();

  constructor(private readonly params: GroupStdioParameters) {}

  /** The server's stderr; available before `start()` so early output is not lost. */
  get stderr(): PassThrough {
    return this.stderrStream;
  }

  /** The server's pid, which is also its process group id. */
  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  start(): Promise<void> {
    if (this.child) throw new Error('ProcessGroupStdioTransport already started');
    return new Promise((resolve, reject) => {
      const child = spawn(this.params.command, this.params.args, {
        env: { ...getDefaultEnvironment(), ...this.params.env },
        cwd: this.params.cwd,
        stdio: ['pipe', 'pipe', 'pipe'],
        shell: false,
        // Its own process group (setsid): the group id is the pid, so closing can reach grandchildren.
        detached: true,
      });
      this.child = child;
      child.on('error', (error) => {
        reject(error);
        this.onerror?.(error);
      });
      child.on('spawn', () => resolve());
      child.on('close', () => {
        if (this.child === child) this.child = undefined;
        this.onclose?.();
      });
      child.stdin?.on('error', (error) => this.onerror?.(error));
      child.stdout?.on('error', (error) => this.onerror?.(error));
      child.stdout?.on('data', (chunk: Buffer) => {
        try {
          this.readBuffer.append(chunk);
          this.drain();
        } catch (error) {
          this.onerror?.(error as Error);
          void this.close();
        }
      });
      child.stderr?.pipe(this.stderrStream);
    });
  }

  private drain(): void {
    for (;;) {
      try {
        const message = this.readBuffer.readMessage();
        if (message === null) return;
        this.onmessage?.(message);
      } catch (error) {
        this.onerror?.(error as Error);
      }
    }
  }

  send(message: JSONRPCMessage): Promise<void> {
    return new Promise((resolve, reject) => {
      const stdin = this.child?.stdin;
      if (!stdin) return reject(new Error('Not connected'));
      if (stdin.write(serializeMessage(message))) resolve();
      else stdin.once('drain', resolve);
    });
  }

  async close(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    this.readBuffer.clear();
    if (!child || child.pid === undefined) return;
    const pgid = child.pid;
    // 'exit', not 'close': grandchildren holding the pipes would keep 'close' from firing.
    const exited =
      child.exitCode !== null || child.signalCode !== null
        ? Promise.resolve()
        : new Promise<void>((r) => child.once('exit', () => r()));
    try {
      child.stdin?.end();
    } catch {
      // already gone
    }
    await Promise.race([exited, delay(GRACE_MS)]);
    if (!signalGroup(pgid, 'SIGTERM')) return;
    // Give the group (direct child or what it left behind) the grace period, then force it.
    const deadline = Date.now() + GRACE_MS;
    while (Date.now() < deadline) {
      await delay(25);
      if (!signalGroup(pgid, 0)) return;
    }
    signalGroup(pgid, 'SIGKILL');
  }
}

/** Signals every process in the group; false when none is left. */
function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
