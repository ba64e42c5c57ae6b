/**
 * How `meta-ingest show` prints an answer as it streams: an aligned table
 * for people, one JSON document, NDJSON (one document per row) or CSV with
 * a header.
 *
 * Promises:
 * - Streamed: rows are written as they come, through a small buffer, so
 *   memory does not grow with the answer. A table's column widths come
 *   from a pre-pass over the same answer ({@linkcode measureTable}).
 * - Symbols without an answer are never left out: the JSON document lists
 *   them under `unknown`, CSV gives each a row with only its symbol, the
 *   table names them on a line after the rows (NDJSON leaves them to the
 *   caller's warning).
 * - In `history` and `changed-since` answers each row says what changed
 *   from the version before (`pricescale: 100 → 1000`). In JSON and NDJSON
 *   such a row is `{"row": {...every column...}, "first", "changes"}`, so
 *   show's own keys never meet a catalog column's name; in `current` and
 *   `as-of` answers a row is the object of its columns alone.
 * - Values are exact: a BIGINT beyond 2^53 is written with all its digits.
 * - Outside text cannot act: table cells are escaped (`printable`) and
 *   measured in display columns (`displayWidth`); CSV text cells that a
 *   spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`,
 *   tab or carriage return) get a leading `'` unless `csvRaw` (numbers,
 *   typed or text, are left as they are).
 *
 * @example
 * ```ts
 * import { csvSafe } from "./show_output.ts";
 * csvSafe("=HYPERLINK(\"x\")"); // "'=HYPERLINK(\"x\")"
 * csvSafe("-0.5");              // "-0.5"
 * ```
 *
 * @module
 */
import { printable } from "../core/text.ts";
import { displayWidth, fitWidth } from "../core/width.ts";
import type { CellValue, ReadAnswer, ReadChange, ReadMode, VersionRow } from "../catalog/reader.ts";
import { CATALOG_SCHEMA } from "../catalog/sql.ts";
import { formatFieldChange } from "./report.ts";

/** What to print of an answer. */
export interface ShowView {
  /** The form answered (and its time). */
  mode: ReadMode;
  /** The catalog path as the user gave it. */
  catalogPath: string;
  /** Columns to print, in order (`symbol` first). */
  columns: string[];
  /**
   * CSV: write text exactly, without the `'` that keeps a spreadsheet from
   * running it as a formula.
   *
   * @default {false}
   */
  csvRaw?: boolean;
  /**
   * A table on a terminal this many columns wide: long text cells are cut
   * (ending in `…`) so the table fits. Unset: full width (piped output).
   *
   * @default {undefined}
   */
  terminalWidth?: number;
}

/** The output forms. */
export type ShowOutputFormat = "table" | "json" | "ndjson" | "csv";

/** What to print of the current catalog by default. */
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

/**
 * The name of the table's and CSV's own column of changes: `changes`, or
 * when the catalog has a column of that name among those printed,
 * `changes (show)` (and so on), so two columns never share a header.
 */
export function changesHeader(columns: readonly string[]): string {
  let name = "changes";
  for (let n = 1; columns.includes(name); n++) name = `changes (show${n > 1 ? ` ${n}` : ""})`;
  return name;
}

const NUMERIC = new Set<string>(
  CATALOG_SCHEMA.filter((c) => c.type === "BIGINT" || c.type === "DOUBLE").map((c) => c.name),
);

/** Columns a table never cuts to fit a terminal: the symbol, numbers, booleans, times. */
const UNCUT = new Set<string>(
  CATALOG_SCHEMA.filter((c) => c.name === "symbol" || c.type !== "VARCHAR").map((c) => c.name),
);

function changeText(change: ReadChange): string {
  return formatFieldChange(change);
}

function changesText(row: VersionRow, mode: ReadMode): string {
  if (row.first) return mode.kind === "changed-since" ? "new" : "first version";
  return row.changes.length ? row.changes.map(changeText).join("; ") : "no field changed";
}

function unknownLabel(mode: ReadMode): string {
  return mode.kind === "as-of" ? `unknown at ${mode.at}` : "not in the catalog";
}

function text(value: CellValue | undefined): string {
  return value === null || value === undefined ? "" : String(value);
}

/** Positions of the printed columns among the answer's. */
function positions(answer: ReadAnswer, view: ShowView): number[] {
  return view.columns.map((c) => {
    const at = answer.columns.indexOf(c);
    if (at < 0) throw new Error(`no column ${c} in the answer`);
    return at;
  });
}

/** Writes text in pieces of about 64 KiB, awaiting each (backpressure). */
class Output {
  private parts: string[] = [];
  private size = 0;
  constructor(private readonly sink: (text: string) => void | Promise<void>) {}

  async push(text: string): Promise<void> {
    this.parts.push(text);
    this.size += text.length;
    if (this.size >= 65_536) await this.flush();
  }

  async flush(): Promise<void> {
    if (!this.parts.length) return;
    const text = this.parts.join("");
    this.parts = [];
    this.size = 0;
    await this.sink(text);
  }
}

// ---------------------------------------------------------------- table

/** Narrowest a text column is cut to when the table must fit a terminal. */
const MIN_FIT_WIDTH = 8;

/**
 * A table cell or header: values from the catalog came from outside, so
 * escaped (whole: a terminal's width is what cuts them, see `fit`).
 */
const cell = (value: string) => printable(value, Number.MAX_SAFE_INTEGER);

/** What {@linkcode measureTable} found: column widths and what there is to print. */
export interface TableLayout {
  /** Display width of each printed column (the changes column last, when shown). */
  widths: number[];
  /** Rows the answer has. */
  rows: number;
}

function tableHeader(view: ShowView): string[] {
  return [...view.columns, ...(showsChanges(view.mode) ? [changesHeader(view.columns)] : [])];
}

function tableCells(row: VersionRow, at: number[], view: ShowView): string[] {
  const cells = at.map((i) => cell(text(row.values[i])));
  if (showsChanges(view.mode)) cells.push(cell(changesText(row, view.mode)));
  return cells;
}

/**
 * Measures a table over a whole answer (the pre-pass): every column's
 * widest cell in display columns, fitted to `view.terminalWidth` when set
 * (text columns give way, widest first, down to a few columns; the
 * symbol, numbers, booleans and times never do, and a table that still
 * does not fit wraps on the terminal).
 */
export async function measureTable(answer: ReadAnswer, view: ShowView): Promise<TableLayout> {
  const at = positions(answer, view);
  const header = tableHeader(view).map(cell);
  const widths = header.map(displayWidth);
  let rows = 0;
  for await (const item of answer.items) {
    if (item.kind !== "row") continue;
    rows++;
    tableCells(item.row, at, view).forEach((c, i) => {
      const w = displayWidth(c);
      if (w > widths[i]) widths[i] = w;
    });
  }
  if (view.terminalWidth !== undefined) fit(widths, header, view);
  return { widths, rows };
}

/** Narrows text columns until the table fits the terminal (or cannot narrow further). */
function fit(widths: number[], header: string[], view: ShowView): void {
  const room = (view.terminalWidth ?? Infinity) - 2 * (widths.length - 1);
  const floor = header.map((_, i) =>
    UNCUT.has(view.columns[i]) ? widths[i] : Math.min(widths[i], MIN_FIT_WIDTH)
  );
  let total = widths.reduce((a, b) => a + b, 0);
  while (total > room) {
    let widest = -1;
    widths.forEach((w, i) => {
      if (w > floor[i] && (widest < 0 || w > widths[widest])) widest = i;
    });
    if (widest < 0) return; // as narrow as it goes: the terminal wraps
    widths[widest]--;
    total--;
  }
}

function renderLine(cells: string[], widths: number[], view: ShowView): string {
  return cells.map((c, i) => {
    const fitted = displayWidth(c) > widths[i] ? fitWidth(c, widths[i]) : c;
    const pad = " ".repeat(Math.max(0, widths[i] - displayWidth(fitted)));
    return NUMERIC.has(view.columns[i]) ? pad + fitted : fitted + pad;
  }).join("  ").trimEnd();
}

async function writeTable(
  answer: ReadAnswer,
  view: ShowView,
  out: Output,
  layout: TableLayout,
): Promise<string[]> {
  const at = positions(answer, view);
  const unknown: string[] = [];
  if (layout.rows) {
    await out.push(renderLine(tableHeader(view).map(cell), layout.widths, view) + "\n");
    await out.push(layout.widths.map((w) => "-".repeat(w)).join("  ") + "\n");
  }
  for await (const item of answer.items) {
    if (item.kind === "unknown") unknown.push(item.symbol);
    else await out.push(renderLine(tableCells(item.row, at, view), layout.widths, view) + "\n");
  }
  if (!layout.rows) {
    if (view.mode.kind === "changed-since") {
      await out.push(`no symbol changed after ${view.mode.since}\n`);
    } else if (!unknown.length) {
      await out.push("no rows\n");
    }
  }
  if (unknown.length) {
    await out.push(`${unknownLabel(view.mode)}: ${unknown.map(cell).join(", ")}\n`);
  }
  return unknown;
}

// ------------------------------------------------------------------ csv

const FORMULA_START = /^[=+\-@\t\r]/;
const PLAIN_NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * A CSV text cell as a spreadsheet may safely open it: text starting with
 * `=`, `+`, `-`, `@`, tab or carriage return gets a leading `'` (OWASP, CSV
 * injection), unless it is a plain number (`-0.5`, `+1e-7`), which no
 * spreadsheet runs as a formula.
 *
 * @example
 * ```ts
 * import { csvSafe } from "./show_output.ts";
 * csvSafe("@SUM(1+1)"); // "'@SUM(1+1)"
 * csvSafe("Apple");     // "Apple"
 * ```
 */
export function csvSafe(value: string): string {
  return FORMULA_START.test(value) && !PLAIN_NUMBER.test(value) ? `'${value}` : value;
}

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

async function writeCsv(answer: ReadAnswer, view: ShowView, out: Output): Promise<string[]> {
  const at = positions(answer, view);
  const changes = showsChanges(view.mode);
  const safe = view.csvRaw ? (s: string) => s : csvSafe;
  const textCell = (value: CellValue) =>
    typeof value === "string" ? csvField(safe(value)) : text(value);
  const header = [...view.columns, ...(changes ? [changesHeader(view.columns)] : [])];
  await out.push(header.map((h) => csvField(safe(h))).join(",") + "\r\n");
  const unknown: string[] = [];
  for await (const item of answer.items) {
    if (item.kind === "unknown") {
      unknown.push(item.symbol);
      const blank = header.slice(1).map(() => "");
      await out.push([csvField(safe(item.symbol)), ...blank].join(",") + "\r\n");
      continue;
    }
    const cells = at.map((i) => textCell(item.row.values[i]));
    if (changes) cells.push(csvField(safe(changesText(item.row, view.mode))));
    await out.push(cells.join(",") + "\r\n");
  }
  return unknown;
}

// ----------------------------------------------------------------- json

/** A value as JSON: a bigint with all its digits, as a JSON number. */
function jsonValue(value: CellValue | undefined): string {
  if (value === undefined) return "null";
  return typeof value === "bigint" ? value.toString() : JSON.stringify(value);
}

function jsonRow(row: VersionRow, at: number[], view: ShowView): string {
  const values = `{${
    view.columns.map((c, i) => `${JSON.stringify(c)}:${jsonValue(row.values[at[i]])}`).join(",")
  }}`;
  if (!showsChanges(view.mode)) return values;
  const changes = row.changes.map((c) =>
    `{"field":${JSON.stringify(c.field)},"old":${jsonValue(c.old)},"new":${jsonValue(c.new)}}`
  );
  return `{"row":${values},"first":${row.first},"changes":[${changes.join(",")}]}`;
}

async function writeJson(answer: ReadAnswer, view: ShowView, out: Output): Promise<string[]> {
  const at = positions(answer, view);
  const head = [
    `  "catalog": ${JSON.stringify(view.catalogPath)}`,
    `  "mode": ${JSON.stringify(view.mode.kind)}`,
    ...(view.mode.kind === "as-of" ? [`  "as_of": ${JSON.stringify(view.mode.at)}`] : []),
    ...(view.mode.kind === "changed-since"
      ? [`  "changed_since": ${JSON.stringify(view.mode.since)}`]
      : []),
    `  "columns": ${JSON.stringify(view.columns)}`,
  ];
  await out.push(`{\n${head.join(",\n")},\n  "rows": [`);
  const unknown: string[] = [];
  let rows = 0;
  for await (const item of answer.items) {
    if (item.kind === "unknown") unknown.push(item.symbol);
    else await out.push(`${rows++ ? "," : ""}\n    ${jsonRow(item.row, at, view)}`);
  }
  await out.push(`${rows ? "\n  " : ""}],\n  "unknown": ${JSON.stringify(unknown)}\n}\n`);
  return unknown;
}

async function writeNdjson(answer: ReadAnswer, view: ShowView, out: Output): Promise<string[]> {
  const at = positions(answer, view);
  const unknown: string[] = [];
  for await (const item of answer.items) {
    if (item.kind === "unknown") unknown.push(item.symbol);
    else await out.push(jsonRow(item.row, at, view) + "\n");
  }
  return unknown;
}

/**
 * Writes an answer in one of the output forms as it streams, through
 * `write` (awaited, in pieces of about 64 KiB); resolves to the named
 * symbols without an answer. A table needs its {@linkcode TableLayout}
 * from {@linkcode measureTable}. CSV lines end in CRLF (RFC 4180).
 *
 * @example
 * ```ts
 * import { writeShow } from "./show_output.ts";
 * import type { ReadAnswer, ReadItem } from "../catalog/reader.ts";
 * async function* none(): AsyncGenerator<ReadItem> {}
 * const answer: ReadAnswer = {
 *   columns: ["symbol"],
 *   items: none(),
 *   checksum: "absent",
 *   attempts: 1,
 * };
 * let out = "";
 * await writeShow("csv", answer, {
 *   mode: { kind: "current" },
 *   catalogPath: "c.parquet",
 *   columns: ["symbol"],
 * }, (text) => {
 *   out += text;
 * }); // out === "symbol\r\n"
 * ```
 */
export async function writeShow(
  format: ShowOutputFormat,
  answer: ReadAnswer,
  view: ShowView,
  write: (text: string) => void | Promise<void>,
  layout?: TableLayout,
): Promise<string[]> {
  const out = new Output(write);
  let unknown: string[];
  switch (format) {
    case "table":
      if (!layout) throw new Error("a table needs its layout (measureTable)");
      unknown = await writeTable(answer, view, out, layout);
      break;
    case "csv":
      unknown = await writeCsv(answer, view, out);
      break;
    case "json":
      unknown = await writeJson(answer, view, out);
      break;
    case "ndjson":
      unknown = await writeNdjson(answer, view, out);
      break;
  }
  await out.flush();
  return unknown;
}
