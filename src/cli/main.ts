#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { describeError, WardenError } from '../common/index.js';
import { WARDEN_VERSION } from '../proxy/index.js';
import { registerPolicyCommands } from './policy-command.js';
import { serveStdio } from './serve.js';

/** Runs the `warden` CLI; returns the exit code. Output goes through `io` so tests can capture it. */
export async function main(argv: string[], io = { out: (t: string) => void process.stdout.write(t), err: (t: string) => void process.stderr.write(t) }): Promise<number> {
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
    .description('run the proxy: MCP on stdio (default)')
    .requiredOption('-c, --config <file>', 'warden.yaml or .json')
    .option('--log-level <level>', 'error | warn | info | debug')
    .action(async (opts: { config: string; logLevel?: 'error' | 'warn' | 'info' | 'debug' }) => {
      setExit(await serveStdio({ config: opts.config, ...(opts.logLevel ? { logLevel: opts.logLevel } : {}) }));
    });

  registerPolicyCommands(program, io, setExit);

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
