/**
 * Waiting that a signal can cut short, with the signature of `@std/async`'s
 * `delay` (swap in `jsr:@std/async/delay` with a one-line import change).
 *
 * Promises: resolves after `ms`, or rejects with the signal's reason as soon
 * as it aborts (at once if it already has).
 *
 * @example
 * ```ts
 * import { delay } from "./delay.ts";
 * const controller = new AbortController();
 * await delay(100, { signal: controller.signal });
 * ```
 *
 * @module
 */

/** Options for {@linkcode delay}. */
export interface DelayOptions {
  /** Aborting rejects the wait with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Resolves after `ms` milliseconds; see the module doc.
 *
 * @example
 * ```ts
 * import { delay } from "./delay.ts";
 * await delay(10);
 * ```
 */
export function delay(ms: number, options: DelayOptions = {}): Promise<void> {
  const { signal } = options;
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
