/**
 * Where people-facing lines go: stderr, so stdout stays clean for `--json`.
 *
 * Promises: a {@linkcode Logger} never throws (a closed stderr is ignored) and
 * writes nothing when quiet, except errors.
 *
 * @example
 * ```ts
 * import { stderrLogger } from "./log.ts";
 * const log = stderrLogger({ quiet: false });
 * log.info("fetching 50 symbols with 3 workers");
 * ```
 *
 * @module
 */

/** Lines for people. */
export interface Logger {
  /** Progress and summaries; dropped when quiet. */
  info(line: string): void;
  /** Something the user should know; dropped when quiet. */
  warn(line: string): void;
  /** Always written. */
  error(line: string): void;
  /** Rewrites the current terminal line (progress); dropped when quiet. */
  status(line: string): void;
  /** True when stderr is a terminal (live progress line). */
  readonly isTerminal: boolean;
}

const encoder = new TextEncoder();

function write(text: string): void {
  try {
    Deno.stderr.writeSync(encoder.encode(text));
  } catch {
    // stderr closed: nothing useful left to do.
  }
}

/**
 * A logger writing to this process's stderr.
 *
 * @example
 * ```ts
 * import { stderrLogger } from "./log.ts";
 * stderrLogger({ quiet: true }).info("not shown");
 * ```
 */
export function stderrLogger(options: { quiet: boolean }): Logger {
  const isTerminal = Deno.stderr.isTerminal();
  let statusShown = false;
  const clear = () => {
    if (statusShown) write("\r\x1b[2K");
    statusShown = false;
  };
  return {
    isTerminal,
    info(line) {
      if (options.quiet) return;
      clear();
      write(`${line}\n`);
    },
    warn(line) {
      if (options.quiet) return;
      clear();
      write(`warning: ${line}\n`);
    },
    error(line) {
      clear();
      write(`error: ${line}\n`);
    },
    status(line) {
      if (options.quiet) return;
      if (isTerminal) {
        write(`\r\x1b[2K${line}`);
        statusShown = true;
      } else {
        write(`${line}\n`);
      }
    },
  };
}

/**
 * A logger that keeps lines in memory, for tests.
 *
 * @example
 * ```ts
 * import { memoryLogger } from "./log.ts";
 * const log = memoryLogger();
 * log.info("hello");
 * log.lines; // ["hello"]
 * ```
 */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    isTerminal: false,
    info: (line) => lines.push(line),
    warn: (line) => lines.push(`warning: ${line}`),
    error: (line) => lines.push(`error: ${line}`),
    status: (line) => lines.push(line),
  };
}
