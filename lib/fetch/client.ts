/**
 * A polite client for TradingView's public scanner API.
 *
 * Promises:
 * - {@linkcode TradingViewClient.call} is the one way a request goes out, for
 *   every endpoint: it never throws for HTTP or data problems and ends as a
 *   {@linkcode CallOutcome} value (ok, not found, or failed with a reason), so
 *   one bad request never stops a pool.
 * - All requests of a client share one view of the server
 *   ({@linkcode ServerBreaker}) and one {@linkcode Pacer}: a 429, a run of
 *   soft throttles (200 with an empty or non-JSON body) or of 403s pauses the
 *   whole pool; one probe ends a pause; the pool then slow-starts.
 * - Network errors, timeouts (per request, by AbortSignal), 403, 5xx and
 *   malformed bodies are retried up to `maxRetries` times with exponential
 *   backoff and full jitter. Every attempt counts against a budget: its
 *   request's retries, or, for the throttle answer that opens a pause (and
 *   the probe that ends one), the pause budget `maxPausedMs`, which each
 *   pause spends at least `minPauseMs` of. So N requests cost at most about
 *   N x (maxRetries + 1) attempts plus one probe per pause, whatever the
 *   server answers.
 * - `Retry-After` is honoured in both forms, capped at `retryAfterCapMs`,
 *   and never shorter than the breaker's minimum pause. Probes go through
 *   the pacer like every other request.
 * - Stops sending for good when the client is blocked (403 across pauses),
 *   the host is unreachable (the first attempts all fail without an answer)
 *   or stops answering part-way, the pauses would exceed `maxPausedMs`, or
 *   Deno refuses the request for lack of a permission (never retried; the
 *   reason says so); {@linkcode TradingViewClient.halt} then says why and
 *   every call ends failed with that reason. Requests aborted by `signal`
 *   (Ctrl-C) end "cancelled" and never count as unanswered.
 * - {@linkcode TradingViewClient.fetchSymbol} is `call()` on `/symbol`: a 404 or
 *   an empty object is "not found on TradingView" and is not retried.
 *
 * It does not: retry other 4xx answers, or cache anything between runs.
 *
 * @example
 * ```ts
 * import { TradingViewClient } from "./client.ts";
 * const client = new TradingViewClient({ baseUrl: "https://scanner.tradingview.com" });
 * const outcome = await client.fetchSymbol("NASDAQ:AAPL");
 * if (outcome.kind === "fetched") console.log(outcome.record.tick_size);
 * ```
 *
 * @module
 */
import { type Clock, realClock } from "../std/clock.ts";
import { errorMessage } from "../core/errors.ts";
import { pooledMap } from "../std/pool.ts";
import { readCapped } from "../fs/read_capped.ts";
import type { FetchedRecord } from "../record/record.ts";
import { isEmptyResponse, REQUESTED_FIELDS, toRecord } from "../record/tradingview.ts";
import type { Market } from "../record/exchanges.ts";
import {
  parseScanAnswer,
  SCAN_COLUMNS,
  type ScanAnswer as ParsedScan,
  scanRequest,
} from "../record/scan.ts";
import { TOOL_NAME, VERSION } from "../core/version.ts";
import { type BreakerOptions, type Halt, ServerBreaker, type ThrottleSignal } from "./breaker.ts";
import { Pacer, type PacerOptions } from "./pacer.ts";
import { parseRetryAfter } from "./retry_after.ts";

export { parseRetryAfter };

/** One request through {@linkcode TradingViewClient.call}. */
export interface CallRequest {
  /** The full URL. */
  url: string;
  /**
   * The HTTP method.
   * @default {"GET"}
   */
  method?: "GET" | "POST";
  /** A JSON body (sent with content-type application/json). */
  body?: string;
  /**
   * Names the request and tells requests apart (e.g. the symbol, or a
   * batch's first ticker). Give each request its own: a run of throttle
   * answers pauses the pool only when it comes from at least two labels, so
   * one request with a broken answer never pauses everyone.
   */
  label: string;
  /**
   * The endpoint counted in {@linkcode TradingViewClient.byEndpoint}.
   * @default {"symbol"}
   */
  endpoint?: keyof EndpointStats;
}

/** Requests per endpoint: `GET /symbol` and `POST /{market}/scan`. */
export interface EndpointStats {
  /** `GET /symbol` requests. */
  symbol: number;
  /** `POST /{market}/scan` requests. */
  scan: number;
}

/**
 * How one `/scan` batch ended: its rows by ticker (with the tickers whose
 * row was malformed, and those whose rows contradicted each other, each
 * with the reason), or why it failed (after retries).
 */
export type ScanBatch =
  | {
    ok: true;
    rows: Map<string, unknown[]>;
    invalid: Map<string, string>;
    conflicting: Map<string, string>;
    attempts: number;
  }
  | {
    ok: false;
    reason: string;
    attempts: number;
    /** The column the server named as unknown (a 400 naming one of ours), if any. */
    unknownColumn?: string;
  };

/** A server answer worth interpreting: status 200 or 404, body parsed (null when not JSON). */
export interface CallAnswer {
  /** 200 or 404. */
  status: number;
  /** The parsed body; null when a 404's body is not JSON. */
  json: unknown;
}

/** One attempt's verdict on an answer, from the caller's `interpret`. */
export type CallVerdict<T> =
  | { kind: "ok"; value: T }
  | { kind: "not-found"; reason: string }
  | { kind: "failed"; reason: string }
  /** The answer is unusable but another attempt may do (counts against retries). */
  | { kind: "retry"; reason: string };

/** How one call ended, after `attempts` HTTP attempts. */
export type CallOutcome<T> =
  & { attempts: number }
  & (
    | { kind: "ok"; value: T }
    | { kind: "not-found"; reason: string }
    | { kind: "failed"; reason: string }
  );

/** How one symbol ended: its record, "not found", or a failure reason. */
export type SymbolOutcome =
  & { symbol: string; attempts: number }
  & (
    | ({ kind: "fetched" } & FetchedRecord)
    | { kind: "not-found"; reason: string }
    | { kind: "failed"; reason: string }
  );

/** Request counters for the run report (the breaker counts the rest). */
export interface HttpStats {
  /** HTTP attempts sent. */
  requests: number;
  /** Attempts after a request's first. */
  retries: number;
  /** Answers with status 429. */
  status429: number;
}

/** Client settings; only `baseUrl` is required. */
export interface ClientOptions {
  /** The scanner API base, e.g. https://scanner.tradingview.com. */
  baseUrl: string;
  /**
   * Per-request timeout, in milliseconds.
   * @default {10000}
   */
  timeoutMs?: number;
  /**
   * Retries per request after the first attempt (throttled attempts excepted).
   * @default {4}
   */
  maxRetries?: number;
  /**
   * First backoff ceiling, in milliseconds; doubles per attempt.
   * @default {250}
   */
  backoffBaseMs?: number;
  /**
   * Largest backoff ceiling, in milliseconds.
   * @default {8000}
   */
  backoffCapMs?: number;
  /**
   * Largest Retry-After honoured, in milliseconds.
   * @default {60000}
   */
  retryAfterCapMs?: number;
  /**
   * Requests in flight once recovered from a pause (the pool's workers).
   * @default {16}
   */
  workers?: number;
  /**
   * Total pausing allowed in one run, in milliseconds (`--max-throttle-s`).
   * @default {300000}
   */
  maxPausedMs?: number;
  /**
   * Breaker tuning (pause lengths, thresholds); see {@linkcode BreakerOptions}.
   * @default {{}}
   */
  breaker?: Omit<BreakerOptions, "maxPausedMs" | "retryAfterCapMs" | "onStateChange" | "random">;
  /**
   * Pacer tuning; see {@linkcode PacerOptions}.
   * @default {{}}
   */
  pacer?: Omit<PacerOptions, "maxInFlight">;
  /**
   * Told, in one line, when the pool pauses, resumes or stops.
   * @default {undefined}
   */
  onEvent?: (message: string) => void;
  /**
   * Cancels everything (e.g. on SIGINT).
   * @default {undefined}
   */
  signal?: AbortSignal;
  /**
   * The random source for jitter (tests).
   * @default {Math.random}
   */
  random?: () => number;
  /**
   * The time the client reads and its waits (pauses, pacing, backoff); tests
   * pass their own. Request timeouts stay on the wall clock.
   * @default {realClock}
   */
  clock?: Clock;
  /**
   * Told what the client did, as it happens (tests assert on these).
   * @default {undefined}
   */
  onTrace?: (event: ClientTrace) => void;
}

/**
 * What the client did, for tests and diagnostics: a request sent (`probe`
 * when it is the one that ends a pause), a pause begun (its planned length)
 * or its end, a backoff before a retry.
 */
export type ClientTrace =
  | {
    kind: "send";
    at: number;
    label: string;
    probe: boolean;
    /** The start the pacer booked for it (`at` is never earlier). */
    booked: number;
  }
  | { kind: "pause"; at: number; ms: number }
  | { kind: "resume"; at: number }
  | { kind: "backoff"; at: number; label: string; ms: number };

/** The User-Agent sent with every request. */
export const USER_AGENT = `${TOOL_NAME}/${VERSION} (instrument metadata refresh; Deno)`;

/** The useful part of a fetch failure: its cause (DNS, refused, reset), without the URL. */
function networkCause(err: unknown): string {
  const cause = err instanceof Error && err.cause instanceof Error
    ? err.cause.message
    : errorMessage(err);
  return cause
    .replace(/^error sending request for url \([^)]*\): /, "")
    .replace(/^client error \(Connect\): /, "")
    .replace(/^(received corrupt message|invalid peer certificate|.*handshake)/i, "TLS: $1");
}

/** Most characters of a server's error text kept in a reason. */
const SERVER_TEXT_MAX = 200;

/**
 * What a refusing server said: the `error` of a JSON body (the scanner's
 * `{"error": "Unknown field \"x\"", "data": null}`), else the body's text,
 * on one line and capped; empty when it said nothing.
 */
function serverText(body: string): string {
  let text = body;
  try {
    const json = JSON.parse(body);
    if (json !== null && typeof json === "object" && typeof json.error === "string") {
      text = json.error;
    }
  } catch {
    // not JSON: the text as it is
  }
  return text.replace(/\s+/g, " ").trim().slice(0, SERVER_TEXT_MAX);
}

/**
 * The column a `/scan` refusal names, if it is one of `columns`: the
 * scanner says `Unknown field "x"` (shner-elmo/TradingView-Screener#20);
 * failing that, the one requested column the text names in quotes.
 *
 * @example
 * ```ts
 * import { unknownColumnIn } from "./client.ts";
 * unknownColumnIn('HTTP 400 (not retried): Unknown field "sector"', ["type", "sector"]); // "sector"
 * ```
 */
export function unknownColumnIn(reason: string, columns: readonly string[]): string | undefined {
  const named = /unknown (?:field|column)\W+([\w.\[\]|-]+)/i.exec(reason)?.[1];
  if (named !== undefined && columns.includes(named)) return named;
  const quoted = columns.filter((c) => reason.includes(`"${c}"`));
  return quoted.length === 1 ? quoted[0] : undefined;
}

/** Largest response body read; a symbol's metadata is a few hundred bytes. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** What one HTTP attempt came to, before the retry policy looks at it. */
type Attempt<T> =
  | { kind: "verdict"; verdict: CallVerdict<T> }
  | { kind: "throttle"; signal: ThrottleSignal; reason: string; retryAfterMs: number | null }
  | { kind: "fault"; reason: string }
  | { kind: "unanswered"; timeout: boolean; cause: string; reason: string }
  /** Aborted by the client's own signal (Ctrl-C): says nothing about the server. */
  | { kind: "cancelled" }
  /** Deno refused the request for lack of a permission: never retried. */
  | { kind: "denied"; reason: string };

/**
 * The reason for a request Deno refused (no --allow-net for the host),
 * naming the denial and what to run instead for a loopback mirror.
 */
function deniedReason(host: string, err: unknown): string {
  const hostname = host.replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
  const loopback = hostname === "localhost" || hostname === "::1" ||
    /^127\./.test(hostname);
  return `permission denied: Deno refused network access to ${host} (${errorMessage(err)}); ` +
    (loopback
      ? "for a mirror on loopback, run the ingest:local task (deno task ingest:local) or " +
        "dist/meta-ingest-local; nothing was retried"
      : "the permission set does not allow this host; nothing was retried");
}

/** Thrown inside the client only, when the run is cancelled or halted while waiting. */
class Stopped extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = "Stopped";
  }
}

/**
 * Interprets a `/symbol` answer for `symbol`: a 404 or an empty object is
 * "not found", a valid body a record, an invalid one a failure.
 */
function interpretSymbol(symbol: string, answer: CallAnswer): CallVerdict<FetchedRecord> {
  if (answer.status === 404) return { kind: "not-found", reason: "not found on TradingView" };
  const json = answer.json;
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    return { kind: "retry", reason: "malformed response body (not a JSON object)" };
  }
  if (isEmptyResponse(json)) return { kind: "not-found", reason: "not found on TradingView" };
  const result = toRecord(symbol, json);
  if (!result.ok) return { kind: "failed", reason: result.reason };
  return { kind: "ok", value: { record: result.record, defaults: result.defaults } };
}

/** The scanner API client; see the module doc. */
export class TradingViewClient {
  /** Request counters for the run report. */
  readonly stats: HttpStats = { requests: 0, retries: 0, status429: 0 };
  /** Requests per endpoint (their sum is `stats.requests`). */
  readonly byEndpoint: EndpointStats = { symbol: 0, scan: 0 };
  /** The server's state, shared by every request of this client. */
  readonly breaker: ServerBreaker;
  /** The pace of request starts, shared by every request of this client. */
  readonly pacer: Pacer;
  /** The host requests go to (for messages). */
  readonly host: string;
  private readonly options: Required<
    Omit<
      ClientOptions,
      "signal" | "onEvent" | "onTrace" | "breaker" | "pacer" | "workers" | "maxPausedMs" | "clock"
    >
  >;
  private readonly signal?: AbortSignal;
  private readonly onEvent?: (message: string) => void;
  private readonly onTrace?: (event: ClientTrace) => void;
  readonly #clock: Clock;
  #change = Promise.withResolvers<void>();

  /** A client with its own breaker and pacer; see {@linkcode ClientOptions}. */
  constructor(options: ClientOptions) {
    const baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.options = {
      baseUrl,
      timeoutMs: options.timeoutMs ?? 10_000,
      maxRetries: options.maxRetries ?? 4,
      backoffBaseMs: options.backoffBaseMs ?? 250,
      backoffCapMs: options.backoffCapMs ?? 8_000,
      retryAfterCapMs: options.retryAfterCapMs ?? 60_000,
      random: options.random ?? Math.random,
    };
    this.signal = options.signal;
    this.onEvent = options.onEvent;
    this.onTrace = options.onTrace;
    this.#clock = options.clock ?? realClock;
    this.host = new URL(baseUrl).host;
    this.pacer = new Pacer({ ...options.pacer, maxInFlight: options.workers ?? 16 });
    this.breaker = new ServerBreaker(this.host, {
      ...options.breaker,
      maxPausedMs: options.maxPausedMs ?? 300_000,
      retryAfterCapMs: this.options.retryAfterCapMs,
      random: this.options.random,
      onStateChange: (from, to, pauseMs) => this.#stateChanged(from, to, pauseMs),
      onHalt: (halt) => {
        // An unreachable host ends the run with this very line as its error.
        if (halt.kind !== "unreachable") this.onEvent?.(halt.reason);
        this.#notify();
      },
    });
    this.signal?.addEventListener("abort", () => this.#notify(), { once: true });
  }

  /** Why the client stopped sending for good, or null. */
  get halt(): Halt | null {
    return this.breaker.halt;
  }

  /**
   * Milliseconds until the current pause ends, or 0 when the pool is not
   * paused (no pause runs, or no request is waiting on it).
   */
  pausedFor(now = this.#clock.now()): number {
    return this.breaker.pausing(now) ? this.breaker.openUntil - now : 0;
  }

  /**
   * Every counter for the run report's `http`: requests, retries, 429s, 403s,
   * empty bodies, pauses and the time actually paused so far.
   */
  counts(): HttpStats & ServerBreaker["stats"] {
    this.breaker.settle(this.#clock.now());
    return { ...this.stats, ...this.breaker.stats };
  }

  /** The request URL for a symbol (query values URL-encoded). */
  urlFor(symbol: string): string {
    const query = new URLSearchParams({ symbol, fields: REQUESTED_FIELDS.join(",") });
    return `${this.options.baseUrl}/symbol?${query}`;
  }

  /** Fetches and validates one symbol: {@linkcode call} on `/symbol`; never throws. */
  async fetchSymbol(symbol: string): Promise<SymbolOutcome> {
    const outcome = await this.call(
      { url: this.urlFor(symbol), label: symbol },
      (answer) => interpretSymbol(symbol, answer),
    );
    if (outcome.kind === "ok") {
      return { kind: "fetched", symbol, attempts: outcome.attempts, ...outcome.value };
    }
    return { kind: outcome.kind, symbol, attempts: outcome.attempts, reason: outcome.reason };
  }

  /** The URL of a market's batch endpoint. */
  scanUrlFor(market: Market): string {
    return `${this.options.baseUrl}/${market}/scan`;
  }

  /**
   * POSTs one batch of tickers to `/{market}/scan`: {@linkcode call}, so
   * the same pauses, pacing, throttle handling and retries as `/symbol`;
   * never throws. Rows come back by ticker; a ticker missing from them is
   * for the caller to judge (it is not "not found" yet).
   */
  async scanBatch(
    market: Market,
    tickers: readonly string[],
    columns: readonly string[] = SCAN_COLUMNS,
  ): Promise<ScanBatch> {
    const path = `/${market}/scan`;
    const outcome = await this.call<Extract<ParsedScan, { ok: true }>>(
      {
        url: this.scanUrlFor(market),
        method: "POST",
        body: JSON.stringify(scanRequest(tickers, columns)),
        // One label per batch (its first ticker): labels tell requests apart.
        label: `${path} ${tickers[0] ?? ""} +${Math.max(0, tickers.length - 1)}`,
        endpoint: "scan",
      },
      (answer) => {
        // An unknown market path is a 404: nothing there is "not found".
        if (answer.status === 404) return { kind: "failed", reason: `HTTP 404 from ${path}` };
        const parsed = parseScanAnswer(answer.json, columns);
        return parsed.ok ? { kind: "ok", value: parsed } : { kind: "retry", reason: parsed.reason };
      },
    );
    if (outcome.kind === "ok") {
      const { rows, invalid, conflicting } = outcome.value;
      return { ok: true, rows, invalid, conflicting, attempts: outcome.attempts };
    }
    const refused = /^HTTP 400\b/.test(outcome.reason);
    const unknownColumn = refused ? unknownColumnIn(outcome.reason, columns) : undefined;
    const hint = refused && unknownColumn === undefined
      ? ` from ${path} (the server refused the request: an unknown column?)`
      : refused
      ? ` from ${path}`
      : "";
    return {
      ok: false,
      reason: `${outcome.reason}${hint}`,
      attempts: outcome.attempts,
      ...(unknownColumn === undefined ? {} : { unknownColumn }),
    };
  }

  /**
   * Sends one request through the shared machinery (pause, probe, pace,
   * timeout, retries, throttle and block handling; see the module doc) and
   * lets `interpret` judge each answer of status 200 or 404. Never throws:
   * a throwing `interpret` fails the call with its message.
   *
   * @example
   * ```ts
   * import { TradingViewClient } from "./client.ts";
   * const client = new TradingViewClient({ baseUrl: "http://127.0.0.1:8787" });
   * const outcome = await client.call(
   *   { url: "http://127.0.0.1:8787/america/scan", method: "POST", body: "{}", label: "scan" },
   *   (answer) => answer.status === 200 ? { kind: "ok", value: answer.json } : { kind: "not-found", reason: "no such market" },
   * );
   * ```
   */
  async call<T>(
    request: CallRequest,
    interpret: (answer: CallAnswer) => CallVerdict<T>,
  ): Promise<CallOutcome<T>> {
    if (this.#active++ === 0) this.breaker.setActive(this.#clock.now(), true);
    try {
      return await this.#call(request, interpret);
    } finally {
      if (--this.#active === 0) this.breaker.setActive(this.#clock.now(), false);
    }
  }

  async #call<T>(
    request: CallRequest,
    interpret: (answer: CallAnswer) => CallVerdict<T>,
  ): Promise<CallOutcome<T>> {
    const { maxRetries } = this.options;
    let sent = 0;
    let charged = 0;
    let lastReason = "";
    for (;;) {
      let probe: boolean;
      let booked: number;
      try {
        ({ probe, booked } = await this.#waitTurn());
        // A pause may have begun between our turn and now (another answer
        // was handled meanwhile): then this request waits like the rest.
        while (
          this.breaker.halt !== null || this.signal?.aborted ||
          (!probe && this.breaker.state !== "closed")
        ) {
          this.pacer.inFlight--;
          if (probe) this.breaker.withdrawProbe();
          ({ probe, booked } = await this.#waitTurn());
        }
      } catch (err) {
        return { kind: "failed", reason: this.#stopReason(err), attempts: sent };
      }
      if (sent > 0) this.stats.retries++;
      sent++;
      const sentAt = this.#clock.now();
      this.onTrace?.({ kind: "send", at: sentAt, label: request.label, probe, booked });
      let attempt: Attempt<T>;
      try {
        attempt = await this.#attempt(request, interpret);
      } finally {
        this.pacer.inFlight--;
        this.#notify();
      }
      const now = this.#clock.now();
      switch (attempt.kind) {
        case "cancelled":
          // Our own Ctrl-C: nothing learnt about the server.
          if (probe) this.breaker.withdrawProbe();
          return { kind: "failed", reason: "cancelled", attempts: sent };
        case "denied":
          this.breaker.deny(attempt.reason);
          return { kind: "failed", reason: attempt.reason, attempts: sent };
        case "verdict":
          this.breaker.good(probe);
          // Answers to requests sent before a pause do not speed up the
          // restart (but they count in the pace the server sustained).
          if (this.breaker.state === "closed") this.pacer.success();
          else this.pacer.answeredWhilePaused();
          if (attempt.verdict.kind !== "retry") {
            return { ...attempt.verdict, attempts: sent };
          }
          lastReason = attempt.verdict.reason;
          charged++;
          break;
        case "throttle": {
          lastReason = attempt.reason;
          this.#lastThrottle = attempt;
          const free = this.breaker.throttled(
            now,
            attempt.signal,
            request.label,
            probe,
            attempt.retryAfterMs,
            this.#active === 1,
          );
          if (!free) charged++;
          break;
        }
        case "fault":
          this.breaker.failed(probe);
          lastReason = attempt.reason;
          charged++;
          break;
        case "unanswered":
          this.breaker.unanswered(
            attempt.timeout,
            attempt.cause,
            probe,
            request.label,
            now,
            sentAt,
          );
          lastReason = attempt.reason;
          charged++;
          break;
      }
      this.#notify();
      if (this.signal?.aborted) return { kind: "failed", reason: "cancelled", attempts: sent };
      if (this.halt) return { kind: "failed", reason: this.halt.reason, attempts: sent };
      if (charged > maxRetries) {
        return {
          kind: "failed",
          reason: `${lastReason} (gave up after ${sent} ${sent === 1 ? "attempt" : "attempts"})`,
          attempts: sent,
        };
      }
      const backoff = this.#backoff(Math.max(0, charged - 1));
      this.onTrace?.({ kind: "backoff", at: now, label: request.label, ms: backoff });
      try {
        await this.#clock.sleep(backoff, this.signal);
      } catch {
        return { kind: "failed", reason: "cancelled", attempts: sent };
      }
    }
  }

  #stopReason(err: unknown): string {
    if (this.signal?.aborted) return "cancelled";
    if (err instanceof Stopped) return err.reason;
    return errorMessage(err);
  }

  #backoff(attempt: number): number {
    const ceiling = Math.min(this.options.backoffCapMs, this.options.backoffBaseMs * 2 ** attempt);
    return this.options.random() * ceiling;
  }

  #stateChanged(from: string, to: string, pauseMs: number): void {
    const now = this.#clock.now();
    if (to === "open") {
      if (from === "closed") {
        // A failed probe (half_open -> open) continues the same episode. A
        // 429 that says when to come back (a Retry-After in the future) is
        // explicit; one without, or with 0 or a past date, is not.
        const { signal, retryAfterMs } = this.#lastThrottle;
        const kind = signal === "429" && retryAfterMs !== null && retryAfterMs > 0
          ? "explicit"
          : "soft";
        this.pacer.trip(now, this.breaker.openUntil, kind);
      }
      // The pause as the breaker scheduled it: it ends at openUntil.
      this.onTrace?.({ kind: "pause", at: this.breaker.openUntil - pauseMs, ms: pauseMs });
      // Announced when a request first waits on it (#waitTurn): a pause
      // nobody waits for (the run is over) is never announced.
      this.#announced = false;
    } else if (to === "closed") {
      this.pacer.resume(now);
      this.onTrace?.({ kind: "resume", at: now });
      const { rate, limit } = this.pacer;
      this.onEvent?.(
        `server answers again: resuming ${limit === 1 ? "slowly " : ""}(${
          rate.toFixed(1)
        } requests/s, ${limit} in flight)`,
      );
    }
    this.#notify();
  }

  /** Calls in progress (sending, or waiting to retry); 1 means a lone request is the pool. */
  #active = 0;

  /** The throttle answer being handled (for the pause message and the pacer). */
  #lastThrottle: { signal: ThrottleSignal; reason: string; retryAfterMs: number | null } = {
    signal: "empty",
    reason: "",
    retryAfterMs: null,
  };

  /** Whether the current pause has been announced (see #announce). */
  #announced = true;

  /** Says, once per pause, that the pool is paused: called when a request waits on it. */
  #announce(now: number): void {
    if (this.#announced || !this.breaker.pausing(now)) return;
    this.#announced = true;
    const { pauses } = this.breaker.stats;
    this.onEvent?.(
      `${this.host} is throttling us (${this.#lastThrottle.reason}): ` +
        `pausing all requests for ${((this.breaker.openUntil - now) / 1000).toFixed(1)} s ` +
        `(pause ${pauses}, ${Math.round(this.breaker.spentMs / 1000)} s of pausing so far)`,
    );
  }

  /** Wakes every waiter so it looks at the shared state again. */
  #notify(): void {
    this.#change.resolve();
    this.#change = Promise.withResolvers<void>();
  }

  /** Waits up to `ms`, or until the shared state changes, or cancellation. */
  async #nap(ms: number): Promise<void> {
    const stop = new AbortController();
    const signal = this.signal ? AbortSignal.any([this.signal, stop.signal]) : stop.signal;
    const timer = this.#clock.sleep(Math.min(ms, 3_600_000), signal);
    timer.catch(() => {});
    try {
      await Promise.race([timer, this.#change.promise]);
    } finally {
      stop.abort();
    }
  }

  /**
   * Waits until this request may go: the pause is over, the probe slot (if
   * half-open) is ours, a slot is free and the pacer's spacing has passed.
   * Resolves with whether this request is the probe, and the start the pacer
   * booked for it; throws Stopped on halt or cancellation. On return the request holds an in-flight slot.
   */
  async #waitTurn(): Promise<{ probe: boolean; booked: number }> {
    for (;;) {
      if (this.signal?.aborted) throw new Stopped("cancelled");
      if (this.halt) throw new Stopped(this.halt.reason);
      const gate = this.breaker.gate(this.#clock.now());
      if (gate.kind === "wait") {
        this.#announce(this.#clock.now());
        await this.#nap(gate.ms);
        continue;
      }
      const probe = gate.kind === "probe";
      if (!probe && !this.pacer.hasSlot()) {
        await this.#nap(Infinity);
        continue;
      }
      this.pacer.inFlight++;
      // The probe, too, waits for the pacer's spacing: probes never go back
      // to back, whatever the pauses are.
      const now = this.#clock.now();
      const startAt = now + this.pacer.reserve(now);
      let paused = false;
      // Naps end early on any change of the shared state: sleep until our
      // booked start, unless a pause begins meanwhile (the probe holds the
      // only slot of a half-open breaker: nothing else can start one).
      while (!paused && this.#clock.now() < startAt) {
        try {
          await this.#nap(startAt - this.#clock.now());
        } catch (err) {
          this.pacer.inFlight--;
          if (probe) this.breaker.withdrawProbe();
          throw err;
        }
        paused = probe ? this.halt !== null : this.breaker.state !== "closed" || this.halt !== null;
      }
      if (paused) {
        this.pacer.inFlight--;
        if (probe) this.breaker.withdrawProbe();
        continue;
      }
      return { probe, booked: startAt };
    }
  }

  async #attempt<T>(
    request: CallRequest,
    interpret: (answer: CallAnswer) => CallVerdict<T>,
  ): Promise<Attempt<T>> {
    const { timeoutMs } = this.options;
    // Request timeouts are about the network: always on the wall clock.
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = this.signal ? AbortSignal.any([this.signal, timeout]) : timeout;
    this.stats.requests++;
    this.byEndpoint[request.endpoint ?? "symbol"]++;
    const timedOut = (): Attempt<T> => ({
      kind: "unanswered",
      timeout: true,
      cause: `no answer within ${timeoutMs} ms`,
      reason: `timed out after ${timeoutMs} ms`,
    });
    let response: Response;
    try {
      const headers: Record<string, string> = {
        "user-agent": USER_AGENT,
        accept: "application/json",
      };
      if (request.body !== undefined) headers["content-type"] = "application/json";
      response = await fetch(request.url, {
        method: request.method ?? "GET",
        headers,
        body: request.body,
        signal,
      });
    } catch (err) {
      if (this.signal?.aborted) return { kind: "cancelled" };
      if (err instanceof Deno.errors.NotCapable) {
        return { kind: "denied", reason: deniedReason(this.host, err) };
      }
      if (timeout.aborted) return timedOut();
      const cause = networkCause(err);
      return { kind: "unanswered", timeout: false, cause, reason: `network error: ${cause}` };
    }
    const status = response.status;
    let body: string;
    try {
      const bytes = response.body
        ? await readCapped(response.body, MAX_BODY_BYTES)
        : new Uint8Array();
      if (bytes === null) {
        return {
          kind: "fault",
          reason: `malformed response body (larger than ${MAX_BODY_BYTES} bytes)`,
        };
      }
      body = new TextDecoder().decode(bytes);
    } catch (err) {
      if (this.signal?.aborted) return { kind: "cancelled" };
      if (timeout.aborted) return timedOut();
      return {
        kind: "fault",
        reason: `network error while reading the body: ${errorMessage(err)}`,
      };
    }
    const retryAfter = parseRetryAfter(response.headers.get("retry-after"), this.#clock.now());
    if (status === 429) {
      this.stats.status429++;
      return {
        kind: "throttle",
        signal: "429",
        reason: "HTTP 429 Too Many Requests",
        retryAfterMs: retryAfter,
      };
    }
    if (status === 403) {
      return { kind: "throttle", signal: "403", reason: "HTTP 403", retryAfterMs: retryAfter };
    }
    if (status === 503 && retryAfter !== null) {
      // The server says when to come back: a pause for the whole pool.
      return { kind: "throttle", signal: "429", reason: "HTTP 503", retryAfterMs: retryAfter };
    }
    if (status >= 500) return { kind: "fault", reason: `HTTP ${status}` };
    if (status !== 200 && status !== 404) {
      // Keep the server's own words (`Unknown field "x"`): they say what to fix.
      const said = serverText(body);
      return {
        kind: "verdict",
        verdict: {
          kind: "failed",
          reason: `HTTP ${status} (not retried)${said ? `: ${said}` : ""}`,
        },
      };
    }
    let json: unknown = null;
    try {
      json = JSON.parse(body);
    } catch {
      if (status === 200) {
        // The scanner's soft throttle: 200 with an empty (or cut) body.
        return {
          kind: "throttle",
          signal: "empty",
          reason: body.trim() === "" ? "empty response body" : "malformed response body (not JSON)",
          retryAfterMs: null,
        };
      }
    }
    try {
      return { kind: "verdict", verdict: interpret({ status, json }) };
    } catch (err) {
      return { kind: "verdict", verdict: { kind: "failed", reason: errorMessage(err) } };
    }
  }
}

/**
 * Fetches every symbol with at most `workers` requests in flight; outcomes
 * come back in input order, one per symbol (never a rejection).
 *
 * @example
 * ```ts
 * import { fetchAll, TradingViewClient } from "./client.ts";
 * const client = new TradingViewClient({ baseUrl: "http://127.0.0.1:8787" });
 * const outcomes = await fetchAll(client, ["NASDAQ:AAPL"], 3);
 * ```
 */
export async function fetchAll(
  client: TradingViewClient,
  symbols: readonly string[],
  workers: number,
  onOutcome?: (outcome: SymbolOutcome) => void,
): Promise<SymbolOutcome[]> {
  const outcomes: SymbolOutcome[] = [];
  for await (
    const outcome of pooledMap(workers, symbols, async (symbol) => {
      const result = await client.fetchSymbol(symbol);
      onOutcome?.(result);
      return result;
    })
  ) {
    outcomes.push(outcome);
  }
  return outcomes;
}
