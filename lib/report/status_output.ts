/**
 * How `meta-ingest status` prints its answer: a few lines for people, or
 * one JSON document.
 *
 * Promises: pure functions of the {@linkcode StatusReport} (no I/O). Times
 * are ISO 8601 UTC. Text that came from files (symbols, hosts, errors) is
 * escaped for the terminal in the human form and exact in JSON.
 *
 * @example
 * ```ts
 * import { formatStatus, type StatusReport } from "./status_output.ts";
 * declare const report: StatusReport;
 * console.log(formatStatus(report, new Date()));
 * ```
 *
 * @module
 */
import { printable } from "../core/text.ts";

/** One run as `status` reports it. */
export interface StatusRun {
  /** Names the run: start time, host, pid. */
  run_id: string | null;
  /** ISO 8601 UTC. */
  started_at: string | null;
  /** ISO 8601 UTC. */
  finished_at: string | null;
  /** `symbol`, `scan` or `auto`. */
  endpoint: string | null;
  /** The machine it ran on. */
  host: string | null;
  /** Its exit code (0 or 3: only runs that landed are logged). */
  exit_code: number | null;
  /** Its counts, as logged. */
  summary: Record<string, unknown> | null;
}

/** One active symbol's last check. */
export interface SymbolCheck {
  /** `EXCHANGE:TICKER`. */
  symbol: string;
  /** The last time the scanner answered for it (ISO 8601 UTC), or null: never since the log began. */
  checked_at: string | null;
  /** The last attempt, answered or not. */
  attempted_at: string | null;
  /** How the last attempt ended: `fetched`, `not-found` or `failed`. */
  outcome: string | null;
  /** Checked before the `--stale-after` bound, or never. */
  stale: boolean;
}

/** What `meta-ingest status` answers; `--json` prints it as it is. */
export interface StatusReport {
  /** The catalog as given. */
  catalog: string;
  /** Every row, history included. */
  rows: number;
  /** Current symbols, retired ones included. */
  current: number;
  /** Current symbols that are retired (inactive). */
  retired: number;
  /** Active current symbols by exchange and type. */
  by_exchange: { exchange: string; type: string; symbols: number }[];
  /** The newest runs, newest first. */
  runs: StatusRun[];
  /** `--stale-after` in milliseconds, or null. */
  stale_after_ms: number | null;
  /** Each active symbol's last check, stalest first. */
  checks: SymbolCheck[];
  /** Active symbols never checked since the run log began. */
  never_checked: number;
  /** Stale symbols (never checked included); 0 without `--stale-after` unless never checked. */
  stale: number;
  /** 0, or 3 when `--stale-after` found stale symbols. */
  exit_code: number;
}

const grouped = (n: number) => n.toLocaleString("en-US");
const plural = (n: number, word: string) => `${grouped(n)} ${word}${n === 1 ? "" : "s"}`;

/**
 * How long ago `iso` was, from `now`, in the two largest units:
 * `3d 4h ago`, `12m ago`, `just now`.
 *
 * @example
 * ```ts
 * import { ago } from "./status_output.ts";
 * ago("2026-12-05T10:00:00Z", new Date("2026-12-05T12:30:00Z")); // "2h 30m ago"
 * ```
 */
export function ago(iso: string, now: Date): string {
  let seconds = Math.floor((now.getTime() - Date.parse(iso)) / 1000);
  if (!Number.isFinite(seconds)) return "";
  if (seconds < 0) return "in the future";
  if (seconds < 60) return "just now";
  const parts: string[] = [];
  for (const [unit, size] of [["d", 86_400], ["h", 3_600], ["m", 60]] as const) {
    if (seconds >= size) {
      parts.push(`${Math.floor(seconds / size)}${unit}`);
      seconds %= size;
    }
    if (parts.length === 2) break;
  }
  return `${parts.join(" ")} ago`;
}

const field = (text: string) => printable(text, 120);

function runLine(run: StatusRun, now: Date): string {
  const when = run.finished_at ? `${run.finished_at} (${ago(run.finished_at, now)})` : "unknown";
  const code = run.exit_code === 0 ? "exit 0" : `exit ${run.exit_code ?? "?"} (partial)`;
  const s = run.summary ?? {};
  const counts = ["fetched", "failed", "new", "changed"]
    .filter((k) => typeof s[k] === "number")
    .map((k) => `${k} ${grouped(s[k] as number)}`)
    .join(", ");
  return `${when}, ${code}, endpoint ${field(run.endpoint ?? "?")}` +
    (counts ? `, ${counts}` : "") + (run.host ? `, on ${field(run.host)}` : "");
}

/** Most stale symbols listed by name in the human form. */
const LISTED = 10;

/**
 * Renders a status answer for people; see the module doc.
 *
 * @example
 * ```ts
 * import { formatStatus, type StatusReport } from "./status_output.ts";
 * declare const report: StatusReport;
 * formatStatus(report, new Date()).split("\n")[0]; // "catalog data/lakehouse/symbols.parquet: ..."
 * ```
 */
export function formatStatus(report: StatusReport, now: Date): string {
  const active = report.current - report.retired;
  const lines = [
    `catalog ${field(report.catalog)}: ${plural(active, "active symbol")}` +
    (report.retired ? `, ${grouped(report.retired)} retired` : "") +
    `, ${plural(report.rows, "row")} with history`,
  ];
  const [last] = report.runs;
  lines.push(last ? `last run: ${runLine(last, now)}` : "last run: none logged yet");
  const checked = report.checks.filter((c) => c.checked_at !== null);
  if (checked.length) {
    const oldest = checked[0].checked_at!;
    const newest = checked.reduce((a, c) => (c.checked_at! > a ? c.checked_at! : a), oldest);
    lines.push(
      `checked: oldest ${oldest} (${ago(oldest, now)}), newest ${newest} (${ago(newest, now)})` +
        (report.never_checked ? `; ${plural(report.never_checked, "symbol")} never checked` : ""),
    );
  } else if (active) {
    lines.push(`checked: none of the ${plural(active, "active symbol")} yet`);
  }
  if (report.stale_after_ms !== null) {
    const stale = report.checks.filter((c) => c.stale);
    const bound = `${Math.round(report.stale_after_ms / 60_000)} min`;
    if (stale.length === 0) {
      lines.push(`fresh: every active symbol was checked within ${bound}`);
    } else {
      const names = stale.slice(0, LISTED).map((c) => field(c.symbol)).join(", ");
      const more = stale.length > LISTED ? `, ... and ${grouped(stale.length - LISTED)} more` : "";
      lines.push(
        `stale: ${plural(stale.length, "symbol")} not checked within ${bound}: ${names}${more}`,
      );
    }
  }
  if (report.by_exchange.length) {
    lines.push("active symbols by exchange and type:");
    const width = Math.max(8, ...report.by_exchange.map((r) => field(r.exchange).length));
    const typeWidth = Math.max(4, ...report.by_exchange.map((r) => field(r.type).length));
    for (const row of report.by_exchange) {
      lines.push(
        `  ${field(row.exchange || "-").padEnd(width)}  ${
          field(row.type || "-").padEnd(typeWidth)
        }  ${grouped(row.symbols).padStart(7)}`,
      );
    }
  }
  return lines.join("\n") + "\n";
}
