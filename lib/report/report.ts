/**
 * The run report: one object that says what a run did.
 *
 * Promises: the shape is stable (it is the `--json` contract):
 * `requested, valid, invalid[{index, input, reason}], fetched,
 * failed[{symbol, reason}], skipped[{symbol, reason}], new, changed, unchanged, retired, repaired[],
 * http{requests, retries, status429, status403, empty_bodies, pauses,
 * paused_ms, by_endpoint{symbol, scan}}, catalog{path, rows, current},
 * duration_ms`, plus `dry_run`, `exit_code`, `error` and `changes`.
 * {@linkcode formatSummary} renders the same facts for people. `exit_code` is
 * the process's exit code; `error` is set whenever it is not 0 or 3;
 * `catalog.rows`/`current` are null when the catalog was not read; `new`,
 * `changed`, `retired` and `changes` say what was written (on dry runs: what
 * would be), so they are 0 and empty when nothing was.
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
import { printable } from "../core/text.ts";

/** A symbol that could not be fetched or validated. */
export interface FailedSymbol {
  /** The full `EXCHANGE:TICKER`. */
  symbol: string;
  /** Why, in one line. */
  reason: string;
}

/**
 * A valid symbol that was never fetched: its request did not go out because
 * the host was unreachable, the server blocked us or the throttle budget was
 * spent first (`halted`), or a signal stopped the run. Its reason starts with
 * `unreachable:`, `halted:` or `signal:`.
 */
export interface SkippedSymbol {
  /** The full `EXCHANGE:TICKER`. */
  symbol: string;
  /** Why it was not fetched: `unreachable: ...`, `halted: ...` or `signal: ...`. */
  reason: string;
}

/** What the fetch sent and what the server answered, for `http` in the report. */
export interface HttpCounts {
  /** HTTP attempts sent. */
  requests: number;
  /** Attempts after a request's first. */
  retries: number;
  /** Answers with status 429. */
  status429: number;
  /** Answers with status 403. */
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
  /** Entries the run was given, valid or not. */
  requested: number;
  /** Distinct valid targets after normalising. */
  valid: number;
  /** Entries refused, with their index and reason. */
  invalid: InvalidEntry[];
  /** Symbols fetched and validated. */
  fetched: number;
  /** Symbols that were asked for and could not be fetched or validated, with the reason. */
  failed: FailedSymbol[];
  /**
   * Symbols never asked for, with the reason. Every valid symbol is in
   * exactly one of `fetched` (a count), `failed` and `skipped`.
   */
  skipped: SkippedSymbol[];
  /** Symbols the catalog did not have. */
  new: number;
  /** Symbols whose current row got a new version. */
  changed: number;
  /** Fetched symbols the catalog already had as they are. */
  unchanged: number;
  /** Symbols retired (`--retire-not-found`). */
  retired: number;
  /** Symbols whose duplicate current rows were closed (all but the newest). */
  repaired: string[];
  /** What the fetch sent and what the server answered. */
  http: HttpCounts;
  /** The catalog's size as last read or written; null when it was not read. */
  catalog: { path: string; rows: number | null; current: number | null };
  /** Wall time of the run, in milliseconds. */
  duration_ms: number;
  /** True for `--dry-run`: nothing was written. */
  dry_run: boolean;
  /** The process's exit code (0, 1, 2 or 3; see the README). */
  exit_code: number;
  /** The one-line error of a failed run, else null. */
  error: string | null;
  /** What was written (dry runs: what would be); empty when nothing was. */
  changes: SymbolChange[];
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
    skipped: [],
    new: 0,
    changed: 0,
    unchanged: 0,
    retired: 0,
    repaired: [],
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

    catalog: { path: catalogPath, rows: null, current: null },
    duration_ms: 0,
    dry_run: dryRun,
    exit_code: 0,
    error: null,
    changes: [],
  };
}

/**
 * The exit code a finished (not crashed) run earns, from what it wrote (on
 * dry runs: would write): 0 when every valid target was fetched and merged
 * and no entry was invalid, 3 when some were invalid, failed or skipped but
 * something landed (a fetched symbol, a retirement, a repair of duplicate
 * current rows), 1 when nothing did.
 *
 * @example
 * ```ts
 * import { emptyReport, outcomeCode } from "./report.ts";
 * outcomeCode({ ...emptyReport("c", false), valid: 2, fetched: 2 }); // 0
 * ```
 */
export function outcomeCode(report: RunReport): 0 | 1 | 3 {
  const problems = report.invalid.length + report.failed.length + report.skipped.length;
  if (problems === 0) return 0;
  const merged = report.fetched + report.retired + report.repaired.length;
  if (merged === 0) return 1;
  return 3;
}

/**
 * Sets `exit_code` to what a finished run earned ({@linkcode outcomeCode})
 * and, on exit 1, an `error` that says why when none is set yet (every entry
 * invalid, every symbol failed).
 *
 * @example
 * ```ts
 * import { emptyReport, settle } from "./report.ts";
 * const report = { ...emptyReport("c", false), valid: 1, failed: [{ symbol: "A:B", reason: "x" }] };
 * settle(report);
 * report.error; // "every symbol failed (1 of 1); nothing written"
 * ```
 */
export function settle(report: RunReport): void {
  report.exit_code = outcomeCode(report);
  if (report.exit_code !== 1 || report.error !== null) return;
  if (report.valid === 0) {
    report.error =
      `every entry was invalid (${report.invalid.length} of ${report.requested}); nothing fetched or written`;
    return;
  }
  const skipped = report.skipped.length;
  report.error = skipped === 0
    ? `every symbol failed (${report.failed.length} of ${report.valid}); nothing written`
    : `no symbol was fetched (${report.failed.length} failed, ${skipped} skipped, of ${report.valid}); nothing written`;
}

/** Exit codes of runs stopped by a signal (128 + the signal's number). */
export const SIGNAL_EXIT_CODES: Readonly<Record<string, number>> = { SIGINT: 130, SIGTERM: 143 };

/**
 * The exit code of a run stopped by `signal` (a name such as "SIGTERM");
 * 130 for anything unknown.
 *
 * @example
 * ```ts
 * import { signalExitCode } from "./report.ts";
 * signalExitCode("SIGTERM"); // 143
 * ```
 */
export function signalExitCode(signal: unknown): number {
  return SIGNAL_EXIT_CODES[String(signal)] ?? 130;
}

const LIST_LIMIT = 20;

function listWithLimit<T>(items: readonly T[], render: (item: T) => string): string[] {
  const lines = items.slice(0, LIST_LIMIT).map((item) => `  - ${render(item)}`);
  if (items.length > LIST_LIMIT) lines.push(`  ... and ${items.length - LIST_LIMIT} more`);
  return lines;
}

/** Longest field (an entry, a reason, a value) shown in the summary. */
const FIELD_MAX = 120;

/** A field that came from outside, as the terminal may show it (see lib/core/text.ts). */
const field = (text: string) => printable(text, FIELD_MAX);

function show(value: FieldChange["old"] | bigint): string {
  return value === null
    ? "null"
    : typeof value === "string"
    ? field(JSON.stringify(value))
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
 * One field change as people read it: `field: old → new`, text quoted,
 * null as `null`, outside text escaped, a bigint (`show` reads a BIGINT
 * beyond 2^53 as one) with all its digits.
 *
 * @example
 * ```ts
 * import { formatFieldChange } from "./report.ts";
 * formatFieldChange({ field: "pricescale", old: 100, new: 1000 }); // "pricescale: 100 → 1000"
 * ```
 */
export function formatFieldChange(
  change: { field: string; old: FieldChange["old"] | bigint; new: FieldChange["new"] | bigint },
): string {
  return `${field(change.field)}: ${show(change.old)} → ${show(change.new)}`;
}

/**
 * The short human summary printed on stderr at the end of a run. Every value
 * that came from outside (entries, reasons, API values, paths) is escaped and
 * capped with `printable` (lib/core/text.ts); the report itself keeps them exact.
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
    `  fetched ${report.fetched}, failed ${report.failed.length}` +
    (report.skipped.length ? `, skipped ${report.skipped.length}` : "") + "; " +
    `new ${report.new}, changed ${report.changed}, unchanged ${report.unchanged}` +
    (report.retired ? `, retired ${report.retired}` : ""),
    `  http: ${requestsLine(report)}, ${report.http.retries} retries, ` +
    `${report.http.status429} x 429${throttleSummary(report.http)}; ${seconds} s`,
    `  catalog ${field(report.catalog.path)}: ` +
    (report.catalog.rows === null
      ? "not read"
      : `${report.catalog.rows} rows, ${report.catalog.current} current`),
  ];
  if (report.invalid.length) {
    lines.push(`invalid entries (${report.invalid.length}):`);
    lines.push(
      ...listWithLimit(report.invalid, (e) => `#${e.index} ${field(e.input)}: ${field(e.reason)}`),
    );
  }
  if (report.failed.length) {
    lines.push(`failed symbols (${report.failed.length}):`);
    lines.push(...listWithLimit(report.failed, (f) => `${field(f.symbol)}: ${field(f.reason)}`));
  }
  if (report.skipped.length) {
    lines.push(`skipped symbols (${report.skipped.length}), never fetched:`);
    lines.push(...listWithLimit(report.skipped, (f) => `${field(f.symbol)}: ${field(f.reason)}`));
  }
  if (report.repaired.length) {
    const verb = report.dry_run ? "would close" : "closed";
    lines.push(`repaired (${report.repaired.length}): ${verb} duplicate current rows of`);
    lines.push(...listWithLimit(report.repaired, field));
  }
  if (report.dry_run && report.changes?.length) {
    lines.push(`would change (${report.changes.length}):`);
    lines.push(...listWithLimit(report.changes, (c) => {
      const fields = c.fields.map(formatFieldChange);
      return `${field(c.symbol)} ${c.action}${fields.length ? ` (${fields.join(", ")})` : ""}`;
    }));
  }
  return lines.join("\n");
}
