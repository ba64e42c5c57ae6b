/**
 * Clocks for tests (lib/std/clock.ts's {@linkcode Clock}), so a test asserts
 * what the code did in its own time, not how fast the machine was:
 *
 * - {@linkcode FakeClock}: time moves only when the code sleeps; a sleep
 *   advances it at once (after a turn of the event loop). For one actor that
 *   waits alone (the lock's polling): its timeline is exact whatever the load.
 * - {@linkcode ScaledClock}: time runs `speed` times faster than the wall
 *   clock, for the client and the mirror together (pass the same clock to
 *   both), so a 1 s Retry-After costs 1/speed s of the suite's time while
 *   every decision stays in one consistent timeline. Real network round
 *   trips look `speed` times longer to it: like a slower network.
 *
 * Both record every sleep they were asked for (`sleeps`, in ms).
 *
 * @module
 */
import type { Clock } from "../lib/std/clock.ts";
import { delay } from "../lib/std/delay.ts";

/** Time that advances only by the code's own sleeps; see the module doc. */
export class FakeClock implements Clock {
  /** Every sleep asked for, in ms, in order. */
  readonly sleeps: number[] = [];
  #now: number;

  /** A clock that starts at `start` (epoch ms). */
  constructor(start = Date.parse("2026-01-01T00:00:00Z")) {
    this.#now = start;
  }

  /** The fake time. */
  now(): number {
    return this.#now;
  }

  /** Moves time by `ms` (for a test that lets time pass between steps). */
  tick(ms: number): void {
    this.#now += ms;
  }

  /** Advances time by `ms` after one turn of the event loop. */
  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    signal?.throwIfAborted();
    await delay(0, { signal });
    this.#now += Math.max(0, ms);
  }
}

/** Time `speed` times faster than the wall clock; see the module doc. */
export class ScaledClock implements Clock {
  /** Every sleep asked for, in ms (of this clock), in order. */
  readonly sleeps: number[] = [];
  readonly #speed: number;
  readonly #base = Date.now();
  readonly #started = performance.now();

  /** A clock running `speed` times faster than the wall clock. */
  constructor(speed: number) {
    this.#speed = speed;
  }

  /** This clock's time (epoch ms, starting at the wall time of its creation). */
  now(): number {
    return this.#base + (performance.now() - this.#started) * this.#speed;
  }

  /** Sleeps `ms` of this clock's time, `ms / speed` of the wall clock's. */
  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    const until = this.now() + Math.max(0, ms);
    // Timers may fire a fraction of a millisecond early: never wake before `until`.
    do {
      await delay(Math.max(0, until - this.now()) / this.#speed, { signal });
    } while (this.now() < until);
  }
}
