/**
 * The retire guard: how many "not found" symbols one run may retire.
 *
 * Promises: pure rules, written once. A run retires nothing when nothing was
 * fetched, when it had fewer than {@linkcode RETIRE_MIN_TARGETS} targets, or
 * when more of its targets came back "not found" than
 * {@linkcode maxRetirable} allows: that looks like a wrong `--base-url` or
 * an API change, not delistings.
 *
 * @module
 */

/** The largest share of a run's targets that may be retired at once. */
export const RETIRE_MAX_SHARE = 0.25;
/** Runs with fewer targets than this retire nothing. */
export const RETIRE_MIN_TARGETS = 4;

/**
 * How many "not found" symbols a run of `targets` symbols may retire: none
 * below {@linkcode RETIRE_MIN_TARGETS} targets, else at most
 * {@linkcode RETIRE_MAX_SHARE} of them, rounded down (4 targets: 1; 8: 2).
 *
 * @example
 * ```ts
 * import { maxRetirable } from "./retire.ts";
 * maxRetirable(3); // 0
 * maxRetirable(4); // 1
 * ```
 */
export function maxRetirable(targets: number): number {
  return targets < RETIRE_MIN_TARGETS ? 0 : Math.floor(targets * RETIRE_MAX_SHARE);
}

/** What the guard decided: the symbols to retire, or why none are. */
export type RetireDecision =
  | { retire: string[]; refused: null }
  | { retire: []; refused: string };

/**
 * Applies the guard to one run's (or chunk's) definite not-founds.
 *
 * @example
 * ```ts
 * import { retirable } from "./retire.ts";
 * retirable(["NASDAQ:GONE"], 3, 4).retire;  // ["NASDAQ:GONE"]
 * retirable(["NASDAQ:GONE"], 2, 3).refused; // "not retiring: 1 of 3 ..."
 * ```
 */
export function retirable(
  notFound: readonly string[],
  fetched: number,
  targets: number,
): RetireDecision {
  if (notFound.length === 0) return { retire: [], refused: null };
  if (fetched === 0 || notFound.length > maxRetirable(targets)) {
    return {
      retire: [],
      refused: `not retiring: ${notFound.length} of ${targets} symbols were "not found" and ` +
        `${fetched} fetched; at most ${maxRetirable(targets)} may be retired at once ` +
        `(none of fewer than ${RETIRE_MIN_TARGETS} targets, at most ${RETIRE_MAX_SHARE * 100}%), ` +
        "so this looks like a wrong --base-url or an API change rather than delistings",
    };
  }
  return { retire: [...notFound], refused: null };
}
