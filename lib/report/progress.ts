/**
 * Progress of the fetch, for people watching.
 *
 * Promises: on a terminal, one live line on stderr (done/total, rate,
 * retries, ETA) redrawn a few times a second; otherwise a plain line every
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

/**
 * Renders one progress line: done/total, rate, retries, 429s and ETA.
 *
 * @example
 * ```ts
 * import { progressLine } from "./progress.ts";
 * progressLine(5, 10, 2_000, { retries: 1, status429: 0 });
 * // "fetching 5/10 (50%), 2.5/s, 1 retries, 0 x 429, ETA 2s"
 * ```
 */
export function progressLine(
  done: number,
  total: number,
  elapsedMs: number,
  counters: { retries: number; status429: number },
): string {
  const rate = elapsedMs > 0 ? (done / elapsedMs) * 1000 : 0;
  const eta = rate > 0 ? Math.ceil((total - done) / rate) : null;
  const pct = total ? Math.floor((done / total) * 100) : 100;
  return `fetching ${done}/${total} (${pct}%), ${rate.toFixed(1)}/s, ` +
    `${counters.retries} retries, ${counters.status429} x 429` +
    (eta === null ? "" : `, ETA ${eta}s`);
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
  counters: () => { retries: number; status429: number },
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
