/**
 * Progress of long CLI work (`warden replay`, `warden audit verify|export`, `warden init`) on
 * stderr, drawn by the npm package cli-progress (3.x) when stderr is a terminal.
 * Otherwise (a pipe, a file, CI) nothing at all is written, so stdout stays machine-readable and
 * stderr holds only real errors.
 *
 * cli-progress is loaded only when a bar is drawn. When it is not installed the work runs without
 * a bar: progress is a courtesy, never a reason to fail.
 *
 * @example
 * ```ts
 * const progress = await openProgress({ label: 'verify', unit: 'records', total: head });
 * for (const page of pages) progress.update(done += page.length);
 * progress.stop();
 * ```
 */
export interface Progress {
  /** Moves the bar to `done` (of the total); `label` replaces the step's name. */
  update(done: number, label?: string): void;
  /** Changes the total (work found to be larger or smaller than announced). */
  setTotal(total: number): void;
  /** Removes the bar; call it before printing anything else. */
  stop(): void;
}

export interface ProgressOptions {
  label: string;
  /** What is counted: records, sessions, steps. */
  unit: string;
  total: number;
  /** Default process.stderr. */
  stream?: NodeJS.WriteStream;
  /** `--no-progress`: false turns it off even on a terminal. */
  enabled?: boolean;
}

/** The part of cli-progress 3.x used here. */
interface SingleBarLike {
  start(total: number, value: number, payload?: Record<string, unknown>): void;
  update(value: number, payload?: Record<string, unknown>): void;
  setTotal(total: number): void;
  stop(): void;
}
interface CliProgressModule {
  SingleBar: new (options: Record<string, unknown>, preset?: unknown) => SingleBarLike;
  Presets: { shades_classic: unknown };
}

const NOOP: Progress = { update: () => undefined, setTotal: () => undefined, stop: () => undefined };

/** Whether a bar would be drawn on this stream: a terminal, not switched off. */
export function progressWanted(options: Pick<ProgressOptions, 'stream' | 'enabled'> = {}): boolean {
  const stream = options.stream ?? process.stderr;
  return options.enabled !== false && stream.isTTY === true && process.env['TERM'] !== 'dumb';
}

/** A progress bar on a terminal, or a no-op anywhere else. */
export async function openProgress(options: ProgressOptions): Promise<Progress> {
  if (!progressWanted(options)) return NOOP;
  const lib = await loadCliProgress();
  if (!lib) return NOOP;
  const bar = new lib.SingleBar(
    {
      stream: options.stream ?? process.stderr,
      format: '{label} [{bar}] {percentage}% | {value}/{total} {unit} | {duration_formatted}',
      hideCursor: true,
      clearOnComplete: true,
      stopOnComplete: false,
      fps: 10,
    },
    lib.Presets.shades_classic,
  );
  bar.start(Math.max(0, options.total), 0, { label: options.label, unit: options.unit });
  let stopped = false;
  return {
    update: (done, label) => {
      if (!stopped) bar.update(done, label ? { label } : {});
    },
    setTotal: (total) => {
      if (!stopped) bar.setTotal(Math.max(0, total));
    },
    stop: () => {
      if (stopped) return;
      stopped = true;
      bar.stop();
    },
  };
}

let loaded: Promise<CliProgressModule | null> | undefined;

function loadCliProgress(): Promise<CliProgressModule | null> {
  // A specifier in a variable: the package is optional at build time (see the module comment).
  const specifier = 'cli-progress';
  loaded ??= import(specifier).then(
    (mod: { default?: CliProgressModule } & Partial<CliProgressModule>) =>
      mod.SingleBar ? (mod as CliProgressModule) : (mod.default ?? null),
    () => null,
  );
  return loaded;
}
