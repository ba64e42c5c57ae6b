/**
 * The run report: one object that says what a run did.
 *
 * Promises: the shape is stable (it is the `--json` contract):
 * `requested, valid, invalid[{index, input, reason}], fetched,
 * failed[{symbol, reason}], skipped[{symbol, reason}], new, changed, unchanged, retired, repaired[],
 * http{requests, retries, status429, status403, empty_bodies, pauses,
 * paused_ms, by_endpoint{symbol, scan}}, catalog{path, rows, current},
 * duration_ms`, plus `started_at`, `finished_at`, `version`, `duckdb_version`,
 * `dry_run`, `exit_code`, `error` and `changes`. Numbers are raw and
 * `invalid[].index` is 0-based (the position in the input list).
 * {@linkcode formatSummary} renders the same facts for people, with numbers
 * grouped (`100,001`) and entries numbered from 1 (`#12` is the 12th). `exit_code` is
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
import { counted, grouped, printable } from "../core/text.ts";
import { VERSION } from "../core/version.ts";
import { engineVersion } from "../catalog/engine.ts";
import type { AutoUse } from "../fetch/auto.ts";

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

/**
 * Which endpoint served the run: `mode` is `--endpoint`; `served` counts the
 * symbols whose values came from each; for `auto`, `verified` symbols were
 * spot-checked against `/symbol`, `disagreements` lists the fields that
 * differed (both values) and `fallbacks` the groups fetched through
 * `/symbol` after `/scan` did not do, with why.
 */
export interface EndpointUse extends AutoUse {
  /** `auto`, `symbol` or `scan`; null before the run knew it. */
  mode: "auto" | "symbol" | "scan" | null;
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
  /** Which endpoint served which symbols, and the spot check's findings. */
  endpoints: EndpointUse;
  /**
   * `/scan` batches: `dropped_columns` are the columns the scanner refused as
   * unknown, dropped for the run (their values carried forward from the
   * catalog in `--endpoint scan`, which then exits 3; fetched through
   * `/symbol` in `auto`).
   */
  scan: { dropped_columns: string[] };
  /** The catalog's size as last read or written; null when it was not read. */
  catalog: { path: string; rows: number | null; current: number | null };
  /** Wall time of the run, in milliseconds. */
  duration_ms: number;
  /** When the run started: ISO 8601 UTC, milliseconds (`2026-03-01T03:17:00.000Z`). */
  started_at: string;
  /**
   * When the run ended, as `started_at`; null only while it runs (every
   * printed report has it: {@linkcode finishReport}).
   */
  finished_at: string | null;
  /** The tool's version (lib/core/version.ts). */
  version: string;
  /**
   * DuckDB's library version (`v1.5.6`; the row checksum depends on it), or
   * null when the run never loaded DuckDB (it stopped before it needed the
   * catalog: a usage error, a refused path, no catalog and nothing fetched).
   */
  duckdb_version: string | null;
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
export function emptyReport(
  catalogPath: string,
  dryRun: boolean,
  startedAt: Date = new Date(),
): RunReport {
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
    scan: { dropped_columns: [] },
    endpoints: {
      mode: null,
      served: { symbol: 0, scan: 0 },
      verified: 0,
      disagreements: [],
      fallbacks: [],
    },

    catalog: { path: catalogPath, rows: null, current: null },
    duration_ms: 0,
    started_at: startedAt.toISOString(),
    finished_at: null,
    version: VERSION,
    duckdb_version: null,
    dry_run: dryRun,
    exit_code: 0,
    error: null,
    changes: [],
  };
}

/**
 * Closes a report: `finished_at` is `now`, and `duckdb_version` what this
 * process loaded (lib/catalog/engine.ts). Called once a run ends, however it
 * ends; calling it again moves the end. (`duration_ms` is the runner's, on
 * the monotonic clock, so a clock step cannot make it negative.)
 *
 * @example
 * ```ts
 * import { emptyReport, finishReport } from "./report.ts";
 * const report = emptyReport("c", false, new Date("2026-03-01T00:00:00Z"));
 * finishReport(report, new Date("2026-03-01T00:00:01.5Z"));
 * report.finished_at; // "2026-03-01T00:00:01.500Z"
 * ```
 */
export function finishReport(report: RunReport, now: Date = new Date()): void {
  report.finished_at = now.toISOString();
  report.duckdb_version = engineVersion();
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
  // In scan mode a dropped column is a degraded run: its values were not refreshed.
  const degraded = report.endpoints.mode === "scan" ? report.scan.dropped_columns.length : 0;
  const problems = report.invalid.length + report.failed.length + report.skipped.length + degraded;
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
  const n = grouped;
  if (report.valid === 0) {
    report.error = `every entry was invalid (${n(report.invalid.length)} of ${
      n(report.requested)
    }); nothing fetched or written`;
    return;
  }
  const skipped = report.skipped.length;
  report.error = skipped === 0
    ? `every symbol failed (${n(report.failed.length)} of ${n(report.valid)}); nothing written`
    : `no symbol was fetched (${n(report.failed.length)} failed, ${n(skipped)} skipped, of ${
      n(report.valid)
    }); nothing written`;
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

/** Symbols named in one line of a group. */
const GROUP_NAMES = 10;

/**
 * Failed or skipped symbols, one line per reason (symbols with the same
 * reason share it); a reason the run's error already says is not repeated.
 */
function byReason(items: readonly FailedSymbol[], error: string | null): string[] {
  const groups = new Map<string, string[]>();
  for (const { symbol, reason } of items) {
    const list = groups.get(reason);
    if (list) list.push(symbol);
    else groups.set(reason, [symbol]);
  }
  return listWithLimit([...groups], ([reason, symbols]) => {
    const core = reason.replace(/^(unreachable|halted|signal): /, "");
    const said = error !== null && error.startsWith(core) ? "the error below" : field(reason);
    const names = symbols.slice(0, GROUP_NAMES).map(field).join(", ") +
      (symbols.length > GROUP_NAMES ? `, ... and ${symbols.length - GROUP_NAMES} more` : "");
    return `${names}: ${said}`;
  });
}

function listWithLimit<T>(items: readonly T[], render: (item: T) => string): string[] {
  const lines = items.slice(0, LIST_LIMIT).map((item) => `  - ${render(item)}`);
  if (items.length > LIST_LIMIT) lines.push(`  ... and ${grouped(items.length - LIST_LIMIT)} more`);
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

/** "6 requests", or with batches "50 symbols in 1 request (1 /scan, 0 /symbol)". */
function requestsLine(report: RunReport): string {
  const { requests, by_endpoint } = report.http;
  if (!by_endpoint?.scan) return counted(requests, "request");
  return `${counted(report.valid, "symbol")} in ${counted(requests, "request")} ` +
    `(${grouped(by_endpoint.scan)} /scan, ${grouped(by_endpoint.symbol)} /symbol)`;
}

function throttleSummary(http: HttpCounts): string {
  const parts: string[] = [];
  if (http.status403) parts.push(`${grouped(http.status403)} x 403`);
  if (http.empty_bodies) parts.push(`${grouped(http.empty_bodies)} empty`);
  if (http.pauses) {
    parts.push(
      `paused ${counted(http.pauses, "time")}, ${grouped(Math.round(http.paused_ms / 1000))} s`,
    );
  }
  return parts.map((p) => `, ${p}`).join("");
}

/** How the endpoints served a run, for the summary: nothing for a plain `symbol` run. */
function endpointLines(use: EndpointUse): string[] {
  if (use.mode === null || use.mode === "symbol") return [];
  if (use.served.scan + use.served.symbol + use.fallbacks.length === 0) return [];
  const lines = [
    `  endpoints: ${counted(use.served.scan, "symbol")} by /scan, ${
      grouped(use.served.symbol)
    } by /symbol` +
    (use.mode === "auto"
      ? use.verified
        ? `; spot check of ${use.verified} against /symbol: ${
          use.disagreements.length ? "DISAGREED" : "agreed"
        }`
        : "; no spot check"
      : ""),
  ];
  for (const d of use.disagreements.slice(0, 3)) {
    lines.push(
      `    ${field(d.symbol)} ${field(d.field)}: /scan ${show(d.scan)}, /symbol ${
        show(d.symbol_value)
      }`,
    );
  }
  for (const f of use.fallbacks) {
    lines.push(`    fell back to /symbol for ${counted(f.symbols, "symbol")}: ${field(f.reason)}`);
  }
  return lines;
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
  const n = grouped;
  const seconds = (report.duration_ms / 1000).toFixed(2);
  const head = report.dry_run ? "meta-ingest (dry run, nothing written)" : "meta-ingest";
  const lines = [
    `${head}: requested ${n(report.requested)}, valid ${n(report.valid)}, ` +
    `invalid ${n(report.invalid.length)}`,
    `  fetched ${n(report.fetched)}, failed ${n(report.failed.length)}` +
    (report.skipped.length ? `, skipped ${n(report.skipped.length)}` : "") + "; " +
    `new ${n(report.new)}, changed ${n(report.changed)}, unchanged ${n(report.unchanged)}` +
    (report.retired ? `, retired ${n(report.retired)}` : ""),
    `  http: ${requestsLine(report)}, ${counted(report.http.retries, "retry", "retries")}, ` +
    `${n(report.http.status429)} x 429${throttleSummary(report.http)}; ${seconds} s`,
    ...endpointLines(report.endpoints),
    ...(report.scan.dropped_columns.length
      ? [
        `  /scan does not know ${report.scan.dropped_columns.map(field).join(", ")}: ` +
        (report.endpoints.mode === "scan"
          ? "dropped for this run, the catalog's values carried forward (partial)"
          : "fetched through /symbol instead"),
      ]
      : []),
    `  catalog ${field(report.catalog.path)}: ` +
    (report.catalog.rows === null
      ? "not read"
      : `${counted(report.catalog.rows, "row")}, ${n(report.catalog.current ?? 0)} current`),
  ];
  if (report.invalid.length) {
    lines.push(`invalid entries (${n(report.invalid.length)}):`);
    // #1 is the first entry: JSON keeps the 0-based index.
    lines.push(
      ...listWithLimit(
        report.invalid,
        (e) => `#${n(e.index + 1)} ${field(e.input)}: ${field(e.reason)}`,
      ),
    );
  }
  if (report.failed.length) {
    lines.push(`failed symbols (${n(report.failed.length)}):`);
    lines.push(...byReason(report.failed, report.error));
  }
  if (report.skipped.length) {
    lines.push(`skipped symbols (${n(report.skipped.length)}), never fetched:`);
    lines.push(...byReason(report.skipped, report.error));
  }
  if (report.repaired.length) {
    const verb = report.dry_run ? "would close" : "closed";
    lines.push(`repaired (${n(report.repaired.length)}): ${verb} duplicate current rows of`);
    lines.push(...listWithLimit(report.repaired, field));
  }
  if (report.dry_run && report.changes?.length) {
    lines.push(`would change (${n(report.changes.length)}):`);
    lines.push(...listWithLimit(report.changes, (c) => {
      const fields = c.fields.map(formatFieldChange);
      return `${field(c.symbol)} ${c.action}${fields.length ? ` (${fields.join(", ")})` : ""}`;
    }));
  }
  return lines.join("\n");
}

/**
 * The one line a `--quiet` run still prints when it ends partly done (exit
 * 3): how many failed, were skipped or were invalid, and what was merged.
 * Null for any other exit (0 says nothing when quiet; 1, 2 and 130/143 print
 * their error).
 *
 * @example
 * ```ts
 * import { emptyReport, partialLine } from "./report.ts";
 * const report = { ...emptyReport("c", false), valid: 3, fetched: 2, exit_code: 3,
 *   failed: [{ symbol: "A:B", reason: "x" }] };
 * partialLine(report); // "partial: 1 of 3 symbols failed; 2 fetched and merged (exit 3)"
 * ```
 */
export function partialLine(report: RunReport): string | null {
  if (report.exit_code !== 3) return null;
  const problems: string[] = [];
  if (report.failed.length) {
    problems.push(`${grouped(report.failed.length)} of ${counted(report.valid, "symbol")} failed`);
  }
  if (report.skipped.length) {
    problems.push(`${grouped(report.skipped.length)} skipped (never fetched)`);
  }
  if (report.invalid.length) {
    problems.push(
      `${grouped(report.invalid.length)} of ${
        counted(report.requested, "entry", "entries")
      } invalid`,
    );
  }
  const merged = report.dry_run ? "would be merged" : "merged";
  return `partial: ${problems.join(", ")}; ${grouped(report.fetched)} fetched and ${merged} ` +
    `(exit 3)`;
}
