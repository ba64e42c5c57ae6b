/**
 * A local TradingView mirror: the scanner API's `/symbol` and
 * `POST /{market}/scan` endpoints served on 127.0.0.1 from a deterministic universe of a few thousand instruments
 * (crypto, equities, futures, forex), with switches for the ways a real API
 * hurts: latency and jitter, a max-in-flight limit answered with 429 +
 * Retry-After, a token-bucket rate limit, injected 403, 5xx, malformed
 * bodies and hangs, and the real scanner's harsher modes: a soft throttle
 * (200 with an empty body), a client blocked with 403, and a host that
 * refuses connections, never answers, or does not speak TLS. It counts what it served, including the highest number
 * of requests it ever had in flight. Used by the tests, the benchmarks and
 * `make demo`; never the real API.
 *
 * In-process:
 * ```ts
 * import { startMirror } from "./mirror.ts";
 * await using mirror = startMirror({ latencyMs: 200, maxInFlight: 3 });
 * // ... run meta-ingest with --base-url mirror.url ...
 * console.log(mirror.stats.peakInFlight);
 * ```
 *
 * As a process: `deno run -A testing/mirror.ts --port 8787 --latency-ms 200`
 * (prints its URL, serves until SIGINT/SIGTERM; `GET /__stats` answers the
 * counters as JSON).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type Clock, realClock } from "../lib/std/clock.ts";

/** One injected misbehaviour for one request. */
export type Fault =
  | { kind: "status"; status: number; retryAfter?: string }
  | { kind: "malformed" }
  | { kind: "hang" }
  | { kind: "body"; body: unknown }
  /** 200 with an empty body: the scanner's soft throttle, for one request. */
  | { kind: "empty" };

/** What a fault hook sees about a request. */
export interface FaultContext {
  /** Which endpoint: `GET /symbol` or `POST /{market}/scan`. */
  endpoint: "symbol" | "scan";
  /** The symbol asked for; for /scan, the path (`global/scan`). */
  symbol: string;
  /** For /scan: the tickers asked for. */
  tickers?: string[];
  /** 1-based index of this request among all requests. */
  request: number;
  /** 1-based index of this request among this symbol's requests. */
  attempt: number;
}

/** Mirror switches; all optional. Can be changed while running via `configure`. */
export interface MirrorOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** Added to every answered request. */
  latencyMs?: number;
  /** Uniform extra delay in [0, jitterMs). */
  jitterMs?: number;
  /** More requests than this in flight get 429 + Retry-After. */
  maxInFlight?: number;
  /** Token bucket: requests per second allowed (429 + Retry-After beyond). */
  rate?: number;
  /** Token bucket size (default: one second's worth, at least 1). */
  burst?: number;
  /**
   * Retry-After style of the 429s the limits answer: delay-seconds
   * (default), an HTTP date, or the lies of issue 19's attack test (a
   * review's, not seen from TradingView): `zero` ("Retry-After: 0") and
   * `past` (an HTTP date an hour ago).
   */
  retryAfter?: "seconds" | "date" | "zero" | "past";
  /** Probabilities (0..1) of injected faults per request, seeded. */
  rate403?: number;
  rate5xx?: number;
  rateMalformed?: number;
  rateHang?: number;
  /** How long a hung request stays open (default 30 s, or until close). */
  hangMs?: number;
  /** Seed of the fault dice. */
  seed?: number;
  /** Per-request hook; wins over the probabilities. */
  fault?: (ctx: FaultContext) => Fault | undefined;
  /**
   * Rewrites the rows of every /scan answer (after `range`): to add rows
   * that contradict each other, malformed rows and the like. Not seen from
   * TradingView: issue 19's review asked what the client does if they come
   * (items 6 and 12: a stale row for a ticker before the right one; a row
   * whose `s` is not a string, or without `d`).
   */
  scanRows?: (rows: ScanRow[], columns: string[]) => unknown[];
  /**
   * Columns /scan refuses as unknown, though it serves them otherwise: a
   * scanner that dropped a column overnight. Its answer is the real
   * scanner's, as shner-elmo/TradingView-Screener#20 quotes it: HTTP 400,
   * `{"totalCount":0,"error":"Unknown field \"change.5\"","data":null}`.
   */
  scanUnknown?: string[];
  /**
   * The mirror's time (latency, the token bucket, the soft-throttle window,
   * Retry-After dates); give it the client's clock to run both fast. Hangs
   * stay on the wall clock.
   */
  clock?: Clock;
  /** Replace a symbol's answer: an object body, or "not-found". */
  overrides?: Record<string, Record<string, unknown> | "not-found">;
  /** Bump to change the data of about one symbol in ten per step. */
  revision?: number;
  /**
   * For the probe's test: /scan answers this column differently from
   * /symbol (numbers x10, texts with " (scan)" appended).
   */
  scanSkew?: string;
  /**
   * The scanner's soft throttle: once more than `limit` requests arrive
   * within `windowMs`, every request for the next `penaltyMs` is answered 200
   * with an empty body (no 429, no Retry-After); then the count starts over.
   * Modelled on what clients of the real scanner report: atilaahmettaner/
   * tradingview-mcp `core/services/screener_provider.py` ("empty-body
   * rate-limit cliff": `json.JSONDecodeError` on an empty 200, answered there
   * with at most 4 calls in flight and 0.8 s between starts) and
   * shner-elmo/TradingView-Screener's users (empty answers for roughly 30-90 s
   * after bursts, as cited by issue 8). The exact limit and window are not
   * published; tests choose short ones.
   */
  softThrottle?: { limit: number; windowMs: number; penaltyMs: number };
  /**
   * A blocked client: every `/symbol` request is answered 403 (issue 8's
   * reports of clients the scanner has blocked).
   */
  block403?: boolean;
  /**
   * A host that cannot be reached, fixed at start: `refused` (nothing
   * listens at `url`), `silent` (accepts connections, never answers) or
   * `tls` (`url` is https:// but the server speaks plain HTTP). A DNS
   * failure is not modelled: resolving a name could leave loopback; the
   * client treats it like `refused` (a fetch error before any answer).
   */
  unreachable?: "refused" | "silent" | "tls";
}

/** One row of a /scan answer: a ticker and its values in the order of the columns asked. */
export interface ScanRow {
  /** The ticker, `EXCHANGE:TICKER`. */
  s: string;
  /** Values, in column order. */
  d: unknown[];
}

/** What the mirror counted. */
export interface MirrorStats {
  requests: number;
  byStatus: Record<number, number>;
  status429: number;
  /** Requests answered 200 with an empty body (soft throttle). */
  empty: number;
  /** Connections accepted in `unreachable: "silent"` mode (nothing else is counted there). */
  connections: number;
  hangs: number;
  inFlight: number;
  /** Highest number of requests in flight at once (refused ones included). */
  peakInFlight: number;
  /** Requests per symbol on /symbol. */
  perSymbol: Record<string, number>;
  /** Requests per endpoint. */
  byEndpoint: { symbol: number; scan: number };
  /** Tickers asked for in /scan requests, per ticker. */
  perScanTicker: Record<string, number>;
}

/** A running mirror. */
export interface Mirror extends AsyncDisposable {
  url: string;
  stats: MirrorStats;
  configure(options: Partial<MirrorOptions>): void;
  resetStats(): void;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------
// The universe

type Body = Record<string, unknown>;

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

const CRYPTO_BASES = (
  "BTC ETH SOL XRP BNB ADA DOGE TRX AVAX LINK DOT MATIC TON SHIB LTC BCH UNI ATOM XLM ETC FIL APT " +
  "ARB OP NEAR ICP HBAR VET INJ SUI SEI TIA AAVE MKR GRT RNDR IMX STX ALGO EGLD FTM SAND MANA AXS " +
  "THETA FLOW KAVA CHZ CRV SNX COMP YFI SUSHI 1INCH ZEC DASH XMR NEO QTUM IOTA ZIL ENJ BAT PEPE WIF"
).split(" ");
const CRYPTO_NAMES: Record<string, string> = { BTC: "Bitcoin", ETH: "Ethereum", SOL: "Solana" };
const CRYPTO_EXCHANGES = ["BINANCE", "OKX", "BYBIT", "BITGET"];

const EQUITIES: [string, string, string, string, string][] = [
  ["NASDAQ", "AAPL", "Apple Inc.", "Electronic Technology", "Telecommunications Equipment"],
  ["NASDAQ", "MSFT", "Microsoft Corporation", "Technology Services", "Packaged Software"],
  ["NASDAQ", "NVDA", "NVIDIA Corporation", "Electronic Technology", "Semiconductors"],
  ["NASDAQ", "AMZN", "Amazon.com, Inc.", "Retail Trade", "Internet Retail"],
  ["NASDAQ", "GOOGL", "Alphabet Inc.", "Technology Services", "Internet Software/Services"],
  ["NASDAQ", "META", "Meta Platforms, Inc.", "Technology Services", "Internet Software/Services"],
  ["NASDAQ", "TSLA", "Tesla, Inc.", "Consumer Durables", "Motor Vehicles"],
  ["NASDAQ", "QQQ", "Invesco QQQ Trust", "Miscellaneous", "Investment Trusts/Mutual Funds"],
  ["NYSE", "BRK.B", "Berkshire Hathaway Inc.", "Finance", "Multi-Line Insurance"],
  ["NYSE", "JPM", "JPMorgan Chase & Co.", "Finance", "Major Banks"],
  ["NYSE", "XOM", "Exxon Mobil Corporation", "Energy Minerals", "Integrated Oil"],
  ["NYSE", "BF.B", "Brown-Forman Corporation", "Consumer Non-Durables", "Beverages: Alcoholic"],
  ["NYSE", "KO", "The Coca-Cola Company", "Consumer Non-Durables", "Beverages: Non-Alcoholic"],
  ["AMEX", "SPY", "SPDR S&P 500 ETF Trust", "Miscellaneous", "Investment Trusts/Mutual Funds"],
  ["AMEX", "GLD", "SPDR Gold Shares", "Miscellaneous", "Investment Trusts/Mutual Funds"],
];
const SECTORS = [
  ["Finance", "Regional Banks"],
  ["Health Technology", "Pharmaceuticals: Major"],
  ["Technology Services", "Packaged Software"],
  ["Producer Manufacturing", "Industrial Machinery"],
  ["Utilities", "Electric Utilities"],
  ["Retail Trade", "Specialty Stores"],
];

/** Contract multipliers of the futures roots (the exchanges' published ones). */
const POINT_VALUES: Readonly<Record<string, number>> = {
  ES: 50,
  NQ: 20,
  MES: 5,
  "6E": 125000,
  LE: 400,
  ZC: 50,
  ZN: 1000,
  YM: 5,
  GC: 100,
  SI: 5000,
  CL: 1000,
  NG: 10000,
  KC: 375,
  SB: 1120,
  FDAX: 25,
};

const FUTURES: [string, string, string, number, number][] = [
  // exchange, root, description, pricescale, minmov
  ["CME_MINI", "ES", "E-mini S&P 500 Futures", 100, 25],
  ["CME_MINI", "NQ", "E-mini Nasdaq-100 Futures", 100, 25],
  ["CME_MINI", "MES", "Micro E-mini S&P 500 Futures", 100, 25],
  ["CME", "6E", "Euro FX Futures", 100000, 5],
  ["CME", "LE", "Live Cattle Futures", 1000, 25],
  ["CBOT", "ZC", "Corn Futures", 400, 1],
  ["CBOT", "ZN", "10 Year T-Note Futures", 640, 1],
  ["CBOT", "YM", "E-mini Dow Futures", 1, 1],
  ["COMEX", "GC", "Gold Futures", 10, 1],
  ["COMEX", "SI", "Silver Futures", 1000, 5],
  ["NYMEX", "CL", "Crude Oil Futures", 100, 1],
  ["NYMEX", "NG", "Henry Hub Natural Gas Futures", 1000, 1],
  ["ICEUS", "KC", "Coffee C Futures", 100, 5],
  ["ICEUS", "SB", "Sugar No. 11 Futures", 100, 1],
  ["EUREX", "FDAX", "DAX Futures", 1, 1],
  ["EUREX", "FGBL", "Euro-Bund Futures", 100, 1],
];
const MONTHS = "FGHJKMNQUVXZ";
const CURRENCIES = [
  "EUR",
  "USD",
  "JPY",
  "GBP",
  "AUD",
  "CAD",
  "CHF",
  "NZD",
  "SEK",
  "NOK",
  "MXN",
  "ZAR",
];

function buildUniverse(): Map<string, Body> {
  const u = new Map<string, Body>();
  for (const exchange of CRYPTO_EXCHANGES) {
    const sparse = exchange === "OKX" || exchange === "BITGET";
    for (const base of CRYPTO_BASES) {
      for (const quote of ["USDT", "USDC"]) {
        const h = hash(`${exchange}${base}${quote}`);
        const pricescale = 10 ** (1 + (h % 7));
        const name = CRYPTO_NAMES[base] ?? base;
        for (const perp of [false, true]) {
          u.set(`${exchange}:${base}${quote}${perp ? ".P" : ""}`, {
            pricescale,
            minmov: 1,
            minmove2: 0,
            currency: quote,
            base_currency: base,
            exchange,
            type: perp ? "swap" : "spot",
            subtype: perp ? null : "crypto",
            description: perp ? `${base}${quote} Perpetual Contract` : `${name} / ${quote}`,
            sector: null,
            industry: null,
            country: null,
            root: perp ? base : null,
            expiration: null,
            contract_type: perp ? "perpetual" : null,
            timezone: sparse ? null : "Etc/UTC",
            session: sparse ? null : "24x7",
          });
        }
      }
    }
  }
  const equity = (
    exchange: string,
    ticker: string,
    description: string,
    sector: string,
    industry: string,
  ) => {
    const fund = /Trust|ETF|Shares/.test(description);
    u.set(`${exchange}:${ticker}`, {
      pricescale: 100,
      minmov: 1,
      minmove2: 0,
      currency: "USD",
      base_currency: null,
      exchange,
      type: fund ? "fund" : "stock",
      subtype: fund ? "etf" : "common",
      description,
      sector,
      industry,
      country: "United States",
      root: null,
      expiration: null,
      contract_type: null,
      timezone: "America/New_York",
      session: "0930-1600",
    });
  };
  for (const [exchange, ticker, description, sector, industry] of EQUITIES) {
    equity(exchange, ticker, description, sector, industry);
  }
  const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  const equityExchanges = ["NASDAQ", "NYSE", "AMEX"];
  for (let i = 0; i < 1500; i++) {
    // Synthetic tickers end in Q (no real words), e.g. "BKQ", "BKDQ".
    const ticker = letters[i % 26] + letters[Math.floor(i / 26) % 26] +
      (i >= 676 ? letters[Math.floor(i / 676)] : "") + "Q";
    const exchange = equityExchanges[i % 3];
    if (u.has(`${exchange}:${ticker}`)) continue;
    const [sector, industry] = SECTORS[hash(ticker) % SECTORS.length];
    equity(exchange, ticker, `${ticker} Holdings Corp.`, sector, industry);
  }
  for (const [exchange, root, description, pricescale, minmov] of FUTURES) {
    const contracts = [
      "1!",
      "2!",
      ...[2026, 2027].flatMap((y) => [...MONTHS].map((m) => `${m}${y}`)),
    ];
    for (const suffix of contracts) {
      const continuous = suffix.endsWith("!");
      u.set(`${exchange}:${root}${suffix}`, {
        pricescale,
        minmov,
        minmove2: 0,
        currency: exchange === "EUREX" ? "EUR" : "USD",
        base_currency: null,
        exchange,
        type: "futures",
        subtype: continuous ? "continuous" : null,
        description: continuous
          ? `${description} (continuous: ${suffix})`
          : `${description} ${suffix}`,
        sector: null,
        industry: null,
        country: null,
        root,
        expiration: continuous ? null : 20260000 + MONTHS.indexOf(suffix[0]) * 100 + 15,
        contract_type: continuous ? "continuous" : "single",
        timezone: exchange === "EUREX"
          ? "Europe/Berlin"
          : exchange === "ICEUS"
          ? "America/New_York"
          : "America/Chicago",
        session: "1700-1600",
      });
    }
  }
  for (const exchange of ["FX_IDC", "OANDA", "FOREX"]) {
    for (const a of CURRENCIES) {
      for (const b of CURRENCIES) {
        if (a === b) continue;
        const jpy = b === "JPY";
        u.set(`${exchange}:${a}${b}`, {
          pricescale: jpy ? 1000 : 100000,
          minmov: 1,
          minmove2: 0,
          currency: b,
          base_currency: a,
          exchange,
          type: "forex",
          subtype: null,
          description: `${a} / ${b}`,
          sector: null,
          industry: null,
          country: null,
          root: null,
          expiration: null,
          contract_type: null,
          timezone: exchange === "FX_IDC" ? null : "America/New_York",
          session: exchange === "FX_IDC" ? null : "1700-1700",
        });
      }
    }
  }
  // pointvalue (the contract multiplier) and typespecs, as /symbol serves
  // them to the Python original (it asks for pointvalue; TradingView marks
  // continuous futures with a typespecs entry "continuous"): 1 and [] for
  // everything but futures, whose multipliers are the exchanges' own.
  for (const [symbol, body] of u) {
    const root = typeof body.root === "string" ? body.root : "";
    body.pointvalue ??= body.type === "futures" ? POINT_VALUES[root] ?? 1 : 1;
    body.typespecs ??= body.contract_type === "continuous" ? ["continuous"] : [];
    u.set(symbol, body);
  }
  return u;
}

let universe: Map<string, Body> | undefined;

/**
 * Every symbol the mirror knows, sorted; optionally only some exchanges.
 *
 * @example
 * ```ts
 * import { mirrorSymbols } from "./mirror.ts";
 * mirrorSymbols().length > 2000;          // true
 * mirrorSymbols(["BINANCE"]).slice(0, 1); // ["BINANCE:1INCHUSDC"]
 * ```
 */
export function mirrorSymbols(exchanges?: readonly string[]): string[] {
  universe ??= buildUniverse();
  const all = [...universe.keys()].sort();
  return exchanges ? all.filter((s) => exchanges.includes(s.slice(0, s.indexOf(":")))) : all;
}

/**
 * The body the mirror answers for a symbol (at a revision), or null when it
 * does not know it.
 *
 * @example
 * ```ts
 * import { mirrorBody } from "./mirror.ts";
 * mirrorBody("NASDAQ:AAPL")?.description; // "Apple Inc."
 * ```
 */
export function mirrorBody(symbol: string, revision = 0): Body | null {
  universe ??= buildUniverse();
  const body = universe.get(symbol);
  if (!body) return null;
  if (revision === 0) return body;
  const changedAt = 1 + (hash(symbol) % 10);
  if (changedAt > revision) return body;
  return { ...body, description: `${body.description} (rev ${revision})` };
}

// ---------------------------------------------------------------------------
// The server

/** Market paths the mirror answers (the scanner has 71 countries too; a few here). */
const MARKETS = new Set([
  "global",
  "america",
  "crypto",
  "forex",
  "futures",
  "cfd",
  "bond",
  "brazil",
  "germany",
  "uk",
]);

const FOREX_EXCHANGES = ["FX_IDC", "OANDA", "FOREX"];

/**
 * Whether `/{market}/scan` serves a symbol: /global serves all but crypto
 * (crypto: the four crypto exchanges, and any spot or swap instrument).
 */
function servedBy(market: string, symbol: string, body: Body): boolean {
  const exchange = symbol.slice(0, symbol.indexOf(":"));
  const crypto = CRYPTO_EXCHANGES.includes(exchange) || body.type === "spot" ||
    body.type === "swap";
  const forex = FOREX_EXCHANGES.includes(exchange);
  const futures = FUTURES.some(([e]) => e === exchange);
  switch (market) {
    case "crypto":
      return crypto;
    case "global":
      return !crypto;
    case "america":
      return ["NASDAQ", "NYSE", "AMEX"].includes(exchange);
    case "forex":
      return forex;
    case "futures":
      return futures;
    case "germany":
      return exchange === "EUREX";
    default:
      return false;
  }
}

/** The columns /scan serves: no timezone or session (no client reads them there). */
const SCAN_SERVED = new Set([
  "type",
  "subtype",
  "typespecs",
  "pricescale",
  "minmov",
  "minmove2",
  "fractional",
  "currency",
  "base_currency",
  "exchange",
  "description",
  "sector",
  "industry",
  "country",
  "root",
  "expiration",
  "contract_type",
  "update_mode",
  "is_primary",
]);

/** The tickers of a /scan body, or null when it has none. */
function scanTickers(body: unknown): string[] | null {
  const tickers = (body as { symbols?: { tickers?: unknown } } | null)?.symbols?.tickers;
  return Array.isArray(tickers) && tickers.every((t) => typeof t === "string") ? tickers : null;
}

function dice(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function emptyStats(): MirrorStats {
  return {
    requests: 0,
    byStatus: {},
    status429: 0,
    empty: 0,
    connections: 0,
    hangs: 0,
    inFlight: 0,
    peakInFlight: 0,
    perSymbol: {},
    byEndpoint: { symbol: 0, scan: 0 },
    perScanTicker: {},
  };
}

const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });

/**
 * Starts a mirror on 127.0.0.1; see the module doc.
 *
 * @example
 * ```ts
 * import { startMirror } from "./mirror.ts";
 * const mirror = startMirror({ rate: 5 });
 * await mirror.close();
 * ```
 */
export function startMirror(initial: MirrorOptions = {}): Mirror {
  let options: MirrorOptions = { ...initial };
  let random = dice(options.seed ?? 1);
  let stats = emptyStats();
  const clock = () => options.clock ?? realClock;
  let tokens = options.burst ?? Math.max(1, options.rate ?? 1);
  let lastRefill = clock().now();
  const closing = new AbortController();
  let recent: number[] = []; // arrival times within the soft-throttle window
  let penaltyUntil = 0;

  /** True when this request falls in (or starts) a soft-throttle penalty. */
  function softThrottled(): boolean {
    const soft = options.softThrottle;
    if (!soft) return false;
    const now = clock().now();
    if (now < penaltyUntil) return true;
    recent = recent.filter((t) => now - t < soft.windowMs);
    recent.push(now);
    if (recent.length <= soft.limit) return false;
    penaltyUntil = now + soft.penaltyMs;
    recent = [];
    return true;
  }

  const retryAfterHeader = (seconds: number): string => {
    switch (options.retryAfter) {
      case "date":
        return new Date(clock().now() + seconds * 1000).toUTCString();
      case "zero":
        return "0";
      case "past":
        return new Date(clock().now() - 3_600_000).toUTCString();
      default:
        return String(seconds);
    }
  };

  const count = (status: number) => {
    stats.byStatus[status] = (stats.byStatus[status] ?? 0) + 1;
    if (status === 429) stats.status429++;
  };

  /** Waits `ms` on the mirror's clock; closing the mirror ends the wait. */
  const sleep = (ms: number, signal: AbortSignal) =>
    ms <= 0 ? Promise.resolve() : clock().sleep(ms, signal).catch(() => {});

  /** Waits `ms` on the wall clock (hangs); closing the mirror ends the wait. */
  const delay = (ms: number, signal: AbortSignal) =>
    new Promise<void>((resolve) => {
      if (ms <= 0) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      }
      signal.addEventListener("abort", done, { once: true });
    });

  function takeToken(): number {
    // Answers 0 when a token was taken, else the seconds until one is due.
    if (!options.rate) return 0;
    const burst = options.burst ?? Math.max(1, options.rate);
    const now = clock().now();
    tokens = Math.min(burst, tokens + ((now - lastRefill) / 1000) * options.rate);
    lastRefill = now;
    if (tokens >= 1) {
      tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - tokens) / options.rate));
  }

  async function handle(request: Request): Promise<Response> {
    // request.signal is not used: Deno's legacy semantics abort it on success.
    const url = new URL(request.url);
    if (url.pathname === "/__stats") return json(stats);
    if (url.pathname === "/__symbols") return json(mirrorSymbols());
    if (url.pathname === "/symbol") {
      const symbol = url.searchParams.get("symbol") ?? "";
      const attempt = (stats.perSymbol[symbol] = (stats.perSymbol[symbol] ?? 0) + 1);
      stats.byEndpoint.symbol++;
      return await serve({ endpoint: "symbol", symbol, attempt }, () => answerSymbol(url));
    }
    const scan = /^\/([a-z0-9_]+)\/scan$/.exec(url.pathname);
    if (scan && request.method === "POST") {
      const market = scan[1];
      // An unknown market path is a 404 (as the real scanner answers).
      if (!MARKETS.has(market)) return json({ error: `unknown market ${market}` }, 404);
      let body: unknown;
      try {
        body = await request.json();
      } catch {
        return json({ totalCount: 0, error: "invalid JSON body", data: null }, 400);
      }
      const tickers = scanTickers(body);
      for (const t of tickers ?? []) stats.perScanTicker[t] = (stats.perScanTicker[t] ?? 0) + 1;
      stats.byEndpoint.scan++;
      return await serve(
        { endpoint: "scan", symbol: `${market}/scan`, tickers: tickers ?? [], attempt: 1 },
        () => answerScan(market, body),
      );
    }
    return json({ error: "no such endpoint" }, 404);
  }

  /** Throttles, latency and faults as every endpoint has them; then `answer`. */
  async function serve(
    ctx: Omit<FaultContext, "request">,
    answer: () => Response,
  ): Promise<Response> {
    stats.requests++;
    const requestNo = stats.requests;
    stats.inFlight++;
    stats.peakInFlight = Math.max(stats.peakInFlight, stats.inFlight);
    try {
      if (options.block403) {
        await sleep(options.latencyMs ?? 0, closing.signal);
        count(403);
        return json({ error: "Forbidden" }, 403);
      }
      if (softThrottled()) {
        await sleep(options.latencyMs ?? 0, closing.signal);
        count(200);
        stats.empty++;
        return new Response("", { status: 200, headers: { "content-type": "text/plain" } });
      }
      if (options.maxInFlight !== undefined && stats.inFlight > options.maxInFlight) {
        count(429);
        return json({ error: "too many requests in flight" }, 429, {
          "retry-after": retryAfterHeader(1),
        });
      }
      const wait = takeToken();
      if (wait > 0) {
        count(429);
        return json({ error: "rate limited" }, 429, { "retry-after": retryAfterHeader(wait) });
      }
      const signal = closing.signal;
      await sleep((options.latencyMs ?? 0) + random() * (options.jitterMs ?? 0), signal);

      let fault = options.fault?.({ ...ctx, request: requestNo });
      if (!fault) {
        const roll = random();
        let edge = 0;
        if (roll < (edge += options.rate403 ?? 0)) fault = { kind: "status", status: 403 };
        else if (roll < (edge += options.rate5xx ?? 0)) fault = { kind: "status", status: 502 };
        else if (roll < (edge += options.rateMalformed ?? 0)) fault = { kind: "malformed" };
        else if (roll < (edge += options.rateHang ?? 0)) fault = { kind: "hang" };
      }
      if (fault?.kind === "hang") {
        stats.hangs++;
        // Until the mirror closes or hangMs passes; the client gives up first.
        await delay(options.hangMs ?? 30_000, signal);
        count(504);
        return json({ error: "hung" }, 504);
      }
      if (fault?.kind === "status") {
        count(fault.status);
        const headers: Record<string, string> = fault.retryAfter
          ? { "retry-after": fault.retryAfter }
          : {};
        return json({ error: `injected ${fault.status}` }, fault.status, headers);
      }
      if (fault?.kind === "malformed") {
        count(200);
        return new Response('{"pricescale": 100, "minmov": 1, "ty', {
          headers: { "content-type": "application/json" },
        });
      }
      if (fault?.kind === "empty") {
        count(200);
        stats.empty++;
        return new Response("", { status: 200, headers: { "content-type": "text/plain" } });
      }
      if (fault?.kind === "body") {
        count(200);
        return json(fault.body);
      }
      const response = answer();
      count(response.status);
      return response;
    } finally {
      // Decremented before the response leaves, so a client that sees the
      // answer can never be counted twice.
      stats.inFlight--;
    }
  }

  /** The symbol's body as the mirror serves it now, or null when unknown. */
  function bodyOf(symbol: string): Body | null {
    const override = options.overrides?.[symbol];
    if (override === "not-found") return null;
    return override ?? mirrorBody(symbol, options.revision ?? 0);
  }

  function answerSymbol(url: URL): Response {
    const body = bodyOf(url.searchParams.get("symbol") ?? "");
    if (!body) return json({ error: "symbol not found" }, 404);
    const fields = url.searchParams.get("fields")?.split(",");
    return json(fields ? Object.fromEntries(fields.map((f) => [f, body[f] ?? null])) : body);
  }

  /**
   * POST /{market}/scan, as public clients describe it (none of it is
   * official): shner-elmo/TradingView-Screener `query.py` and
   * AnalyzerREST/python-tradingview-ta `main.py` for the body and the
   * `{totalCount, data: [{s, d}]}` answer; a ticker that does not exist, or
   * is not served by this market path, is simply left out (the issue's
   * /brazil/scan vs /global/scan finding); an unknown column is a 400 with
   * `{"totalCount":0,"error":"Unknown field \"x\"","data":null}` unless
   * `ignore_unknown_fields`; no client reads timezone or session through
   * /scan, so the mirror does not serve them; without `range` the answer is
   * cut to 50 rows (atilaahmettaner/tradingview-mcp PR #79).
   */
  function answerScan(market: string, request: unknown): Response {
    const tickers = scanTickers(request);
    const req = request as Record<string, unknown>;
    const columns = req?.columns;
    if (!tickers || !Array.isArray(columns) || !columns.every((c) => typeof c === "string")) {
      return json({ totalCount: 0, error: "bad request", data: null }, 400);
    }
    const ignoreUnknown = req.ignore_unknown_fields === true;
    const unknown = columns.find((c) =>
      !SCAN_SERVED.has(c) || (options.scanUnknown ?? []).includes(c)
    );
    if (unknown !== undefined && !ignoreUnknown) {
      return json({ totalCount: 0, error: `Unknown field "${unknown}"`, data: null }, 400);
    }
    const rows: ScanRow[] = [];
    for (const ticker of tickers) {
      const body = bodyOf(ticker);
      if (!body || !servedBy(market, ticker, body)) continue;
      rows.push({
        s: ticker,
        d: columns.map((c) => SCAN_SERVED.has(c) ? skew(c, body[c] ?? null) : null),
      });
    }
    const range = req.range;
    const [from, to] = Array.isArray(range) && range.length === 2 &&
        range.every((n) => Number.isInteger(n))
      ? range as [number, number]
      : [0, 50];
    const served = rows.slice(from, to);
    const data = options.scanRows ? options.scanRows(served, columns) : served;
    return json({ totalCount: rows.length, data });
  }

  function skew(column: string, value: unknown): unknown {
    if (column !== options.scanSkew || value === null) return value;
    return typeof value === "number" ? value * 10 : `${value} (scan)`;
  }

  if (options.unreachable === "refused" || options.unreachable === "silent") {
    return unreachableHost(options.unreachable, () => stats, () => (stats = emptyStats()));
  }
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: options.port ?? 0, onListen: () => {} },
    handle,
  );
  const close = async () => {
    closing.abort();
    await server.shutdown();
  };
  const scheme = options.unreachable === "tls" ? "https" : "http";
  return {
    url: `${scheme}://127.0.0.1:${server.addr.port}`,
    get stats() {
      return stats;
    },
    configure(changes) {
      options = { ...options, ...changes };
      if (changes.seed !== undefined) random = dice(changes.seed);
      if (changes.rate !== undefined || changes.burst !== undefined) {
        tokens = options.burst ?? Math.max(1, options.rate ?? 1);
        lastRefill = clock().now();
      }
    },
    resetStats() {
      stats = emptyStats();
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * A host that refuses connections (nothing listens on its port) or accepts
 * them and never answers. Only connections are counted.
 */
function unreachableHost(
  mode: "refused" | "silent",
  stats: () => MirrorStats,
  reset: () => void,
): Mirror {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const held: Deno.Conn[] = [];
  if (mode === "refused") {
    listener.close();
  } else {
    (async () => {
      try {
        for await (const conn of listener) {
          stats().connections++;
          held.push(conn); // never read, never answered
        }
      } catch {
        // closed
      }
    })();
  }
  const close = () => {
    if (mode === "silent") {
      try {
        listener.close();
      } catch {
        // already closed
      }
    }
    for (const conn of held.splice(0)) {
      try {
        conn.close();
      } catch {
        // already closed by the client
      }
    }
    return Promise.resolve();
  };
  return {
    url: `http://127.0.0.1:${port}`,
    get stats() {
      return stats();
    },
    configure() {},
    resetStats: reset,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** What `deno run -A testing/mirror.ts --help` prints. */
export const MIRROR_HELP =
  `testing/mirror.ts: a local TradingView mirror on 127.0.0.1 (never the real API).

Usage: deno run -A testing/mirror.ts [options]
Prints its URL, then serves until SIGINT/SIGTERM; GET /__stats answers its counters.

Options:
  --port N                 port (default 8787; 0 picks a free one)
  --latency-ms N           delay of every answer (default 0)
  --jitter-ms N            random extra delay, up to N ms (default 0)
  --max-in-flight N        answer 429 + Retry-After beyond N requests at once
  --rate N                 token bucket: N requests a second (429 + Retry-After beyond)
  --burst N                the bucket's size (default: rate)
  --rate-403 P             answer 403 to a share P (0..1) of requests
  --rate-5xx P             answer 502 to a share P of requests
  --rate-malformed P       answer a malformed body to a share P of requests
  --rate-hang P            never answer a share P of requests
  --scan-skew COLUMN       /scan answers COLUMN differently from /symbol (x10, " (scan)")
  --soft-throttle L,W,P    the scanner's soft throttle: over L requests in W ms,
                           empty 200s for P ms
  --block-403              answer every request with 403 (a blocked client)
  -h, --help               this help

Example:
  deno run -A testing/mirror.ts --port 8787 --latency-ms 200 --max-in-flight 3 &
  meta-ingest --symbols NASDAQ:AAPL --base-url http://127.0.0.1:8787`;

if (import.meta.main) {
  let parsed;
  try {
    parsed = parseArgs({
      args: Deno.args,
      options: {
        port: { type: "string", default: "8787" },
        "latency-ms": { type: "string", default: "0" },
        "jitter-ms": { type: "string", default: "0" },
        "max-in-flight": { type: "string" },
        rate: { type: "string" },
        burst: { type: "string" },
        "rate-403": { type: "string" },
        "rate-5xx": { type: "string" },
        "rate-malformed": { type: "string" },
        "rate-hang": { type: "string" },
        "scan-skew": { type: "string" },
        "soft-throttle": { type: "string" },
        "block-403": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (err) {
    console.error(`testing/mirror.ts: ${(err as Error).message.split("\n")[0]}`);
    console.error("run deno run -A testing/mirror.ts --help for its options");
    Deno.exit(2);
  }
  if (parsed.values.help) {
    console.log(MIRROR_HELP);
    Deno.exit(0);
  }
  const { values } = parsed;
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const mirror = startMirror({
    port: num(values.port),
    latencyMs: num(values["latency-ms"]),
    jitterMs: num(values["jitter-ms"]),
    maxInFlight: num(values["max-in-flight"]),
    rate: num(values.rate),
    burst: num(values.burst),
    rate403: num(values["rate-403"]),
    rate5xx: num(values["rate-5xx"]),
    rateMalformed: num(values["rate-malformed"]),
    rateHang: num(values["rate-hang"]),
    scanSkew: values["scan-skew"],
    // --soft-throttle LIMIT,WINDOW_MS,PENALTY_MS, e.g. 20,10000,30000
    softThrottle: values["soft-throttle"]
      ? (([limit, windowMs, penaltyMs]) => ({ limit, windowMs, penaltyMs }))(
        values["soft-throttle"].split(",").map(Number),
      )
      : undefined,
    block403: values["block-403"],
  });
  console.log(mirror.url);
  const stop = async () => {
    await mirror.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}
