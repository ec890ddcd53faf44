#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { ConfigError, describeError, WardenError } from '../common/index.js';
import { WARDEN_VERSION } from '../proxy/index.js';
import { loadConfig } from '../config/index.js';
import { registerAuditCommands, type ResolvedAudit } from './audit-command.js';
import { registerInitCommand } from './init-command.js';
import { registerPolicyCommands } from './policy-command.js';
import { registerPolicyModeCommands } from './policy-mode.js';
import { registerReplayCommand } from './replay-command.js';
import { registerToolsCommands } from './tools-command.js';
import { serveStdio } from './serve.js';
import { serveHttp } from './serve-http.js';

/** Runs the `warden` CLI; returns the exit code. Output goes through `io` so tests can capture it. */
export async function main(
  argv: string[],
  io = { out: (t: string) => void process.stdout.write(t), err: (t: string) => void process.stderr.write(t) },
): Promise<number> {
  let exitCode = 0;
  const setExit = (code: number): void => {
    exitCode = Math.max(exitCode, code);
  };
  const program = new Command()
    .name('warden')
    .description('Warden: a governance proxy for the Model Context Protocol')
    .version(WARDEN_VERSION)
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });

  program
    .command('serve')
    .description('run the proxy: MCP on stdio (default), or Streamable HTTP at /mcp with --http')
    .requiredOption('-c, --config <file>', 'warden.yaml or .json')
    .option('--http <port>', 'serve Streamable HTTP on this port (0 picks a free one) instead of stdio', parsePort)
    .option('--host <host>', 'address to bind with --http (default 127.0.0.1; anything else needs auth in the config)')
    .option('--log-level <level>', 'error | warn | info | debug')
    .action(
      async (opts: {
        config: string;
        http?: number;
        host?: string;
        logLevel?: 'error' | 'warn' | 'info' | 'debug';
      }) => {
        const logLevel = opts.logLevel ? { logLevel: opts.logLevel } : {};
        if (opts.host !== undefined && opts.http === undefined) {
          io.err('warden: --host applies to --http only. Fix: add --http PORT, or drop --host to serve on stdio.\n');
          return setExit(2);
        }
        if (opts.http !== undefined)
          setExit(
            await serveHttp({
              config: opts.config,
              port: opts.http,
              ...(opts.host ? { host: opts.host } : {}),
              ...logLevel,
            }),
          );
        else setExit(await serveStdio({ config: opts.config, ...logLevel }));
      },
    );

  registerInitCommand(program, io, setExit);
  registerPolicyCommands(program, io, setExit);
  registerPolicyModeCommands(program, io, setExit);
  registerReplayCommand(program, io, setExit);
  // `warden audit` and `warden tools` read the same store: --store URL, or the one --config configures.
  const resolveStore = (opts: { config?: string }): ResolvedAudit => {
    if (!opts.config)
      throw new ConfigError(
        'audit_store_missing',
        'this command needs --store URL (sqlite:PATH or postgres://...) or --config FILE to use the configured store',
      );
    const { audit } = loadConfig(opts.config);
    return {
      store: audit.store,
      checkpointEvery: audit.checkpointEvery,
      ...(audit.retention ? { archiveDir: audit.retention.archiveDir } : {}),
      ...(audit.signingKey ? { signingKey: audit.signingKey } : {}),
    };
  };
  registerAuditCommands(program, { io, setExit, resolveStore });
  registerToolsCommands(program, { io, setExit, resolveStore });

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    io.err(`warden: ${describeError(err)}\n`);
    return err instanceof WardenError ? 2 : 1;
  }
  return exitCode;
}

// Run when executed as the `warden` binary (through any symlink), not when imported by tests.
if (isEntryPoint()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`warden: ${describeError(err)}\n`);
      process.exitCode = 1;
    },
  );
}

function isEntryPoint(): boolean {
  const invoked = process.argv[1];
  if (!invoked) return false;
  try {
    return realpathSync(invoked) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535)
    throw new InvalidArgumentError('must be a port number, 0-65535 (0 picks a free port)');
  return port;
}
