/**
 * From a TradingView `/{market}/scan` answer to catalog records.
 *
 * Promises: {@linkcode scanRequest} builds the POST body for a batch of
 * tickers, always with an explicit `range` (a body without one is cut to 50
 * rows). {@linkcode parseScanAnswer} never throws: it answers the rows by
 * ticker (`s`), row by row (a malformed row fails only its ticker; rows of
 * one ticker that contradict each other are never picked from), or why the
 * body is unusable. {@linkcode scanRecord}
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
import { describeValue, REQUESTED_FIELDS, toRecord, type ValidatedAnswer } from "./tradingview.ts";

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
  "pointvalue",
  "typespecs",
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
  data: z.array(z.unknown()).nullable(),
  error: z.string().nullish(),
});

/**
 * A parsed `/scan` body: each ticker's values (`rows`), the tickers whose
 * row was malformed (`invalid`, with the reason: for a `/symbol` fallback)
 * or that came in rows contradicting each other (`conflicting`, with the
 * reason: never pick one), and rows that name no ticker (`unattributed`);
 * or why the body as a whole is unusable.
 */
export type ScanAnswer =
  | {
    ok: true;
    rows: Map<string, unknown[]>;
    invalid: Map<string, string>;
    conflicting: Map<string, string>;
    unattributed: string[];
  }
  | { ok: false; reason: string };

/**
 * Parses a `/scan` body, row by row: one malformed row fails only itself.
 * Rows are keyed by `s`; identical rows of a ticker fold into one, rows
 * that differ make the ticker "conflicting" (the reason names the first
 * columns that differ, in `columns` order). `data: null` with an `error`
 * is a failure carrying that error.
 *
 * @example
 * ```ts
 * import { parseScanAnswer } from "./scan.ts";
 * parseScanAnswer({ totalCount: 1, data: [{ s: "NASDAQ:AAPL", d: [] }] }); // { ok: true, rows: Map(1), ... }
 * ```
 */
export function parseScanAnswer(
  body: unknown,
  columns: readonly string[] = SCAN_COLUMNS,
): ScanAnswer {
  const parsed = scanAnswerSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue.path.map(String).join(".") || "the body";
    const value = field === "the body" ? body : (body as Record<string, unknown>)[field];
    return {
      ok: false,
      reason: `malformed /scan answer: ${field} is ${
        value === undefined ? "missing" : describeValue(value)
      }, not what /scan sends`,
    };
  }
  if (parsed.data.data === null) {
    return {
      ok: false,
      reason: `/scan answered no data: ${parsed.data.error ?? "no reason given"}`,
    };
  }
  const rows = new Map<string, unknown[]>();
  const invalid = new Map<string, string>();
  const conflicting = new Map<string, string>();
  const unattributed: string[] = [];
  const seen = new Map<string, unknown>();
  parsed.data.data.forEach((row, index) => {
    const s = row !== null && typeof row === "object" ? (row as { s?: unknown }).s : undefined;
    if (typeof s !== "string") {
      unattributed.push(
        `row ${index}: ${
          row === null || typeof row !== "object" || Array.isArray(row)
            ? `is ${describeValue(row)}, not an object`
            : `s is ${s === undefined ? "missing" : describeValue(s)}, not a ticker`
        }`,
      );
      return;
    }
    const d = (row as { d?: unknown }).d;
    if (seen.has(s)) {
      const first = seen.get(s);
      if (JSON.stringify(first) === JSON.stringify(d)) return; // the same row again
      if (!conflicting.has(s)) conflicting.set(s, conflictReason(first, d, columns));
      return;
    }
    seen.set(s, d);
    if (Array.isArray(d)) rows.set(s, d);
    else {
      invalid.set(
        s,
        `invalid /scan row: d is ${d === undefined ? "missing" : describeValue(d)}, not a list`,
      );
    }
  });
  for (const ticker of conflicting.keys()) {
    rows.delete(ticker);
    invalid.delete(ticker);
  }
  return { ok: true, rows, invalid, conflicting, unattributed };
}

/** Why two rows of one ticker cannot both be right: the columns where they differ. */
function conflictReason(a: unknown, b: unknown, columns: readonly string[]): string {
  const head = "/scan answered rows that contradict each other";
  if (!Array.isArray(a) || !Array.isArray(b)) {
    return `${head} (one of them is malformed); not merged: rerun, or use --endpoint symbol`;
  }
  const differ: string[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (JSON.stringify(a[i]) === JSON.stringify(b[i])) continue;
    const name = columns[i] ?? `column ${i}`;
    differ.push(`${name}: ${JSON.stringify(a[i]) ?? "none"} vs ${JSON.stringify(b[i]) ?? "none"}`);
  }
  const shown = differ.slice(0, 3).join(", ") + (differ.length > 3 ? ", ..." : "");
  return `${head} (${shown}); not merged: rerun, or use --endpoint symbol`;
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
