/**
 * From a TradingView `/{market}/scan` answer to catalog records.
 *
 * Promises: {@linkcode scanRequest} builds the POST body for a batch of
 * tickers, always with an explicit `range` (a body without one is cut to 50
 * rows). {@linkcode parseScanAnswer} never throws: it answers the rows by
 * ticker (`s`), or why the body is unusable. {@linkcode scanRecord}
 * validates one row with the very rules of `/symbol` answers
 * ({@linkcode toRecord}), so a row is a record or a reason, never half of
 * one. Columns `/scan` does not serve (`timezone`, `session`,
 * `contract_type`, `base_currency`, `lot_size`, `contract_size`) come back
 * null, and the merge then keeps what the catalog knows.
 *
 * Sources for the endpoint (none official): shner-elmo/TradingView-Screener
 * `query.py` and AnalyzerREST/python-tradingview-ta `main.py` (body shape,
 * markets, `ignore_unknown_fields`); atilaahmettaner/tradingview-mcp PR #79
 * (the 50-row cut without `range`).
 *
 * @example
 * ```ts
 * import { scanRecord, SCAN_COLUMNS } from "./scan.ts";
 * const d = SCAN_COLUMNS.map((c) => ({ type: "stock", pricescale: 100, minmov: 1 } as Record<string, unknown>)[c] ?? null);
 * scanRecord("NASDAQ:AAPL", d); // { ok: true, record: { tick_size: 0.01, timezone: null, ... }, defaults: ... }
 * ```
 *
 * @module
 */
import { z } from "zod";
import { REQUESTED_FIELDS, toRecord, type ValidatedAnswer } from "./tradingview.ts";

/**
 * Fields we request from `/symbol` that no client was found reading through
 * `/scan`: never asked of it (the catalog's value carries forward, or the
 * exchange default for a new symbol).
 */
export const NOT_ON_SCAN: readonly string[] = [
  "base_currency",
  "contract_type",
  "timezone",
  "session",
];

/**
 * The columns asked of `/scan`, in order: the fields requested from
 * `/symbol` ({@linkcode REQUESTED_FIELDS}) but those in
 * {@linkcode NOT_ON_SCAN}, so a field added to the request reaches both
 * endpoints (an unknown one fails loudly with a 400).
 */
export const SCAN_COLUMNS: readonly string[] = REQUESTED_FIELDS.filter(
  (field) => !NOT_ON_SCAN.includes(field),
);

/** The most tickers sent in one `/scan` request (one peer caps itself at 500). */
export const MAX_SCAN_BATCH = 500;

/** The JSON body of one `/scan` request. */
export interface ScanRequest {
  /** The tickers asked for (`EXCHANGE:TICKER`), and no type filter. */
  symbols: { tickers: string[]; query: { types: string[] } };
  /** Column names; each row's `d` holds their values in this order. */
  columns: string[];
  /** Rows `[from, to)`: always `[0, tickers.length]`. */
  range: [number, number];
  /** False: an unknown column is an HTTP 400. */
  ignore_unknown_fields: boolean;
  /** Language of texts such as `description`. */
  options: { lang: string };
}

/**
 * The body for a batch of tickers. `ignore_unknown_fields` is false: a
 * column TradingView stops serving is a loud HTTP 400, never a silent null.
 *
 * @example
 * ```ts
 * import { scanRequest } from "./scan.ts";
 * scanRequest(["NASDAQ:AAPL"]).range; // [0, 1]
 * ```
 */
export function scanRequest(
  tickers: readonly string[],
  columns: readonly string[] = SCAN_COLUMNS,
): ScanRequest {
  return {
    symbols: { tickers: [...tickers], query: { types: [] } },
    columns: [...columns],
    range: [0, tickers.length],
    ignore_unknown_fields: false,
    options: { lang: "en" },
  };
}

const scanAnswerSchema = z.looseObject({
  totalCount: z.number().optional(),
  data: z.array(z.looseObject({ s: z.string(), d: z.array(z.unknown()) })).nullable(),
  error: z.string().nullish(),
});

/** A parsed `/scan` body: each row's values by ticker, or why the body is unusable. */
export type ScanAnswer =
  | { ok: true; rows: Map<string, unknown[]> }
  | { ok: false; reason: string };

/**
 * Parses a `/scan` body; rows are keyed by `s` (the first row of a ticker
 * wins). `data: null` with an `error` is a failure carrying that error.
 *
 * @example
 * ```ts
 * import { parseScanAnswer } from "./scan.ts";
 * parseScanAnswer({ totalCount: 1, data: [{ s: "NASDAQ:AAPL", d: [] }] }); // { ok: true, rows: Map(1) }
 * ```
 */
export function parseScanAnswer(body: unknown): ScanAnswer {
  const parsed = scanAnswerSchema.safeParse(body);
  if (!parsed.success) {
    return { ok: false, reason: `malformed /scan answer: ${parsed.error.issues[0].message}` };
  }
  if (parsed.data.data === null) {
    return {
      ok: false,
      reason: `/scan answered no data: ${parsed.data.error ?? "no reason given"}`,
    };
  }
  const rows = new Map<string, unknown[]>();
  for (const row of parsed.data.data) if (!rows.has(row.s)) rows.set(row.s, row.d);
  return { ok: true, rows };
}

/**
 * Validates one `/scan` row (values in `columns` order) for `symbol`, with
 * the same rules as a `/symbol` answer. A row with fewer values than
 * columns is refused.
 *
 * @example
 * ```ts
 * import { scanRecord } from "./scan.ts";
 * scanRecord("NASDAQ:AAPL", []).ok; // false
 * ```
 */
export function scanRecord(
  symbol: string,
  values: readonly unknown[],
  columns: readonly string[] = SCAN_COLUMNS,
): ValidatedAnswer {
  if (values.length !== columns.length) {
    return {
      ok: false,
      reason: `invalid /scan row: ${values.length} values for ${columns.length} columns`,
    };
  }
  return toRecord(symbol, Object.fromEntries(columns.map((c, i) => [c, values[i]])));
}
