/**
 * The pace of request starts and the number of requests in flight, shared by
 * the whole pool: one pacer for 429s and soft throttles alike.
 *
 * Promises:
 * - Unpaced (no spacing, no in-flight cap beyond the pool's) until the server
 *   first throttles us, so a friendly server runs at full `--workers` speed.
 * - After a soft throttle (empty answers, 403s) or a 429 that did not say
 *   when to come back, slow start: one request in flight and about
 *   `resumeRate` starts per second, growing additively with each good answer
 *   (pace by `rateStep`, in-flight by one per `slotStep` good answers) toward
 *   `maxInFlight` (the first restart may begin at half the learnt ceiling
 *   when that is faster). A later trip restarts from half the previous start
 *   rate.
 * - After a 429 that said exactly when to come back (an explicit trip), the
 *   pool resumes ({@linkcode Pacer.resume}) at once at the pace the server
 *   just sustained, with every slot: 95% of the good answers since the last
 *   resume (or the first start) over the time until this resume, the pause
 *   included, counting answers that came back during the pause. The server
 *   told us its limit, so a storm costs about that limit. With fewer than 5
 *   good answers to measure, it slow-starts like the rest.
 * - A ceiling learnt from the server: at the first soft trip, 95% of what it
 *   sustained so far (good answers over the time until the resume, pauses
 *   included); at later soft trips, 80% of the pace we were at; at explicit
 *   trips, the measured pace above. After a soft throttle (empty answers or
 *   403s, which cost long penalties) the pace never exceeds the ceiling;
 *   after a 429 (cheap, the server says when to return) it may creep above
 *   it by 1% per good answer.
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
  #lastStart = -Infinity;
  #firstStart: number | null = null;
  #successes = 0;
  #trips = 0;
  #startRate: number;
  #goodSinceResume = 0;
  #hardCeiling = false;
  /** The kind of the pause in progress, until {@linkcode Pacer.resume}. */
  #pending: TripKind | null = null;
  /** Where the current measuring window began (the first start, then each resume). */
  #windowStart: number | null = null;
  /** Good answers since then, those that came back during a pause included. */
  #windowGood = 0;

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
    this.#windowStart ??= now;
    if (this.rate === Infinity) return 0;
    const start = Math.max(now, this.#nextStart);
    this.#nextStart = start + 1000 / this.rate;
    this.#lastStart = start;
    return start - now;
  }

  /**
   * A good answer that came back while the pool was paused (sent before the
   * pause): it does not speed anything up, but it counts in the pace the
   * server sustained.
   */
  answeredWhilePaused(): void {
    this.#windowGood++;
  }

  /** A good answer: the pace and the in-flight cap grow while recovering. */
  success(): void {
    this.#successes++;
    this.#windowGood++;
    if (this.rate === Infinity) return;
    this.#goodSinceResume++;
    if (this.rate < this.ceiling) {
      this.rate = Math.min(this.ceiling, this.rate + this.#rateStep);
    } else if (!this.#hardCeiling) {
      this.rate *= 1.01;
    }
    this.limit = Math.max(
      this.limit,
      Math.min(this.#maxInFlight, 1 + Math.floor(this.#goodSinceResume / this.#slotStep)),
    );
  }

  /**
   * The pool was paused at `now` until `resumeAt`: slow start follows, or,
   * for an explicit trip, the measured pace once {@linkcode Pacer.resume}
   * is called.
   */
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
    // Until resume() says otherwise (an explicit trip), slow start.
    const learnt = this.#trips === 1 && this.ceiling !== Infinity ? this.ceiling / 2 : 0;
    const start = Math.max(this.#startRate, learnt);
    this.rate = Math.max(this.#minRate, Math.min(this.ceiling, start));
    this.limit = 1;
    this.#goodSinceResume = 0;
    this.#nextStart = Math.max(this.#nextStart, resumeAt, now);
    this.#pending = kind;
  }

  /**
   * The pause is over (its probe was answered) at `now`. After an explicit
   * trip the pool takes up the pace the server sustained, with every slot;
   * see the module doc.
   */
  resume(now: number): void {
    const kind = this.#pending;
    this.#pending = null;
    const since = this.#windowStart ?? now;
    const good = this.#windowGood;
    this.#windowStart = now;
    this.#windowGood = 0;
    if (kind !== "explicit" || good < 5) return;
    const seconds = Math.max(0.001, (now - since) / 1000);
    this.ceiling = Math.max(this.#minRate, (good / seconds) * 0.95);
    this.rate = this.ceiling;
    this.limit = this.#maxInFlight;
    // The probe's start books the next one at the new pace.
    this.#nextStart = Math.max(now, this.#lastStart + 1000 / this.rate);
  }
}
