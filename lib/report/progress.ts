/**
 * Progress of the fetch, for people watching.
 *
 * Promises: on a terminal, one live line on stderr (done/total, rate,
 * retries, ETA, and while the server has the pool paused, for how long) redrawn a few times a second; otherwise a plain line every
 * few seconds, so CI logs stay short. Nothing goes to stdout, so `--json`
 * output stays one object. `stop()` clears the live line.
 *
 * @example
 * ```ts
 * import { startProgress } from "./progress.ts";
 * import { stderrLogger } from "./log.ts";
 * const progress = startProgress(50, stderrLogger({ quiet: false }), () => ({ retries: 0, status429: 0 }));
 * progress.done(1);
 * progress.stop();
 * ```
 *
 * @module
 */
import type { Logger } from "./log.ts";

/** A running progress display. */
export interface Progress {
  /** Records `n` more finished symbols. */
  done(n?: number): void;
  /** Stops redrawing (and clears the live line). */
  stop(): void;
}

/** What the progress line shows besides the counts of symbols. */
export interface ProgressCounters {
  retries: number;
  status429: number;
  /** Milliseconds until the pool's current pause ends; 0 or absent when not paused. */
  pausedMs?: number;
}

/**
 * Renders one progress line.
 *
 * @example
 * ```ts
 * import { progressLine } from "./progress.ts";
 * progressLine(10, 50, 2000, { retries: 0, status429: 0, pausedMs: 12_000 });
 * // "fetching 10/50 (20%), 5.0/s, 0 retries, 0 x 429, paused by the server, resuming in 12s"
 * ```
 */
export function progressLine(
  done: number,
  total: number,
  elapsedMs: number,
  counters: ProgressCounters,
): string {
  const rate = elapsedMs > 0 ? (done / elapsedMs) * 1000 : 0;
  const eta = rate > 0 ? Math.ceil((total - done) / rate) : null;
  const pct = total ? Math.floor((done / total) * 100) : 100;
  return `fetching ${done}/${total} (${pct}%), ${rate.toFixed(1)}/s, ` +
    `${counters.retries} retries, ${counters.status429} x 429` +
    (counters.pausedMs
      ? `, paused by the server, resuming in ${Math.ceil(counters.pausedMs / 1000)}s`
      : eta === null
      ? ""
      : `, ETA ${eta}s`);
}

/**
 * Starts showing progress for `total` symbols; see the module doc.
 *
 * @example
 * ```ts
 * import { startProgress } from "./progress.ts";
 * import { memoryLogger } from "./log.ts";
 * const p = startProgress(10, memoryLogger(), () => ({ retries: 0, status429: 0 }), 10);
 * p.stop();
 * ```
 */
export function startProgress(
  total: number,
  log: Logger,
  counters: () => ProgressCounters,
  intervalMs = log.isTerminal ? 250 : 5_000,
): Progress {
  const started = performance.now();
  let finished = 0;
  const draw = () =>
    log.status(progressLine(finished, total, performance.now() - started, counters()));
  const timer = setInterval(draw, intervalMs);
  return {
    done(n = 1) {
      finished += n;
    },
    stop() {
      clearInterval(timer);
      if (log.isTerminal) {
        log.info(progressLine(finished, total, performance.now() - started, counters()));
      }
    },
  };
}
