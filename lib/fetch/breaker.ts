/**
 * One view of the server's state, shared by the whole pool: a circuit
 * breaker (closed / open / half_open, the vocabulary of Deno std's
 * `CircuitBreaker`) that also knows when to stop for good.
 *
 * Promises:
 * - Closed: requests flow. A 429 opens it at once (for its Retry-After, or
 *   an escalating pause without one). Soft throttles (a 200 with an empty or
 *   non-JSON body) and 403s open it after `tripAfter` in a row across the
 *   pool, from at least `tripLabels` different requests, so one symbol with a
 *   broken answer never pauses the pool. A request that is the only one in
 *   progress (a single /scan batch, `--workers 1`) is the whole pool: its
 *   own streak opens the breaker, and those attempts count against its
 *   retries, so a lone broken answer still ends.
 * - Open: nothing is sent until the pause ends. A soft pause is about
 *   `pauseBaseMs` (plus up to 20% at random); a 429's pause is its
 *   Retry-After (capped at `retryAfterCapMs`), but never less than
 *   `minPauseMs`, however small its Retry-After or however far in the past
 *   its date. Each failed probe doubles the pause (or that floor), up to
 *   `pauseCapMs`.
 * - Half-open: exactly one probe goes out. A good answer closes the breaker
 *   (the pacer then resumes); a throttle answer reopens it for longer;
 *   anything else lets another probe go.
 * - Every throttle answer either costs the request an attempt (`throttled`
 *   answers false) or opens a pause, which spends at least `minPauseMs` of
 *   the `maxPausedMs` budget. So whatever the server answers, a run sends at
 *   most about N x (retries + 1) requests plus one per pause, and pauses
 *   are at most `maxPausedMs / minPauseMs`.
 * - Halts, after which nothing is sent: `blocked` (403 on every request
 *   across `blockedAfterPauses` pauses), `unreachable` (the first
 *   `unreachableAfter` attempts all failed on DNS, connection, TLS or a
 *   timeout, with no answer yet), `lost` (after answers, `lostAfter` attempts
 *   in a row from at least two requests got no answer; requests that were
 *   already on their way when the first of them failed count as one, so one
 *   network blip that drops every request in flight is not a lost server),
 *   `budget` (pauses would exceed `maxPausedMs` in total) and `denied` (this
 *   process may not reach the host at all: {@linkcode ServerBreaker.deny}).
 * - Answers to requests sent before a pause began count in the stats and
 *   against their own request, but do not move the state.
 * - `stats.paused_ms` is time actually paused: the pool counts as paused
 *   while a pause runs and some request is waiting on it
 *   ({@linkcode ServerBreaker.setActive}); a pause nobody waits for (the run
 *   ended) stops counting.
 *
 * It does not wait or send anything itself: the client asks
 * {@linkcode ServerBreaker.gate} and reports every answer.
 *
 * @example
 * ```ts
 * import { ServerBreaker } from "./breaker.ts";
 * const breaker = new ServerBreaker("scanner.tradingview.com", { tripAfter: 2 });
 * breaker.throttled(0, "empty", "A", false);
 * breaker.throttled(1, "empty", "B", false);
 * breaker.state; // "open"
 * ```
 *
 * @module
 */

/** The breaker's state, as in Deno std's circuit breaker. */
export type BreakerState = "closed" | "open" | "half_open";

/** An answer that says "slow down": an empty/non-JSON 200, a 403 or a 429. */
export type ThrottleSignal = "empty" | "403" | "429";

/** Why the client stopped sending for good. */
export interface Halt {
  /**
   * Blocked (403 across pauses), unreachable (never answered), lost (stopped
   * answering part-way), the pause budget spent, or denied (this process is
   * not allowed to reach the host).
   */
  kind: "blocked" | "unreachable" | "lost" | "budget" | "denied";
  /** One line for people: what happened, naming the host. */
  reason: string;
}

/** What the breaker counted, for the run report's `http`. */
export interface ThrottleStats {
  /** Answers with status 403. */
  status403: number;
  /** 200 answers whose body was empty or not JSON (soft throttle signals). */
  empty_bodies: number;
  /** Pauses of the whole pool. */
  pauses: number;
  /**
   * Milliseconds the pool actually spent paused (while some request waited);
   * read it after {@linkcode ServerBreaker.settle}.
   */
  paused_ms: number;
}

/** What {@linkcode ServerBreaker.gate} allows at a moment. */
export type Gate =
  | { kind: "go" }
  | { kind: "probe" }
  /** Wait up to `ms` (Infinity: until the state changes), then ask again. */
  | { kind: "wait"; ms: number };

/** Options for {@linkcode ServerBreaker}. */
export interface BreakerOptions {
  /**
   * Soft throttles (or 403s) in a row, across the pool, that open the breaker.
   * @default {3}
   */
  tripAfter?: number;
  /**
   * Different requests (labels) those answers must come from.
   * @default {2}
   */
  tripLabels?: number;
  /**
   * The first pause after soft throttles or 403s, in milliseconds.
   * @default {10000}
   */
  pauseBaseMs?: number;
  /**
   * The shortest pause a 429 (or a 503 with Retry-After) opens, whatever its
   * Retry-After says, in milliseconds; doubles with each failed probe.
   * @default {1000}
   */
  minPauseMs?: number;
  /**
   * The longest pause, in milliseconds.
   * @default {120000}
   */
  pauseCapMs?: number;
  /**
   * Total pausing allowed in one run (`--max-throttle-s`), in milliseconds:
   * every pause spends its planned length when it begins.
   * @default {300000}
   */
  maxPausedMs?: number;
  /**
   * Longest Retry-After honoured, in milliseconds.
   * @default {60000}
   */
  retryAfterCapMs?: number;
  /**
   * Pauses a run of 403s must outlast before the client counts as blocked.
   * @default {2}
   */
  blockedAfterPauses?: number;
  /**
   * Failed attempts in a row, before any answer, that make the host unreachable.
   * @default {3}
   */
  unreachableAfter?: number;
  /**
   * Failed attempts in a row, after the server has answered, that mean it is
   * gone (attempts already sent when the first of them failed count as one).
   * @default {6}
   */
  lostAfter?: number;
  /**
   * Called on every state change (after it happened).
   * @default {undefined}
   */
  onStateChange?: (from: BreakerState, to: BreakerState, pauseMs: number) => void;
  /**
   * Called once when the breaker halts (see {@linkcode Halt}).
   * @default {undefined}
   */
  onHalt?: (halt: Halt) => void;
  /**
   * The random source for pause jitter.
   * @default {Math.random}
   */
  random?: () => number;
}

function wholeNumber(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(
      `Cannot create breaker: ${name} must be a whole number >= ${min}, got ${value}`,
    );
  }
  return value;
}

/** The server's state as the pool sees it; see the module doc. */
export class ServerBreaker {
  /** Where the breaker stands now. */
  state: BreakerState = "closed";
  /** Set once the client must stop sending; never cleared. */
  halt: Halt | null = null;
  /** When the current pause ends (epoch ms); meaningful while open. */
  openUntil = 0;
  /** Counters for the run report. */
  readonly stats: ThrottleStats = { status403: 0, empty_bodies: 0, pauses: 0, paused_ms: 0 };
  /** Milliseconds of the `maxPausedMs` budget spent: each pause's planned length. */
  spentMs = 0;
  readonly #host: string;
  readonly #o: Required<Omit<BreakerOptions, "onStateChange" | "onHalt">>;
  readonly #onStateChange?: BreakerOptions["onStateChange"];
  readonly #onHalt?: BreakerOptions["onHalt"];
  #probeOut = false;
  #level = 0;
  #emptyStreak: string[] = [];
  #forbiddenStreak: string[] = [];
  #pausesIn403 = 0;
  #answered = false;
  #failures: { timeout: boolean; cause: string; label: string }[] = [];
  /** When the current run of unanswered attempts began (its first failure). */
  #failingSince = 0;
  /** Whether some request is waiting on (or sending through) the pool. */
  #active = true;
  /** Start of the stretch of pause being counted into `paused_ms`, or null. */
  #stretchFrom: number | null = null;

  /**
   * A closed breaker for `host` (named in halt reasons).
   * @throws {RangeError} when an option is out of range, naming it and its value
   */
  constructor(host: string, options: BreakerOptions = {}) {
    this.#host = host;
    this.#o = {
      tripAfter: wholeNumber("tripAfter", options.tripAfter ?? 3, 1),
      tripLabels: wholeNumber("tripLabels", options.tripLabels ?? 2, 1),
      pauseBaseMs: wholeNumber("pauseBaseMs", options.pauseBaseMs ?? 10_000, 1),
      minPauseMs: wholeNumber("minPauseMs", options.minPauseMs ?? 1_000, 1),
      pauseCapMs: wholeNumber("pauseCapMs", options.pauseCapMs ?? 120_000, 1),
      maxPausedMs: wholeNumber("maxPausedMs", options.maxPausedMs ?? 300_000, 0),
      retryAfterCapMs: wholeNumber("retryAfterCapMs", options.retryAfterCapMs ?? 60_000, 0),
      blockedAfterPauses: wholeNumber("blockedAfterPauses", options.blockedAfterPauses ?? 2, 1),
      unreachableAfter: wholeNumber("unreachableAfter", options.unreachableAfter ?? 3, 1),
      lostAfter: wholeNumber("lostAfter", options.lostAfter ?? 6, 1),
      random: options.random ?? Math.random,
    };
    this.#onStateChange = options.onStateChange;
    this.#onHalt = options.onHalt;
  }

  /** May a request go out at `now`? Moves open to half_open when the pause is over. */
  gate(now: number): Gate {
    if (this.state === "open") {
      if (now < this.openUntil) return { kind: "wait", ms: this.openUntil - now };
      this.#accrue(now);
      this.#move("half_open", 0);
    }
    if (this.state === "half_open") {
      if (this.#probeOut) return { kind: "wait", ms: Infinity };
      this.#probeOut = true;
      return { kind: "probe" };
    }
    return { kind: "go" };
  }

  /** A good answer (any interpreted answer: found, not found, invalid). */
  good(probe: boolean): void {
    this.#answered = true;
    this.#failures = [];
    if (this.state === "open") return; // sent before the pause: stale
    this.#emptyStreak = [];
    this.#forbiddenStreak = [];
    this.#pausesIn403 = 0;
    if (this.state === "half_open" && probe) {
      this.#probeOut = false;
      this.#level = 0;
      this.#move("closed", 0);
    }
  }

  /**
   * A throttle answer to a request labelled `label`. Returns true when the
   * pool is throttled (this answer opened the breaker, or it was already
   * open): that attempt must not count against the request's own retries.
   * `alone` says the request is the only one in progress: then its own
   * streak opens the breaker, and its attempts still count (false).
   */
  throttled(
    now: number,
    signal: ThrottleSignal,
    label: string,
    probe: boolean,
    retryAfterMs: number | null = null,
    alone = false,
  ): boolean {
    this.#answered = true;
    this.#failures = [];
    if (signal === "403") this.stats.status403++;
    if (signal === "empty") this.stats.empty_bodies++;
    if (this.halt) return true;
    // Sent before the pause: it costs its request an attempt (only answers
    // that open a pause, which spends budget, are free).
    if (this.state === "open") {
      if (retryAfterMs !== null) this.#extend(now, retryAfterMs);
      return false;
    }
    if (this.state === "half_open" && !probe) return false;
    if (signal === "403") {
      this.#forbiddenStreak.push(label);
      this.#emptyStreak = [];
    } else if (signal === "empty") {
      this.#emptyStreak.push(label);
      this.#forbiddenStreak = [];
      this.#pausesIn403 = 0;
    } else {
      this.#emptyStreak = [];
      this.#forbiddenStreak = [];
      this.#pausesIn403 = 0;
    }
    if (probe) {
      this.#probeOut = false;
      if (signal === "403" && this.#pausesIn403 >= this.#o.blockedAfterPauses) {
        this.#stop({
          kind: "blocked",
          reason: `blocked: ${this.#host} answered HTTP 403 to ${this.#forbiddenStreak.length} ` +
            `requests in a row across ${this.#pausesIn403} pauses; stopped sending`,
        });
        return true;
      }
      this.#open(now, signal, retryAfterMs);
      return !alone;
    }
    const streak = signal === "403" ? this.#forbiddenStreak : this.#emptyStreak;
    if (
      signal === "429" ||
      (streak.length >= this.#o.tripAfter &&
        (alone || new Set(streak).size >= this.#o.tripLabels))
    ) {
      this.#open(now, signal, retryAfterMs);
      return !alone;
    }
    return false;
  }

  /** An answer that is neither good nor a throttle signal (a 5xx, an oversized body). */
  failed(probe: boolean): void {
    this.#answered = true;
    this.#failures = [];
    if (this.state === "open") return;
    this.#emptyStreak = [];
    this.#forbiddenStreak = [];
    if (probe) this.#probeOut = false;
  }

  /**
   * No answer at all: DNS, a refused connection, TLS, a reset, or a timeout,
   * at `now` for an attempt sent at `sentAt`. After the server has answered,
   * attempts sent before the current run of failures began (all dropped by
   * one blip) count as one.
   */
  unanswered(
    timeout: boolean,
    cause: string,
    probe: boolean,
    label = "",
    now = 0,
    sentAt = now,
  ): void {
    if (probe) this.#probeOut = false;
    if (this.halt) return;
    if (this.#failures.length === 0) this.#failingSince = now;
    else if (this.#answered && sentAt < this.#failingSince) return; // the same blip
    this.#failures.push({ timeout, cause, label });
    const n = this.#failures.length;
    if (this.#answered) {
      if (n < this.#o.lostAfter || new Set(this.#failures.map((f) => f.label)).size < 2) return;
      this.#stop({
        kind: "lost",
        reason: `${this.#host} stopped answering: ${n} requests in a row got no answer ` +
          `(${this.#failures[n - 1].cause}); stopped sending`,
      });
      return;
    }
    if (n < this.#o.unreachableAfter) return;
    const network = this.#failures.find((f) => !f.timeout);
    this.#stop({
      kind: "unreachable",
      reason: network
        ? `cannot reach ${this.#host}: ${network.cause} (${n} attempts, no answer)`
        : `${this.#host} does not answer: ${n} requests in a row timed out (${
          this.#failures[0].cause
        })`,
    });
  }

  /** The probe this breaker handed out was never sent (cancelled): another may go. */
  withdrawProbe(): void {
    this.#probeOut = false;
  }

  /**
   * This process may not reach the host at all (Deno refused the request for
   * lack of a permission): halts at once with `reason`; nothing is retried.
   */
  deny(reason: string): void {
    if (this.halt) return;
    this.#stop({ kind: "denied", reason });
  }

  /**
   * Whether some request is waiting on the pool (or in flight) at `now`:
   * a pause counts into `paused_ms` only while one is.
   */
  setActive(now: number, active: boolean): void {
    this.#accrue(now);
    this.#active = active;
    this.#restart(now);
  }

  /** Brings `stats.paused_ms` up to `now` (the part of a running pause so far). */
  settle(now: number): void {
    this.#accrue(now);
    this.#restart(now);
  }

  /** True while a pause runs at `now` and some request waits on it. */
  pausing(now: number): boolean {
    return this.state === "open" && this.#active && now < this.openUntil && this.halt === null;
  }

  #accrue(now: number): void {
    if (this.#stretchFrom === null) return;
    const end = Math.min(now, this.openUntil);
    if (end > this.#stretchFrom) this.stats.paused_ms += end - this.#stretchFrom;
    this.#stretchFrom = null;
  }

  #restart(now: number): void {
    if (this.pausing(now)) this.#stretchFrom = now;
  }

  #stop(halt: Halt): void {
    this.halt = halt;
    this.#onHalt?.(halt);
  }

  #open(now: number, signal: ThrottleSignal, retryAfterMs: number | null): void {
    let pause: number;
    if (retryAfterMs !== null) {
      // The server said when; never sooner than the floor, which doubles with
      // each failed probe (a Retry-After of 0 or a past date cannot spin us).
      const floor = Math.min(this.#o.pauseCapMs, this.#o.minPauseMs * 2 ** this.#level);
      pause = Math.max(floor, Math.min(this.#o.retryAfterCapMs, retryAfterMs));
    } else {
      const base = Math.min(this.#o.pauseCapMs, this.#o.pauseBaseMs * 2 ** this.#level);
      pause = Math.min(this.#o.pauseCapMs, Math.round(base * (1 + 0.2 * this.#o.random())));
    }
    this.#level++;
    const left = this.#o.maxPausedMs - this.spentMs;
    if (left <= 0) {
      this.#stop({
        kind: "budget",
        reason: `throttled: ${this.#host} kept throttling after ${
          Math.round(this.spentMs / 1000)
        } s of pauses (--max-throttle-s); stopped sending`,
      });
      return;
    }
    pause = Math.min(pause, left);
    if (signal === "403") this.#pausesIn403++;
    this.#accrue(now);
    this.stats.pauses++;
    this.spentMs += pause;
    this.openUntil = now + pause;
    this.#move("open", pause);
    this.#restart(now);
  }

  #extend(now: number, retryAfterMs: number): void {
    const until = now + Math.min(this.#o.retryAfterCapMs, retryAfterMs);
    if (until <= this.openUntil) return;
    const extra = Math.min(until - this.openUntil, this.#o.maxPausedMs - this.spentMs);
    if (extra <= 0) return;
    this.#accrue(now);
    this.spentMs += extra;
    this.openUntil += extra;
    this.#restart(now);
    this.#onStateChange?.("open", "open", this.openUntil - now);
  }

  #move(to: BreakerState, pauseMs: number): void {
    const from = this.state;
    this.state = to;
    this.#onStateChange?.(from, to, pauseMs);
  }
}
