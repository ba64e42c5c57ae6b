/**
 * A polite client for TradingView's public scanner API.
 *
 * Promises:
 * - {@linkcode TradingViewClient.fetchSymbol} never throws for HTTP or data
 *   problems: every symbol ends as a {@linkcode FetchOutcome} value (fetched,
 *   not found, or failed with a reason), so one bad symbol never stops a pool.
 * - Network errors, timeouts (per request, by AbortSignal), 429, 403, 5xx
 *   and malformed bodies are retried up to `maxRetries` times with
 *   exponential backoff and full jitter.
 * - `Retry-After` is honoured in both forms (delay-seconds and HTTP-date),
 *   capped at `retryAfterCapMs`.
 * - Shared cooldown: a 429 (or a 503 with Retry-After) pauses every request
 *   of this client until the cooldown ends, so the pool backs off as a whole.
 *   After a 429 the client also paces request starts (AIMD: the pace is cut
 *   on each 429 and eased back while requests succeed) so that a stingy
 *   server is not hit again and again.
 * - A 404 or an empty object is "not found on TradingView" and is not retried.
 * - {@linkcode TradingViewClient.stats} counts requests, retries and 429s.
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
import { delay } from "../std/delay.ts";
import { errorMessage } from "../core/errors.ts";
import { pooledMap } from "../std/pool.ts";
import { readCapped } from "../fs/read_capped.ts";
import type { CatalogRecord, RecordDefaults } from "../record/record.ts";
import { isEmptyResponse, REQUESTED_FIELDS, toRecord } from "../record/tradingview.ts";
import type { Market } from "../record/exchanges.ts";
import { parseScanAnswer, SCAN_COLUMNS, scanRequest } from "../record/scan.ts";
import { TOOL_NAME, VERSION } from "../core/version.ts";

/** What TradingView's answers for one symbol came to. */
export type Answer =
  | { kind: "fetched"; record: CatalogRecord; defaults: RecordDefaults }
  | { kind: "not-found"; reason: string }
  | { kind: "failed"; reason: string };

/** How one symbol ended, after `attempts` HTTP attempts. */
export type FetchOutcome = Answer & { symbol: string; attempts: number };

/** Counters for the run report. */
export interface HttpStats {
  /** HTTP requests sent (every attempt counts). */
  requests: number;
  /** Attempts after the first, of a symbol or a batch. */
  retries: number;
  /** Answers with status 429. */
  status429: number;
}

/** Requests per endpoint: `GET /symbol` and `POST /{market}/scan`. */
export interface EndpointStats {
  /** `GET /symbol` requests. */
  symbol: number;
  /** `POST /{market}/scan` requests. */
  scan: number;
}

/** How one `/scan` batch ended: its rows by ticker, or why it failed (after retries). */
export type ScanBatch =
  | { ok: true; rows: Map<string, unknown[]>; attempts: number }
  | { ok: false; reason: string; attempts: number };

/** Client settings; only `baseUrl` is required. */
export interface ClientOptions {
  baseUrl: string;
  /** Per-request timeout (default 10 s). */
  timeoutMs?: number;
  /** Retries per symbol after the first attempt (default 4). */
  maxRetries?: number;
  /** First backoff ceiling; doubles per attempt (default 250 ms). */
  backoffBaseMs?: number;
  /** Largest backoff ceiling (default 8 s). */
  backoffCapMs?: number;
  /** Largest Retry-After we honour (default 60 s). */
  retryAfterCapMs?: number;
  /** Cancels everything (e.g. on SIGINT). */
  signal?: AbortSignal;
  /** For tests: the random source for jitter (default Math.random). */
  random?: () => number;
}

/** The User-Agent sent with every request. */
export const USER_AGENT = `${TOOL_NAME}/${VERSION} (instrument metadata refresh; Deno)`;

/**
 * Parses a Retry-After header value into milliseconds from `now`, or null
 * when absent or unreadable.
 *
 * @example
 * ```ts
 * import { parseRetryAfter } from "./client.ts";
 * parseRetryAfter("2", 0);                               // 2000
 * parseRetryAfter("Thu, 01 Jan 1970 00:00:05 GMT", 0);   // 5000
 * ```
 */
export function parseRetryAfter(value: string | null, now: number): number | null {
  if (value === null) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  if (!/[a-z]/i.test(text)) return null;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - now);
}

/** The useful part of a fetch failure: its cause (DNS, refused, reset), without the URL. */
function networkCause(err: unknown): string {
  const cause = err instanceof Error && err.cause instanceof Error
    ? err.cause.message
    : errorMessage(err);
  return cause.replace(/^error sending request for url \([^)]*\): /, "");
}

/** Largest response body read; a symbol's metadata is a few hundred bytes. */
export const MAX_BODY_BYTES = 1024 * 1024;

class Retryable {
  constructor(readonly reason: string, readonly retryAfterMs: number | null = null) {}
}

/**
 * Spaces request starts once the server has shown its limit (AIMD).
 *
 * Unpaced until a 429 arrives after enough successes (5) to measure what the
 * server sustains: then request starts are spaced at 95% of that rate
 * (successes since the first request over the time until the coming resume,
 * cooldowns included). Each later 429 cuts the rate by 20%; each success
 * raises it by 1%. A storm with no successes never engages pacing (the shared
 * cooldown handles it), so a single early 429 cannot slow a whole run down.
 */
class Pacer {
  /** Allowed request starts per second; Infinity while unpaced. */
  rate = Infinity;
  private nextStart = 0;
  private firstStart: number | null = null;
  private successes = 0;
  private lastCut = -Infinity;

  /** Milliseconds to wait before the next start (and books that start). */
  reserve(now: number): number {
    this.firstStart ??= now;
    if (this.rate === Infinity) return 0;
    const start = Math.max(now, this.nextStart);
    this.nextStart = start + 1000 / this.rate;
    return start - now;
  }

  success(): void {
    this.successes++;
    if (this.rate !== Infinity) this.rate *= 1.01;
  }

  /** A 429 answered at `now`; requests resume at `resumeAt`. */
  throttled(now: number, resumeAt: number): void {
    // Several requests refused by one burst are one event.
    if (now - this.lastCut < 1000) return;
    this.lastCut = now;
    if (this.rate !== Infinity) {
      this.rate = Math.max(0.2, this.rate * 0.8);
    } else if (this.successes >= 5 && this.firstStart !== null) {
      // What the server sustained so far, cooldowns included.
      const seconds = Math.max(0.001, (resumeAt - this.firstStart) / 1000);
      this.rate = Math.max(0.2, (this.successes / seconds) * 0.95);
    }
    this.nextStart = Math.max(this.nextStart, resumeAt);
  }
}

/** The scanner API client; see the module doc. */
export class TradingViewClient {
  /** Counters for the run report. */
  readonly stats: HttpStats = { requests: 0, retries: 0, status429: 0 };
  /** Requests per endpoint (their sum is `stats.requests`). */
  readonly byEndpoint: EndpointStats = { symbol: 0, scan: 0 };
  private readonly options: Required<Omit<ClientOptions, "signal">>;
  private readonly signal?: AbortSignal;
  private cooldownUntil = 0;
  private readonly pacer = new Pacer();

  constructor(options: ClientOptions) {
    this.options = {
      baseUrl: options.baseUrl.replace(/\/+$/, ""),
      timeoutMs: options.timeoutMs ?? 10_000,
      maxRetries: options.maxRetries ?? 4,
      backoffBaseMs: options.backoffBaseMs ?? 250,
      backoffCapMs: options.backoffCapMs ?? 8_000,
      retryAfterCapMs: options.retryAfterCapMs ?? 60_000,
      random: options.random ?? Math.random,
    };
    this.signal = options.signal;
  }

  /** The request URL for a symbol (query values URL-encoded). */
  urlFor(symbol: string): string {
    const query = new URLSearchParams({ symbol, fields: REQUESTED_FIELDS.join(",") });
    return `${this.options.baseUrl}/symbol?${query}`;
  }

  /** Fetches and validates one symbol; never throws (see the module doc). */
  async fetchSymbol(symbol: string): Promise<FetchOutcome> {
    const { maxRetries } = this.options;
    let lastReason = "";
    for (let attempt = 0; attempt <= maxRetries; attempt++) {
      try {
        await this.waitTurn();
        if (attempt > 0) this.stats.retries++;
        const answer = await this.attempt(symbol);
        return { ...answer, symbol, attempts: attempt + 1 };
      } catch (err) {
        if (this.signal?.aborted) {
          return { kind: "failed", symbol, reason: "cancelled", attempts: attempt + 1 };
        }
        if (!(err instanceof Retryable)) {
          return { kind: "failed", symbol, reason: errorMessage(err), attempts: attempt + 1 };
        }
        lastReason = err.reason;
        if (attempt === maxRetries) break;
        const backoff = this.backoff(attempt);
        try {
          await delay(Math.max(backoff, err.retryAfterMs ?? 0), { signal: this.signal });
        } catch {
          return { kind: "failed", symbol, reason: "cancelled", attempts: attempt + 1 };
        }
      }
    }
    return {
      kind: "failed",
      symbol,
      reason: `${lastReason} (gave up after ${maxRetries + 1} ${
        maxRetries === 0 ? "attempt" : "attempts"
      })`,
      attempts: maxRetries + 1,
    };
  }

  private backoff(attempt: number): number {
    const ceiling = Math.min(this.options.backoffCapMs, this.options.backoffBaseMs * 2 ** attempt);
    return this.options.random() * ceiling;
  }

  /** Waits out the shared cooldown and the pacer before a request. */
  private async waitTurn(): Promise<void> {
    for (;;) {
      const now = Date.now();
      if (now < this.cooldownUntil) {
        await delay(this.cooldownUntil - now, { signal: this.signal });
        continue;
      }
      const wait = this.pacer.reserve(now);
      if (wait > 0) await delay(wait, { signal: this.signal });
      // A 429 elsewhere may have started a cooldown while we waited.
      if (Date.now() >= this.cooldownUntil) return;
    }
  }

  private coolDown(retryAfterMs: number | null, fallbackMs: number): number {
    const now = Date.now();
    const ms = Math.min(this.options.retryAfterCapMs, retryAfterMs ?? fallbackMs);
    this.cooldownUntil = Math.max(this.cooldownUntil, now + ms);
    return ms;
  }

  private async attempt(symbol: string): Promise<Answer> {
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    const signal = this.signal ? AbortSignal.any([this.signal, timeout]) : timeout;
    this.stats.requests++;
    this.byEndpoint.symbol++;
    let response: Response;
    try {
      response = await fetch(this.urlFor(symbol), {
        headers: { "user-agent": USER_AGENT, accept: "application/json" },
        signal,
      });
    } catch (err) {
      if (timeout.aborted) throw new Retryable(`timed out after ${this.options.timeoutMs} ms`);
      throw new Retryable(`network error: ${networkCause(err)}`);
    }
    const status = response.status;
    let body: string;
    try {
      const bytes = response.body
        ? await readCapped(response.body, MAX_BODY_BYTES)
        : new Uint8Array();
      if (bytes === null) {
        throw new Retryable(`malformed response body (larger than ${MAX_BODY_BYTES} bytes)`);
      }
      body = new TextDecoder().decode(bytes);
    } catch (err) {
      if (err instanceof Retryable) throw err;
      if (timeout.aborted) throw new Retryable(`timed out after ${this.options.timeoutMs} ms`);
      throw new Retryable(`network error while reading the body: ${errorMessage(err)}`);
    }
    const now = Date.now();
    const retryAfter = parseRetryAfter(response.headers.get("retry-after"), now);
    if (status === 429) {
      this.stats.status429++;
      const waited = this.coolDown(retryAfter, this.backoff(2) + 1000);
      this.pacer.throttled(now, now + waited);
      throw new Retryable("HTTP 429 Too Many Requests");
    }
    if (status === 404) {
      return { kind: "not-found", reason: "not found on TradingView" };
    }
    if (status === 403 || status >= 500) {
      if (status === 503 && retryAfter !== null) this.coolDown(retryAfter, 0);
      throw new Retryable(
        `HTTP ${status}`,
        retryAfter === null ? null : Math.min(retryAfter, this.options.retryAfterCapMs),
      );
    }
    if (status !== 200) {
      return { kind: "failed", reason: `HTTP ${status} (not retried)` };
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      throw new Retryable("malformed response body (not JSON)");
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new Retryable("malformed response body (not a JSON object)");
    }
    this.pacer.success();
    if (isEmptyResponse(parsed)) {
      return { kind: "not-found", reason: "not found on TradingView" };
    }
    const result = toRecord(symbol, parsed);
    if (!result.ok) return { kind: "failed", reason: result.reason };
    return { kind: "fetched", record: result.record, defaults: result.defaults };
  }

  /** The URL of a market's batch endpoint. */
  scanUrlFor(market: Market): string {
    return `${this.options.baseUrl}/${market}/scan`;
  }

  /**
   * POSTs one batch of tickers to `/{market}/scan`, with the same shared
   * cooldown, pacing, backoff and retries as {@linkcode fetchSymbol}; never
   * throws. Rows come back by ticker; a ticker missing from them is for
   * the caller to judge (it is not "not found" yet).
   */
  async scanBatch(
    market: Market,
    tickers: readonly string[],
    columns: readonly string[] = SCAN_COLUMNS,
  ): Promise<ScanBatch> {
    // Interim: the generic call() of the throttle rework replaces this loop.
    const { maxRetries } = this.options;
    const body = JSON.stringify(scanRequest(tickers, columns));
    let lastReason = "";
    for (let attempt = 0; attempt <= maxRetries; attempt++) {
      try {
        await this.waitTurn();
        if (attempt > 0) this.stats.retries++;
        return { ...(await this.attemptScan(market, body)), attempts: attempt + 1 };
      } catch (err) {
        if (this.signal?.aborted) return { ok: false, reason: "cancelled", attempts: attempt + 1 };
        if (!(err instanceof Retryable)) {
          return { ok: false, reason: errorMessage(err), attempts: attempt + 1 };
        }
        lastReason = err.reason;
        if (attempt === maxRetries) break;
        try {
          await delay(Math.max(this.backoff(attempt), err.retryAfterMs ?? 0), {
            signal: this.signal,
          });
        } catch {
          return { ok: false, reason: "cancelled", attempts: attempt + 1 };
        }
      }
    }
    return {
      ok: false,
      reason: `${lastReason} (gave up after ${maxRetries + 1} ${
        maxRetries === 0 ? "attempt" : "attempts"
      })`,
      attempts: maxRetries + 1,
    };
  }

  private async attemptScan(
    market: Market,
    body: string,
  ): Promise<{ ok: true; rows: Map<string, unknown[]> } | { ok: false; reason: string }> {
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    const signal = this.signal ? AbortSignal.any([this.signal, timeout]) : timeout;
    this.stats.requests++;
    this.byEndpoint.scan++;
    let response: Response;
    try {
      response = await fetch(this.scanUrlFor(market), {
        method: "POST",
        headers: {
          "user-agent": USER_AGENT,
          accept: "application/json",
          "content-type": "application/json",
        },
        body,
        signal,
      });
    } catch (err) {
      if (timeout.aborted) throw new Retryable(`timed out after ${this.options.timeoutMs} ms`);
      throw new Retryable(`network error: ${networkCause(err)}`);
    }
    let text: string;
    try {
      // A batch of 500 rows is about 150 KB; the cap is per row like /symbol's.
      const cap = MAX_BODY_BYTES * 8;
      const bytes = response.body ? await readCapped(response.body, cap) : new Uint8Array();
      if (bytes === null) throw new Retryable(`malformed /scan body (larger than ${cap} bytes)`);
      text = new TextDecoder().decode(bytes);
    } catch (err) {
      if (err instanceof Retryable) throw err;
      if (timeout.aborted) throw new Retryable(`timed out after ${this.options.timeoutMs} ms`);
      throw new Retryable(`network error while reading the body: ${errorMessage(err)}`);
    }
    const status = response.status;
    const now = Date.now();
    const retryAfter = parseRetryAfter(response.headers.get("retry-after"), now);
    if (status === 429) {
      this.stats.status429++;
      const waited = this.coolDown(retryAfter, this.backoff(2) + 1000);
      this.pacer.throttled(now, now + waited);
      throw new Retryable("HTTP 429 Too Many Requests");
    }
    if (status === 403 || status >= 500) {
      if (status === 503 && retryAfter !== null) this.coolDown(retryAfter, 0);
      throw new Retryable(
        `HTTP ${status}`,
        retryAfter === null ? null : Math.min(retryAfter, this.options.retryAfterCapMs),
      );
    }
    if (status !== 200) {
      let detail = "";
      try {
        const parsed = JSON.parse(text);
        if (typeof parsed?.error === "string") detail = `: ${parsed.error.slice(0, 200)}`;
      } catch {
        // no detail
      }
      return { ok: false, reason: `HTTP ${status} from /${market}/scan${detail} (not retried)` };
    }
    if (text.trim() === "") {
      // The scanner reports throttling as a 200 with an empty body.
      this.coolDown(null, this.backoff(2) + 1000);
      throw new Retryable("throttled (HTTP 200 with an empty body)");
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Retryable("malformed /scan body (not JSON)");
    }
    const answer = parseScanAnswer(parsed);
    if (!answer.ok) throw new Retryable(answer.reason);
    this.pacer.success();
    return answer;
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
  onOutcome?: (outcome: FetchOutcome) => void,
): Promise<FetchOutcome[]> {
  const outcomes: FetchOutcome[] = [];
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
