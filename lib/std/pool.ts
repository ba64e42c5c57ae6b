/**
 * Bounded concurrency over an (async) iterable, with the signature and
 * semantics of `pooledMap` from `@std/async`, so that swapping in
 * `jsr:@std/async/pool` later is a one-line import change.
 *
 * Promises:
 * - results are yielded in input order;
 * - at most `poolLimit` calls of `iteratorFn` are in flight at once;
 * - work starts at once (not when iteration starts);
 * - when a call rejects, no new item starts, the calls in flight finish, the
 *   successful results are still yielded, and then iteration throws one
 *   `AggregateError` holding every rejection among them.
 *
 * It does not cancel work in flight; callers who need that pass their own
 * AbortSignal. The meta-ingest fetcher never rejects (each symbol's outcome
 * is a value), so one bad symbol never stops the pool.
 *
 * @example
 * ```ts
 * import { pooledMap } from "./pool.ts";
 * const squares = pooledMap(3, [1, 2, 3, 4], async (n) => n * n);
 * for await (const s of squares) console.log(s); // 1, 4, 9, 16
 * ```
 *
 * @module
 */

/** The message of the AggregateError thrown when an item's call rejected. */
export const ERROR_WHILE_MAPPING_MESSAGE =
  "Cannot complete the mapping as an error was thrown from an item";

/**
 * Maps `array` through `iteratorFn` with at most `poolLimit` calls in flight;
 * see the module doc.
 *
 * @example
 * ```ts
 * import { pooledMap } from "./pool.ts";
 * const results = await Array.fromAsync(pooledMap(2, ["a", "b"], async (s) => s.toUpperCase()));
 * // ["A", "B"]
 * ```
 */
export function pooledMap<T, R>(
  poolLimit: number,
  array: Iterable<T> | AsyncIterable<T>,
  iteratorFn: (data: T) => Promise<R>,
): AsyncIterableIterator<R> {
  if (!Number.isInteger(poolLimit) || poolLimit < 1) {
    throw new RangeError(`poolLimit must be a whole number >= 1, got ${poolLimit}`);
  }
  // Result promises in input order, not yet handed to the consumer.
  const pending: Promise<R>[] = [];
  let finished = false;
  let failure: AggregateError | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };

  (async () => {
    const executing = new Set<Promise<unknown>>();
    try {
      for await (const item of array) {
        const result = Promise.resolve().then(() => iteratorFn(item));
        pending.push(result);
        notify();
        const slot: Promise<unknown> = result.then(() => executing.delete(slot));
        // Rejections are collected below; never let one surface as unhandled.
        slot.catch(() => {});
        executing.add(slot);
        if (executing.size >= poolLimit) await Promise.race(executing);
      }
      await Promise.all(executing);
    } catch {
      const settled = await Promise.allSettled(executing);
      const errors = settled.flatMap((s) => s.status === "rejected" ? [s.reason] : []);
      failure = new AggregateError(errors, ERROR_WHILE_MAPPING_MESSAGE);
    }
    finished = true;
    notify();
  })();

  async function* results(): AsyncGenerator<R> {
    for (let next = 0;;) {
      if (next < pending.length) {
        const result = pending[next];
        // Drop our reference so a long run does not keep every result alive.
        delete pending[next];
        next++;
        let value: R;
        try {
          value = await result;
        } catch {
          continue; // reported together in the AggregateError
        }
        yield value;
      } else if (finished) {
        if (failure) throw failure;
        return;
      } else {
        await new Promise<void>((resolve) => (wake = resolve));
      }
    }
  }
  return results();
}
