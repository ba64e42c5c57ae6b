/**
 * Progress of the fetch, for people watching.
 *
 * Promises: on a terminal, one live line on stderr (done/total, rate,
 * retries, ETA, and while the server has the pool paused, for how long)
 * redrawn a few times a second; otherwise a plain line every few seconds, so
 * CI logs stay short. Nothing goes to stdout, so `--json` output stays one
 * object.
 *
 * Only work done counts: a symbol counts once its answer came back (fetched,
 * failed or not found); one that was never asked (a signal, an unreachable
 * host, a spent budget) is reported with `skipped()` and never shows as
 * done. Once every symbol is accounted for, or on `stop()`, the line is
 * drawn one last time as `fetched N/TOTAL ...` (with how many were not
 * fetched) and never again: a run waiting for the lock afterwards does not
 * redraw it with a falling rate.
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
import { counted, grouped } from "../core/text.ts";
import type { Logger } from "./log.ts";

/** A running progress display. */
export interface Progress {
  /** Records `n` more symbols whose answers came back. */
  done(n?: number): void;
  /** Records `n` more symbols that were never fetched (they never count as done). */
  skipped(n?: number): void;
  /** Stops redrawing, drawing the final line if it was not drawn yet. */
  stop(): void;
}

/** What the progress line shows besides the counts of symbols. */
export interface ProgressCounters {
  /** Attempts after a request's first. */
  retries: number;
  /** Answers with status 429. */
  status429: number;
  /** Milliseconds until the pool's current pause ends; 0 or absent when not paused. */
  pausedMs?: number;
}

/**
 * Renders one progress line; `final` renders the last one (no ETA or
 * pause, and how many were not fetched).
 *
 * @example
 * ```ts
 * import { progressLine } from "./progress.ts";
 * progressLine(10, 50, 2000, { retries: 0, status429: 0, pausedMs: 12_000 });
 * // "fetching 10/50 (20%), 5.0/s, 0 retries, 0 x 429, paused by the server, resuming in 12s"
 * progressLine(10, 50, 2000, { retries: 0, status429: 0 }, { skipped: 40 });
 * // "fetched 10/50 (20%), 5.0/s, 0 retries, 0 x 429; 40 not fetched"
 * ```
 */
export function progressLine(
  done: number,
  total: number,
  elapsedMs: number,
  counters: ProgressCounters,
  final?: { skipped: number },
): string {
  const rate = elapsedMs > 0 ? (done / elapsedMs) * 1000 : 0;
  const eta = rate > 0 ? Math.ceil((total - done) / rate) : null;
  const pct = total ? Math.floor((done / total) * 100) : 100;
  const head = `${final ? "fetched" : "fetching"} ${grouped(done)}/${grouped(total)} (${pct}%), ` +
    `${rate.toFixed(1)}/s, ${counted(counters.retries, "retry", "retries")}, ` +
    `${grouped(counters.status429)} x 429`;
  if (final) return head + (final.skipped ? `; ${grouped(final.skipped)} not fetched` : "");
  return head +
    (counters.pausedMs
      ? `, paused by the server, resuming in ${Math.ceil(counters.pausedMs / 1000)}s`
      : eta === null
      ? ""
      : `, ETA ${eta}s`);
}

/**
 * Starts showing progress for `total` symbols; see the module doc. `now` is
 * the clock in milliseconds (tests inject one).
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
  intervalMs: number = log.isTerminal ? 250 : 5_000,
  now: () => number = () => performance.now(),
): Progress {
  const started = now();
  let finished = 0;
  let skipped = 0;
  let over = false;
  const draw = () => log.status(progressLine(finished, total, now() - started, counters()));
  const timer = setInterval(draw, intervalMs);
  const end = () => {
    if (over) return;
    over = true;
    clearInterval(timer);
    const line = progressLine(finished, total, now() - started, counters(), { skipped });
    // On a terminal the live line becomes a plain one; a log gets it once more.
    if (log.isTerminal) log.info(line);
    else log.status(line);
  };
  const settleIfAllAccounted = () => {
    if (finished + skipped >= total) end();
  };
  return {
    done(n = 1) {
      if (over) return;
      finished += n;
      settleIfAllAccounted();
    },
    skipped(n = 1) {
      if (over) return;
      skipped += n;
      settleIfAllAccounted();
    },
    stop: end,
  };
}
