/**
 * The pace of request starts and the number of requests in flight, shared by
 * the whole pool: one pacer for 429s and soft throttles alike.
 *
 * Promises:
 * - Unpaced (no spacing, no in-flight cap beyond the pool's) until the server
 *   first throttles us, so a friendly server runs at full `--workers` speed.
 * - After every pause, slow start: one request in flight and about
 *   `resumeRate` starts per second, growing additively with each good answer
 *   (pace by `rateStep`, in-flight by one per `slotStep` good answers) toward
 *   `maxInFlight` (the first restart may begin at half the learnt ceiling
 *   when that is faster). A later trip restarts from half the previous start
 *   rate.
 * - A ceiling learnt from the server: at the first trip, 95% of what it
 *   sustained so far (good answers over the time until the resume, pauses
 *   included); at later trips, 80% of the pace we were at. After a soft
 *   throttle (empty answers or 403s, which cost long penalties) the pace never
 *   exceeds the ceiling; after a 429 (cheap, the server says when to return)
 *   it may creep above it by 1% per good answer.
 *
 * It does not wait itself: {@linkcode Pacer.reserve} says how long to wait.
 *
 * @example
 * ```ts
 * import { Pacer } from "./pacer.ts";
 * const pacer = new Pacer({ maxInFlight: 3 });
 * pacer.reserve(0); // 0: unpaced
 * pacer.trip(1_000, 11_000, "soft");
 * pacer.reserve(11_000); // 0: the first start after the pause
 * pacer.reserve(11_000); // 1000: then about one start per second
 * ```
 *
 * @module
 */

/** Why the pool was paused, as far as the pacer cares. */
export type TripKind = "soft" | "explicit";

/** Options for {@linkcode Pacer}. */
export interface PacerOptions {
  /**
   * Requests in flight once fully recovered (the pool's `--workers`).
   * @default {16}
   */
  maxInFlight?: number;
  /**
   * Request starts per second when the pool resumes after its first pause.
   * @default {1}
   */
  resumeRate?: number;
  /**
   * Starts per second added per good answer while recovering.
   * @default {0.5}
   */
  rateStep?: number;
  /**
   * Good answers per extra request in flight while recovering.
   * @default {2}
   */
  slotStep?: number;
  /**
   * The slowest pace, in starts per second.
   * @default {0.2}
   */
  minRate?: number;
}

function positive(name: string, value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new RangeError(`Cannot create pacer: ${name} must be a positive number, got ${value}`);
  }
  return value;
}

/** Spaces request starts and caps requests in flight; see the module doc. */
export class Pacer {
  /** Allowed request starts per second; Infinity while unpaced. */
  rate: number = Infinity;
  /** Allowed requests in flight; Infinity while unpaced. */
  limit: number = Infinity;
  /** Requests in flight now. */
  inFlight: number = 0;
  /** The pace not to exceed (see the module doc); Infinity until learnt. */
  ceiling: number = Infinity;
  readonly #maxInFlight: number;
  readonly #resumeRate: number;
  readonly #rateStep: number;
  readonly #slotStep: number;
  readonly #minRate: number;
  #nextStart = 0;
  #firstStart: number | null = null;
  #successes = 0;
  #trips = 0;
  #startRate: number;
  #goodSinceResume = 0;
  #hardCeiling = false;

  /**
   * An unpaced pacer.
   * @throws {RangeError} when an option is out of range, naming it and its value
   */
  constructor(options: PacerOptions = {}) {
    const maxInFlight = options.maxInFlight ?? 16;
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1) {
      throw new RangeError(
        `Cannot create pacer: maxInFlight must be a whole number >= 1, got ${maxInFlight}`,
      );
    }
    this.#maxInFlight = maxInFlight;
    this.#resumeRate = positive("resumeRate", options.resumeRate ?? 1);
    this.#rateStep = positive("rateStep", options.rateStep ?? 0.5);
    this.#slotStep = positive("slotStep", options.slotStep ?? 2);
    this.#minRate = positive("minRate", options.minRate ?? 0.2);
    this.#startRate = this.#resumeRate;
  }

  /** True when one more request may be in flight. */
  hasSlot(): boolean {
    return this.inFlight < this.limit;
  }

  /** Milliseconds to wait before the next start at `now` (and books that start). */
  reserve(now: number): number {
    this.#firstStart ??= now;
    if (this.rate === Infinity) return 0;
    const start = Math.max(now, this.#nextStart);
    this.#nextStart = start + 1000 / this.rate;
    return start - now;
  }

  /** A good answer: the pace and the in-flight cap grow while recovering. */
  success(): void {
    this.#successes++;
    if (this.rate === Infinity) return;
    this.#goodSinceResume++;
    if (this.rate < this.ceiling) {
      this.rate = Math.min(this.ceiling, this.rate + this.#rateStep);
    } else if (!this.#hardCeiling) {
      this.rate *= 1.01;
    }
    this.limit = Math.min(
      this.#maxInFlight,
      1 + Math.floor(this.#goodSinceResume / this.#slotStep),
    );
  }

  /** The pool was paused at `now` until `resumeAt`; slow start follows. */
  trip(now: number, resumeAt: number, kind: TripKind): void {
    this.#trips++;
    if (this.rate === Infinity) {
      if (this.#successes >= 5 && this.#firstStart !== null) {
        const seconds = Math.max(0.001, (resumeAt - this.#firstStart) / 1000);
        this.ceiling = Math.max(this.#minRate, (this.#successes / seconds) * 0.95);
      }
    } else {
      this.ceiling = Math.min(this.ceiling, Math.max(this.#minRate, this.rate * 0.8));
    }
    if (this.#trips > 1) this.#startRate = Math.max(this.#minRate, this.#startRate / 2);
    if (kind === "soft") this.#hardCeiling = true;
    // The first restart may begin at half the learnt ceiling when that is
    // faster; later ones begin at the (halved) start rate.
    const learnt = this.#trips === 1 && this.ceiling !== Infinity ? this.ceiling / 2 : 0;
    const start = Math.max(this.#startRate, learnt);
    this.rate = Math.max(this.#minRate, Math.min(this.ceiling, start));
    this.limit = 1;
    this.#goodSinceResume = 0;
    this.#nextStart = Math.max(this.#nextStart, resumeAt, now);
  }
}
