/**
 * The run report: one object that says what a run did.
 *
 * Promises: the shape is stable (it is the `--json` contract):
 * `requested, valid, invalid[{index, input, reason}], fetched,
 * failed[{symbol, reason}], new, changed, unchanged, retired,
 * http{requests, retries, status429, status403, empty_bodies, pauses,
 * paused_ms, by_endpoint{symbol, scan}}, catalog{path, rows, current},
 * duration_ms`, plus `dry_run`, `exit_code`, `error` and, on dry runs,
 * `changes`. {@linkcode formatSummary} renders the same facts for people.
 *
 * @example
 * ```ts
 * import { emptyReport, formatSummary } from "./report.ts";
 * const report = emptyReport("data/lakehouse/symbols.parquet", false);
 * console.error(formatSummary(report));
 * ```
 *
 * @module
 */
import type { FieldChange, SymbolChange } from "../catalog/catalog.ts";
import type { InvalidEntry } from "../input/candidates.ts";

/** A symbol that could not be fetched or validated. */
export interface FailedSymbol {
  symbol: string;
  reason: string;
}

/** What the fetch sent and what the server answered, for `http` in the report. */
export interface HttpCounts {
  requests: number;
  retries: number;
  status429: number;
  status403: number;
  /** 200 answers with an empty or non-JSON body (the scanner's soft throttle). */
  empty_bodies: number;
  /** Times the whole pool paused because the server throttled it. */
  pauses: number;
  /** Milliseconds the pool spent paused. */
  paused_ms: number;
  /**
   * Requests per endpoint: `GET /symbol` and `POST /{market}/scan` (always
   * present in a run's report).
   */
  by_endpoint?: { symbol: number; scan: number };
}

/** The run report; see the module doc. */
export interface RunReport {
  requested: number;
  valid: number;
  invalid: InvalidEntry[];
  fetched: number;
  failed: FailedSymbol[];
  new: number;
  changed: number;
  unchanged: number;
  retired: number;
  http: HttpCounts;
  catalog: { path: string; rows: number; current: number };
  duration_ms: number;
  dry_run: boolean;
  exit_code: number;
  error: string | null;
  changes?: SymbolChange[];
}

/**
 * A report with every count at zero, for a run about to start.
 *
 * @example
 * ```ts
 * import { emptyReport } from "./report.ts";
 * emptyReport("data/lakehouse/symbols.parquet", true).dry_run; // true
 * ```
 */
export function emptyReport(catalogPath: string, dryRun: boolean): RunReport {
  return {
    requested: 0,
    valid: 0,
    invalid: [],
    fetched: 0,
    failed: [],
    new: 0,
    changed: 0,
    unchanged: 0,
    retired: 0,
    http: {
      requests: 0,
      retries: 0,
      status429: 0,
      status403: 0,
      empty_bodies: 0,
      pauses: 0,
      paused_ms: 0,
      by_endpoint: { symbol: 0, scan: 0 },
    },
    catalog: { path: catalogPath, rows: 0, current: 0 },
    duration_ms: 0,
    dry_run: dryRun,
    exit_code: 0,
    error: null,
  };
}

/**
 * The exit code a finished (not crashed) run earns: 0 when every valid target
 * was fetched and merged and no entry was invalid, 3 when some were invalid
 * or failed but others were merged, 1 when nothing could be merged.
 *
 * @example
 * ```ts
 * import { emptyReport, outcomeCode } from "./report.ts";
 * outcomeCode({ ...emptyReport("c", false), valid: 2, fetched: 2 }); // 0
 * ```
 */
export function outcomeCode(report: RunReport): 0 | 1 | 3 {
  const problems = report.invalid.length + report.failed.length;
  if (problems === 0) return 0;
  const merged = report.fetched + report.retired;
  if (merged === 0) return 1;
  return 3;
}

const LIST_LIMIT = 20;

function listWithLimit<T>(items: readonly T[], render: (item: T) => string): string[] {
  const lines = items.slice(0, LIST_LIMIT).map((item) => `  - ${render(item)}`);
  if (items.length > LIST_LIMIT) lines.push(`  ... and ${items.length - LIST_LIMIT} more`);
  return lines;
}

function show(value: FieldChange["old"]): string {
  return value === null
    ? "null"
    : typeof value === "string"
    ? JSON.stringify(value)
    : String(value);
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** "6 requests", or with batches "50 symbols in 1 request (1 /scan, 0 /symbol)". */
function requestsLine(report: RunReport): string {
  const { requests, by_endpoint } = report.http;
  if (!by_endpoint?.scan) return plural(requests, "request");
  return `${plural(report.valid, "symbol")} in ${plural(requests, "request")} ` +
    `(${by_endpoint.scan} /scan, ${by_endpoint.symbol} /symbol)`;
}

function throttleSummary(http: HttpCounts): string {
  const parts: string[] = [];
  if (http.status403) parts.push(`${http.status403} x 403`);
  if (http.empty_bodies) parts.push(`${http.empty_bodies} empty`);
  if (http.pauses) {
    parts.push(
      `paused ${http.pauses} ${http.pauses === 1 ? "time" : "times"}, ` +
        `${(http.paused_ms / 1000).toFixed(0)} s`,
    );
  }
  return parts.map((p) => `, ${p}`).join("");
}

/**
 * The short human summary printed on stderr at the end of a run.
 *
 * @example
 * ```ts
 * import { emptyReport, formatSummary } from "./report.ts";
 * formatSummary(emptyReport("c.parquet", false)).startsWith("meta-ingest"); // true
 * ```
 */
export function formatSummary(report: RunReport): string {
  const seconds = (report.duration_ms / 1000).toFixed(2);
  const head = report.dry_run ? "meta-ingest (dry run, nothing written)" : "meta-ingest";
  const lines = [
    `${head}: requested ${report.requested}, valid ${report.valid}, invalid ${report.invalid.length}`,
    `  fetched ${report.fetched}, failed ${report.failed.length}; ` +
    `new ${report.new}, changed ${report.changed}, unchanged ${report.unchanged}` +
    (report.retired ? `, retired ${report.retired}` : ""),
    `  http: ${requestsLine(report)}, ${report.http.retries} retries, ` +
    `${report.http.status429} x 429${throttleSummary(report.http)}; ${seconds} s`,
    `  catalog ${report.catalog.path}: ${report.catalog.rows} rows, ${report.catalog.current} current`,
  ];
  if (report.invalid.length) {
    lines.push(`invalid entries (${report.invalid.length}):`);
    lines.push(...listWithLimit(report.invalid, (e) => `#${e.index} ${e.input}: ${e.reason}`));
  }
  if (report.failed.length) {
    lines.push(`failed symbols (${report.failed.length}):`);
    lines.push(...listWithLimit(report.failed, (f) => `${f.symbol}: ${f.reason}`));
  }
  if (report.dry_run && report.changes?.length) {
    lines.push(`would change (${report.changes.length}):`);
    lines.push(...listWithLimit(report.changes, (c) => {
      const fields = c.fields.map((f) => `${f.field}: ${show(f.old)} → ${show(f.new)}`);
      return `${c.symbol} ${c.action}${fields.length ? ` (${fields.join(", ")})` : ""}`;
    }));
  }
  return lines.join("\n");
}
