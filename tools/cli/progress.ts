/**
 * Progress of the steps that take seconds (a build, a deploy, the first start with the
 * examples' builds, a cluster's start): one line on stderr, redrawn with the time spent, only
 * when stderr is a terminal and the output is not `--json`. In a pipe or a log file nothing is
 * drawn (the lines the commands print anyway stay as they were).
 */

/** How often the line is redrawn. */
const FRAME_MS = 100;
const FRAMES = ['|', '/', '-', '\\'];

export interface Progress {
  /** Prints `line` (stderr) above the progress line. */
  log(line: string): void;
  /** Changes what the progress line says. */
  step(label: string): void;
  /** Clears the line and stops redrawing. */
  done(): void;
}

/** What progress writes to: stderr, or a stand-in in tests. */
export interface ProgressStream {
  isTTY?: boolean;
  write(text: string): unknown;
}

/**
 * A progress line for `label`, drawn when `stream` is a terminal and `quiet` is false; else
 * one that only passes `log` lines through.
 *
 * @example
 * const p = progress('building my-fn.ts', { quiet: has(args, 'json') });
 * try { await build(); } finally { p.done(); }
 */
export function progress(label: string, opts: { quiet?: boolean; stream?: ProgressStream } = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  if (opts.quiet === true || stream.isTTY !== true) {
    return { log: (line) => void stream.write(`${line}\n`), step: () => undefined, done: () => undefined };
  }
  const started = Date.now();
  let frame = 0;
  let current = label;
  const draw = (): void => {
    frame = (frame + 1) % FRAMES.length;
    stream.write(`\r\x1b[K${FRAMES[frame]} ${current} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  };
  const timer = setInterval(draw, FRAME_MS);
  timer.unref();
  draw();
  let finished = false;
  return {
    log: (line) => {
      stream.write(`\r\x1b[K${line}\n`);
      if (!finished) draw();
    },
    step: (next) => {
      current = next;
      if (!finished) draw();
    },
    done: () => {
      if (finished) return;
      finished = true;
      clearInterval(timer);
      stream.write('\r\x1b[K');
    },
  };
}
