/**
 * The time a module reads and the waits it takes, as one small interface, so
 * tests can run a module on a clock of their own (the role Deno std's
 * `FakeTime` plays; JSR is out of reach here, so this is ours).
 *
 * Promises: {@linkcode realClock} is `Date.now()` and {@linkcode delay};
 * any {@linkcode Clock} answers `now()` in epoch milliseconds that never go
 * backwards, and `sleep()` resolves once `now()` has advanced by at least
 * `ms`, or rejects with the signal's reason as soon as it aborts.
 *
 * @example
 * ```ts
 * import { type Clock, realClock } from "./clock.ts";
 * async function waitAndSay(clock: Clock = realClock) {
 *   const start = clock.now();
 *   await clock.sleep(10);
 *   return clock.now() - start; // >= 10
 * }
 * await waitAndSay();
 * ```
 *
 * @module
 */
import { delay } from "./delay.ts";

/** A source of time and of waits. */
export interface Clock {
  /** Milliseconds since the epoch, as this clock sees them. */
  now(): number;
  /** Resolves once `now()` has advanced by `ms`; rejects when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/**
 * The wall clock: `Date.now()` and a timer.
 *
 * @example
 * ```ts
 * import { realClock } from "./clock.ts";
 * await realClock.sleep(1);
 * ```
 */
export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => delay(Math.max(0, ms), { signal }),
};
