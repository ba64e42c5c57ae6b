/**
 * Where people-facing lines go: stderr, so stdout stays clean for `--json`.
 *
 * Promises: a {@linkcode Logger} never throws (a closed stderr is ignored) and
 * writes nothing when quiet, except errors. Every line it writes goes through
 * `printable` (lib/core/text.ts): no text handed to it can control the
 * terminal. `info` keeps its line breaks (a summary is several lines); the
 * other methods write exactly one line.
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
import { printable } from "../core/text.ts";

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

/** Longest line written, after escaping (a backstop; fields are capped where formatted). */
const LINE_MAX = 4000;

/** One terminal line: controls (line breaks included) escaped, capped. */
function oneLine(text: string): string {
  return printable(text, LINE_MAX);
}

/** Several terminal lines: each escaped and capped; the breaks kept. */
function lines(text: string): string {
  return text.split("\n").map(oneLine).join("\n");
}

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
      write(`${lines(line)}\n`);
    },
    warn(line) {
      if (options.quiet) return;
      clear();
      write(`warning: ${oneLine(line)}\n`);
    },
    error(line) {
      clear();
      write(`error: ${oneLine(line)}\n`);
    },
    status(line) {
      if (options.quiet) return;
      if (isTerminal) {
        write(`\r\x1b[2K${oneLine(line)}`);
        statusShown = true;
      } else {
        write(`${oneLine(line)}\n`);
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
