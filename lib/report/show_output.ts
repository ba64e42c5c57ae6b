/**
 * How `meta-ingest show` prints an answer: an aligned table for people, one
 * JSON document, or CSV with a header.
 *
 * Promises: pure functions of the answer (no I/O). Times are ISO 8601 UTC as
 * the reader gives them. Symbols without an answer are never left out: the
 * JSON document lists them under `unknown`, CSV gives each a row with only
 * its symbol, and the table names them on a line after the rows. In
 * `history` and `changed-since` answers each row says what changed from the
 * version before (`pricescale: 100 → 1000`).
 *
 * @example
 * ```ts
 * import { formatShow } from "./show_output.ts";
 * const text = formatShow("csv", { columns: ["symbol"], rows: [], unknown: [] }, {
 *   mode: { kind: "current" },
 *   catalogPath: "data/lakehouse/symbols.parquet",
 *   columns: ["symbol"],
 * });
 * // "symbol\n"
 * ```
 *
 * @module
 */
import { printable } from "../core/text.ts";
import type { CellValue, ReadMode, ReadResult, VersionRow } from "../catalog/reader.ts";
import { formatFieldChange } from "./report.ts";

/** What to print of an answer. */
export interface ShowView {
  /** The form answered (and its time). */
  mode: ReadMode;
  /** The catalog path as the user gave it. */
  catalogPath: string;
  /** Columns to print, in order (`symbol` first). */
  columns: string[];
}

/** The output forms. */
export type ShowOutputFormat = "table" | "json" | "csv";

/** What a row of the current catalog shows by default. */
const CURRENT_COLUMNS = [
  "symbol",
  "type",
  "description",
  "pricescale",
  "minmov",
  "tick_size",
  "timezone",
  "session",
  "active",
  "valid_from",
];

/** Columns a table shows by default, per mode (JSON and CSV show every column). */
export const TABLE_COLUMNS: Readonly<Record<ReadMode["kind"], readonly string[]>> = {
  "current": CURRENT_COLUMNS,
  "as-of": [...CURRENT_COLUMNS, "valid_until"],
  "history": ["symbol", "valid_from", "valid_until", "active"],
  "changed-since": ["symbol", "valid_from", "active"],
};

/** Whether a mode's rows carry what changed. */
export function showsChanges(mode: ReadMode): boolean {
  return mode.kind === "history" || mode.kind === "changed-since";
}

function changesText(row: VersionRow, mode: ReadMode): string {
  if (row.first) return mode.kind === "changed-since" ? "new" : "first version";
  return row.changes.length ? row.changes.map(formatFieldChange).join("; ") : "no field changed";
}

function unknownLabel(mode: ReadMode): string {
  return mode.kind === "as-of" ? `unknown at ${mode.at}` : "not in the catalog";
}

function text(value: CellValue | undefined): string {
  return value === null || value === undefined ? "" : String(value);
}

/** Longest cell of the table, in characters (escaped text; see `printable`). */
const TABLE_CELL_MAX = 120;

/** A table cell or header: values from the catalog came from outside, so escaped. */
const cell = (value: string) => printable(value, TABLE_CELL_MAX);

function table(result: ReadResult, view: ShowView): string {
  const changes = showsChanges(view.mode);
  const header = [...view.columns, ...(changes ? ["changes"] : [])].map(cell);
  const lines = result.rows.map((row) => [
    ...view.columns.map((c) => cell(text(row.values[c]))),
    ...(changes ? [cell(changesText(row, view.mode))] : []),
  ]);
  const numeric = header.map((_, i) =>
    result.rows.length > 0 &&
    result.rows.every((row) => {
      const v = row.values[view.columns[i]];
      return v === null || v === undefined || typeof v === "number";
    }) && i < view.columns.length
  );
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const render = (cells: string[]) =>
    cells.map((c, i) => numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])).join("  ")
      .trimEnd();
  const out: string[] = [];
  if (result.rows.length) {
    out.push(render(header), widths.map((w) => "-".repeat(w)).join("  "));
    out.push(...lines.map(render));
  } else if (view.mode.kind === "changed-since") {
    out.push(`no symbol changed after ${view.mode.since}`);
  } else if (!result.unknown.length) {
    out.push("no rows");
  }
  if (result.unknown.length) {
    out.push(`${unknownLabel(view.mode)}: ${result.unknown.map(cell).join(", ")}`);
  }
  return out.join("\n") + "\n";
}

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

function csv(result: ReadResult, view: ShowView): string {
  const changes = showsChanges(view.mode);
  const header = [...view.columns, ...(changes ? ["changes"] : [])];
  const lines = [header.map(csvField).join(",")];
  for (const row of result.rows) {
    const cells = view.columns.map((c) => text(row.values[c]));
    if (changes) cells.push(changesText(row, view.mode));
    lines.push(cells.map(csvField).join(","));
  }
  for (const symbol of result.unknown) {
    lines.push([symbol, ...header.slice(1).map(() => "")].map(csvField).join(","));
  }
  return lines.join("\r\n") + "\r\n";
}

function json(result: ReadResult, view: ShowView): string {
  const changes = showsChanges(view.mode);
  const document = {
    catalog: view.catalogPath,
    mode: view.mode.kind,
    ...(view.mode.kind === "as-of" ? { as_of: view.mode.at } : {}),
    ...(view.mode.kind === "changed-since" ? { changed_since: view.mode.since } : {}),
    columns: view.columns,
    rows: result.rows.map((row) => ({
      ...Object.fromEntries(view.columns.map((c) => [c, row.values[c] ?? null])),
      ...(changes ? { first: row.first, changes: row.changes } : {}),
    })),
    unknown: result.unknown,
  };
  return JSON.stringify(document, null, 2) + "\n";
}

/**
 * Renders an answer in one of the output forms; see the module doc. CSV
 * lines end in CRLF (RFC 4180).
 *
 * @example
 * ```ts
 * import { formatShow } from "./show_output.ts";
 * const answer = { columns: ["symbol"], rows: [], unknown: ["NASDAQ:NOSUCH"] };
 * formatShow("table", answer, {
 *   mode: { kind: "current" },
 *   catalogPath: "c.parquet",
 *   columns: ["symbol"],
 * }); // "not in the catalog: NASDAQ:NOSUCH\n"
 * ```
 */
export function formatShow(
  format: ShowOutputFormat,
  result: ReadResult,
  view: ShowView,
): string {
  switch (format) {
    case "table":
      return table(result, view);
    case "csv":
      return csv(result, view);
    case "json":
      return json(result, view);
  }
}
