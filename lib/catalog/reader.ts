/**
 * The catalog's read side: rows as they are now or were at an instant, every
 * version with what changed, and what changed since an instant.
 *
 * Promises:
 * - Reads only: the DuckDB behind it may open exactly the catalog file and
 *   nothing else (not even its folder), so it can neither write nor expand a
 *   glob into other files.
 * - One consistent version of the file: everything a read needs is copied
 *   out of the file in one go, and the file's identity (inode, size, times)
 *   is the same before and after, else the read is retried. Writers replace
 *   the catalog by atomic rename, so a read during an ingest sees the old
 *   file or the new one, never a mix.
 * - Old catalogs are read through the same normalising view as merges
 *   (pandas TIMESTAMP_NS, DOUBLE pricescale, NaN as null, missing columns
 *   as nulls, a missing `active` as true). Times are compared at the
 *   catalog's precision, microseconds.
 * - An unreadable or missing file is an {@linkcode IngestError} of kind
 *   `catalog` naming it.
 *
 * @example
 * ```ts
 * import { CatalogReader } from "./reader.ts";
 * await using reader = await CatalogReader.open("/p/data/lakehouse/symbols.parquet");
 * const answer = await reader.read({
 *   symbols: ["NASDAQ:AAPL"],
 *   all: false,
 *   mode: { kind: "as-of", at: "2026-03-01T00:00:00Z" },
 * });
 * ```
 *
 * @module
 */
import { type DuckDBConnection, listValue } from "@duckdb/node-api";
import { z } from "zod";
import { IngestError } from "../core/errors.ts";
import { fractionText } from "../core/time.ts";
import type { FieldChange } from "./catalog.ts";
import { openFileSandboxedDb, type SandboxedDb } from "./duckdb.ts";
import { fileIdentity, openParquetView, unreadable } from "./parquet.ts";
import { GLOB_CHARACTERS } from "./globs.ts";
import {
  CATALOG_SCHEMA,
  missingSymbolsSql,
  PICKED_CHANGES,
  pickedRowsSql,
  pickSql,
  RECORD_SCHEMA,
} from "./sql.ts";

/** What a read answers. Times are ISO 8601 UTC (`2026-03-01T00:00:00Z`). */
export type ReadMode =
  | { kind: "current" }
  | { kind: "as-of"; at: string }
  | { kind: "history" }
  | { kind: "changed-since"; since: string };

/** Which symbols, and what about them. */
export interface ReadQuery {
  /** Canonical symbols; ignored when `all`. */
  symbols: readonly string[];
  /** Every symbol of the catalog. */
  all: boolean;
  /** What to answer about them. */
  mode: ReadMode;
}

/** One printed value: text, a number, a boolean or null. */
export type CellValue = string | number | boolean | null;

/** One catalog row as a read returns it. */
export interface VersionRow {
  /** Column name to value; timestamps as ISO 8601 UTC text, extra columns as text. */
  values: Record<string, CellValue>;
  /**
   * No earlier version of this symbol was picked: its first version
   * (`history`), or new since the instant (`changed-since`).
   */
  first: boolean;
  /** The fields that differ from the previous picked version (empty when `first`). */
  changes: FieldChange[];
}

/** The answer to a {@linkcode ReadQuery}. */
export interface ReadResult {
  /** Every column the catalog has: ours in schema order, then its extra ones. */
  columns: string[];
  /** Rows by symbol, oldest version first. */
  rows: VersionRow[];
  /**
   * Named symbols without an answer: not in the catalog (or, for `as-of`,
   * not known at that instant), sorted.
   */
  unknown: string[];
}

const symbolRow = z.object({ symbol: z.string() });
const changeRow = z.object({
  row_id: z.union([z.bigint(), z.number()]).transform(Number),
  field: z.string(),
  old: z.string().nullable(),
  new: z.string().nullable(),
});
const cell = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const pickedRow = z.looseObject({
  __show_row_id: z.union([z.bigint(), z.number()]).transform(Number),
  __show_first: z.boolean(),
});

const FIELD_TYPES = new Map<string, string>(RECORD_SCHEMA.map((c) => [c.name, c.type]));
const TIMESTAMPS = new Set(
  CATALOG_SCHEMA.filter((c) => c.type === "TIMESTAMP").map((c) => c.name as string),
);

/**
 * `2026-03-01 00:00:00.5` (DuckDB's text of a TIMESTAMP, UTC) as ISO 8601
 * UTC with milliseconds or, when they matter, microseconds:
 * `2026-03-01T00:00:00.500Z`; whole seconds have no fraction.
 *
 * @example
 * ```ts
 * import { isoFromDuckDb } from "./reader.ts";
 * isoFromDuckDb("2026-11-02 00:00:00.000001"); // "2026-11-02T00:00:00.000001Z"
 * isoFromDuckDb("2026-11-02 00:00:00.22");     // "2026-11-02T00:00:00.220Z"
 * ```
 */
export function isoFromDuckDb(text: string): string {
  const [seconds, fraction = ""] = text.replace(" ", "T").split(".");
  return `${seconds}${fractionText(fraction)}Z`;
}

/**
 * ISO 8601 UTC (`2026-03-01T00:00:00Z`) as the TIMESTAMP text DuckDB reads.
 *
 * @example
 * ```ts
 * import { duckDbFromIso } from "./reader.ts";
 * duckDbFromIso("2026-03-01T00:00:00Z"); // "2026-03-01 00:00:00"
 * ```
 */
export function duckDbFromIso(iso: string): string {
  return iso.replace("T", " ").replace(/Z$/i, "");
}

function typed(field: string, text: string | null): CellValue {
  if (text === null) return null;
  switch (FIELD_TYPES.get(field)) {
    case "BIGINT":
    case "DOUBLE":
      return Number(text);
    case "BOOLEAN":
      return text === "true";
    default:
      return text;
  }
}

function cellValue(name: string, value: unknown): CellValue {
  if (typeof value === "bigint") return Number(value);
  if (typeof value === "string" && TIMESTAMPS.has(name)) return isoFromDuckDb(value);
  return cell.parse(value);
}

/** A read-only view of one catalog file; see the module doc. */
export class CatalogReader implements AsyncDisposable {
  /** Absolute real path of the catalog file. */
  readonly path: string;
  private readonly db: SandboxedDb;

  private constructor(path: string, db: SandboxedDb) {
    this.path = path;
    this.db = db;
  }

  /**
   * Opens a reader for the catalog at `path` (absolute, real, checked to lie
   * inside the project root by the caller). Refuses a path DuckDB would read
   * as a glob, and a file that does not exist.
   */
  static async open(path: string): Promise<CatalogReader> {
    // DuckDB expands globs even in a bound path; the sandbox below would
    // refuse the expansion, but this says why in words.
    if (GLOB_CHARACTERS.some((c) => path.includes(c))) {
      throw new IngestError(
        "input",
        `catalog path ${path} contains a glob character (${GLOB_CHARACTERS.join(" ")})`,
        "rename the file or folder; the catalog is read as one exact file",
      );
    }
    try {
      await fileIdentity(path);
    } catch (err) {
      if (err instanceof IngestError) throw err;
      if (err instanceof Deno.errors.NotFound) {
        throw new IngestError(
          "catalog",
          `catalog not found: ${path}`,
          "run an ingest first, or point --catalog-path at the catalog",
        );
      }
      throw unreadable("catalog", path, err);
    }
    return new CatalogReader(path, await openFileSandboxedDb(path));
  }

  /** The sandboxed connection. */
  private get connection(): DuckDBConnection {
    return this.db.connection;
  }

  /** Answers one query from one consistent version of the file. */
  async read(query: ReadQuery): Promise<ReadResult> {
    for (let attempt = 1;; attempt++) {
      const before = await fileIdentity(this.path).catch((err) => {
        throw unreadable("catalog", this.path, err);
      });
      let snapshot: { extras: string[]; missing: string[] | null };
      try {
        snapshot = await this.snapshot(query);
      } catch (err) {
        // A file replaced mid-read may fail in odd ways: only an unchanged one is damaged.
        if (attempt < 5 && await fileIdentity(this.path).catch(() => null) !== before) continue;
        throw unreadable("catalog", this.path, err);
      }
      if (await fileIdentity(this.path).catch(() => null) === before) {
        return await this.answer(query, snapshot);
      }
      if (attempt >= 5) {
        throw new IngestError(
          "catalog",
          `catalog ${this.path} kept changing while it was read (${attempt} tries)`,
          "retry when the ingest writing it has finished",
        );
      }
    }
  }

  /** Copies what the query needs out of the file (the only statements that read it). */
  private async snapshot(
    query: ReadQuery,
  ): Promise<{ extras: string[]; missing: string[] | null }> {
    const found = await openParquetView(
      this.connection,
      "catalog",
      this.path,
      CATALOG_SCHEMA,
      true,
    );
    const known = new Set<string>(CATALOG_SCHEMA.map((c) => c.name));
    const extras = [...found.keys()].filter((name) => !known.has(name));

    const { mode } = query;
    const params: Record<string, ReturnType<typeof listValue> | string> = {};
    if (!query.all) params.symbols = listValue([...query.symbols]);
    if (mode.kind === "as-of") params.at = duckDbFromIso(mode.at);
    if (mode.kind === "changed-since") params.at = duckDbFromIso(mode.since);
    await this.connection.run(pickSql(mode.kind, query.all), params);
    let missing: string[] | null = null;
    if (!query.all && mode.kind === "changed-since") {
      // Unchanged symbols are simply not listed; only those the catalog never had are unknown.
      missing = await this.symbols(missingSymbolsSql(true), params.symbols);
    }
    return { extras, missing };
  }

  /** Runs a query answering symbols, given the `$symbols` list. */
  private async symbols(sql: string, list: unknown): Promise<string[]> {
    const reader = await this.connection.runAndReadAll(sql, {
      symbols: list as ReturnType<typeof listValue>,
    });
    return z.array(symbolRow).parse(reader.getRowObjectsJS()).map((r) => r.symbol);
  }

  /** Builds the answer from the snapshot (reads no file). */
  private async answer(
    query: ReadQuery,
    snapshot: { extras: string[]; missing: string[] | null },
  ): Promise<ReadResult> {
    const { mode } = query;
    const diffs = mode.kind === "history" || mode.kind === "changed-since";
    const changes = new Map<number, FieldChange[]>();
    if (diffs) {
      const reader = await this.connection.runAndReadAll(PICKED_CHANGES);
      for (const row of z.array(changeRow).parse(reader.getRowObjectsJS())) {
        const list = changes.get(row.row_id) ?? [];
        list.push({
          field: row.field,
          old: typed(row.field, row.old),
          new: typed(row.field, row.new),
        });
        changes.set(row.row_id, list);
      }
    }
    const reader = await this.connection.runAndReadAll(
      pickedRowsSql(snapshot.extras, mode.kind === "changed-since"),
    );
    const columns = [...CATALOG_SCHEMA.map((c) => c.name as string), ...snapshot.extras];
    const rows = reader.getRowObjectsJS().map((raw): VersionRow => {
      const meta = pickedRow.parse(raw);
      const values: Record<string, CellValue> = {};
      for (const name of columns) values[name] = cellValue(name, raw[name]);
      return {
        values,
        first: meta.__show_first,
        changes: changes.get(meta.__show_row_id) ?? [],
      };
    });
    let unknown: string[] = [];
    if (!query.all) {
      unknown = snapshot.missing ??
        await this.symbols(missingSymbolsSql(false), listValue([...query.symbols]));
    }
    return { columns, rows, unknown };
  }

  /** Closes the database; safe to call twice. */
  close(): void {
    this.db.close();
  }

  /** Closes the database (`await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}
