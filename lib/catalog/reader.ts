/**
 * The catalog's read side: rows as they are now or were at an instant, every
 * version with what changed, and what changed since an instant.
 *
 * Promises:
 * - Reads only: the DuckDB behind it may open exactly the catalog file and
 *   nothing else (not even its folder), so it can neither write nor expand a
 *   glob into other files.
 * - Streamed, in bounded memory on this side: an answer is one DuckDB
 *   statement ({@linkcode readSql}) whose rows are handed over a chunk at
 *   a time, as they arrive, to be written before the next is fetched.
 * - Verified: unless told not to, the rows are checked against the
 *   checksum written with them before the first one is handed over; rows
 *   that do not match make the file unreadable, as for a merge.
 * - One consistent version of the file: the file's identity (inode, size,
 *   times) is taken before the first statement of an attempt, after each
 *   statement, and once the answer's statement has delivered its first
 *   chunk; when it differs, nothing was handed over yet and the attempt
 *   stops and is made again at once (at most {@linkcode READ_ATTEMPTS}
 *   attempts), as does an attempt that failed while the file changed (a
 *   read can meet one version's footer and the next one's pages). Writers
 *   replace the catalog by atomic rename, and the answer's statement holds
 *   the file it opened (its ORDER BY has read every row by its first chunk
 *   anyway), so a read during an ingest sees the old file or the new one,
 *   never a mix.
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
 * for await (const item of answer.items) {
 *   if (item.kind === "row") console.log(item.row.values[0]);
 * }
 * ```
 *
 * @module
 */
import {
  type DuckDBConnection,
  type DuckDBDataChunk,
  type DuckDBResult,
  DuckDBTypeId,
  listValue,
} from "@duckdb/node-api";
import { z } from "zod";
import { IngestError } from "../core/errors.ts";
import { fractionText } from "../core/time.ts";
import { openFileSandboxedDb, type SandboxedDb } from "./duckdb.ts";
import {
  checkRowsChecksum,
  type ChecksumCheck,
  describeParquet,
  engineVersion,
  fileIdentity,
  openParquetView,
  queryRows,
  storedChecksum,
  unreadable,
  verifyRowsChecksum,
} from "./parquet.ts";
import { GLOB_CHARACTERS } from "./globs.ts";
import {
  CATALOG_SCHEMA,
  type Column,
  decodeReadValues,
  parquetViewSql,
  READ_OUTPUT,
  readSql,
  RECORD_SCHEMA,
  WANTED_CHECKSUM,
  wantedScanSql,
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

/**
 * One value as a read returns it: text, a number, a boolean or null. A
 * BIGINT is a number when it is a safe integer and a bigint beyond, so it
 * is never rounded.
 */
export type CellValue = string | number | bigint | boolean | null;

/** One field that differs from the previous picked version. */
export interface ReadChange {
  /** The column name. */
  field: string;
  /** The previous version's value. */
  old: CellValue;
  /** This version's value. */
  new: CellValue;
}

/** One catalog row as a read returns it. */
export interface VersionRow {
  /**
   * Values in the order of {@linkcode ReadAnswer.columns}: timestamps as
   * ISO 8601 UTC text, extra columns as text.
   */
  values: CellValue[];
  /**
   * No earlier version of this symbol was picked: its first version
   * (`history`), or new since the instant (`changed-since`).
   */
  first: boolean;
  /** The fields that differ from the previous picked version (empty when `first`). */
  changes: ReadChange[];
}

/**
 * One item of an answer: a row, or a named symbol without an answer (not
 * in the catalog or, for `as-of`, not known at that instant).
 */
export type ReadItem = { kind: "row"; row: VersionRow } | { kind: "unknown"; symbol: string };

/** The answer to a {@linkcode ReadQuery}, handed over as it streams. */
export interface ReadAnswer {
  /** Every column the catalog has: ours in schema order, then its extra ones. */
  columns: string[];
  /**
   * Rows by symbol, oldest version first, then the named symbols without an
   * answer, sorted. Iterate it once, to the end (or stop early).
   */
  items: AsyncIterable<ReadItem>;
  /** What the checksum check found (`skipped` when told not to check). */
  checksum: ChecksumCheck | "skipped";
  /** Attempts the read took (more than 1 when the file was replaced while it was read). */
  attempts: number;
}

/** How to read. */
export interface ReadOptions {
  /**
   * Check the rows against the checksum written with them before the first
   * row is handed over.
   *
   * @default {true}
   */
  verify?: boolean;
  /**
   * A full pass over an answer before the one handed over, inside the same
   * consistency window (a table measures its columns with it). It must
   * write nothing: the read may still be made again. Errors it throws that
   * are {@linkcode IngestError}s pass through as they are, unless the file
   * was replaced during the attempt (then the read is made again).
   *
   * @default {undefined}
   */
  prepass?: (answer: ReadAnswer) => Promise<void>;
}

/** Attempts a read makes while the file keeps being replaced. */
export const READ_ATTEMPTS = 5;

/** The file was replaced during an attempt (thrown between its statements). */
class Replaced extends Error {}

const FIELD_TYPES = new Map<string, Column["type"]>(RECORD_SCHEMA.map((c) => [c.name, c.type]));

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

/** How a value DuckDB wrote as text becomes a value again, per column type. */
export type Decoder = (text: string | null) => CellValue;

/** A BIGINT exactly: a number while that is exact, a bigint beyond. */
function exactInteger(text: string): number | bigint {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : BigInt(text);
}

/** DuckDB's text of a DOUBLE (`0.01`, `1e-07`, `inf`, `nan`) as a number. */
function double(text: string): number {
  switch (text) {
    case "inf":
      return Infinity;
    case "-inf":
      return -Infinity;
    case "nan":
    case "-nan":
      return NaN;
    default:
      return Number(text);
  }
}

const DECODERS: Record<Column["type"], Decoder> = {
  VARCHAR: (t) => t,
  BIGINT: (t) => t === null ? null : exactInteger(t),
  DOUBLE: (t) => t === null ? null : double(t),
  BOOLEAN: (t) => t === null ? null : t === "true",
  TIMESTAMP: (t) => t === null ? null : isoFromDuckDb(t),
};

/** A changed value (text from SQL) in its column's type. */
function typed(field: string, text: string | null): CellValue {
  return DECODERS[FIELD_TYPES.get(field) ?? "VARCHAR"](text);
}

/**
 * What the read statement returns, column by column.
 *
 * @internal
 */
export interface Layout {
  /** The catalog's columns, ours then its extra ones. */
  columns: string[];
  /** How each becomes a value. */
  decoders: Decoder[];
}

/**
 * The layout of a catalog with these extra columns.
 *
 * @internal
 */
export function layoutOf(extras: readonly string[]): Layout {
  const types = [...CATALOG_SCHEMA.map((c) => c.type), ...extras.map(() => "VARCHAR" as const)];
  return {
    columns: [...CATALOG_SCHEMA.map((c) => c.name as string), ...extras],
    decoders: types.map((t) => DECODERS[t]),
  };
}

/** The DuckDB types of {@linkcode READ_OUTPUT}, which the statement casts to. */
const OUTPUT_TYPES = [
  DuckDBTypeId.INTEGER,
  DuckDBTypeId.BIGINT,
  DuckDBTypeId.BOOLEAN,
  DuckDBTypeId.VARCHAR,
  DuckDBTypeId.VARCHAR,
  DuckDBTypeId.VARCHAR,
];

/** Refuses a result whose columns are not the ones the statement promises. */
function checkResultTypes(result: DuckDBResult): void {
  const actual = result.columnTypes().map((t) => t.typeId);
  if (
    actual.length !== READ_OUTPUT.length || actual.some((id, i) => id !== OUTPUT_TYPES[i])
  ) {
    throw new Error(`the read returned columns of unexpected types (${actual.join(", ")})`);
  }
}

const checksumRow = z.object({ checksum: z.string() });

const changesJson = z.array(
  z.object({ field: z.string(), old: z.string().nullable(), new: z.string().nullable() }),
).nullable();

/** The items of one chunk. */
function* itemsOf(
  chunk: DuckDBDataChunk,
  layout: Layout,
  end: { seen: boolean },
): Generator<ReadItem> {
  // By position (READ_OUTPUT): kind, ord, first, changes, symbol, values.
  const [kinds, firsts, changeTexts, lines] = [0, 2, 3, 5].map((i) => chunk.getColumnVector(i));
  const width = layout.columns.length;
  for (let r = 0; r < chunk.rowCount; r++) {
    const kind = kinds.getItem(r);
    if (kind === 2) {
      end.seen = true;
      return;
    }
    const fields = decodeReadValues(lines.getItem(r) as string);
    if (kind === 1) {
      yield { kind: "unknown", symbol: fields[0] ?? "" };
      continue;
    }
    if (fields.length !== width) {
      throw new Error(`a row came back with ${fields.length} values for ${width} columns`);
    }
    const values = fields.map((text, i) => layout.decoders[i](text));
    const text = changeTexts.getItem(r) as string | null;
    const changes = text === null ? [] : (changesJson.parse(JSON.parse(text)) ?? []).map((c) => ({
      field: c.field,
      old: typed(c.field, c.old),
      new: typed(c.field, c.new),
    }));
    yield { kind: "row", row: { values, first: firsts.getItem(r) === true, changes } };
  }
}

/**
 * A started read statement: its first chunk already fetched.
 *
 * @internal
 */
export interface Started {
  /** The streaming result (`@duckdb/node-api`'s). */
  result: DuckDBResult;
  /** Its first chunk, until the items take it. */
  first: DuckDBDataChunk | null;
}

/**
 * The items of a started read statement, to its end row. DuckDB ends a
 * stream that fails midway (out of memory, say) exactly as one that is
 * done, so a stream that stops before its end row is an error here, never
 * a short answer.
 *
 * @internal (exported for tests: it takes `@duckdb/node-api`'s result)
 */
export async function* streamItems(
  started: Started,
  layout: Layout,
  path: string,
): AsyncGenerator<ReadItem> {
  let chunk = started.first;
  started.first = null; // the chunk is the generator's now
  const end = { seen: false };
  while (chunk !== null && chunk.rowCount > 0 && !end.seen) {
    yield* itemsOf(chunk, layout, end);
    if (!end.seen) chunk = await started.result.fetchChunk();
  }
  if (!end.seen) {
    throw new IngestError(
      "catalog",
      `the read of catalog ${path} stopped before its last row (DuckDB ended its stream early: out of memory, or the file could not be read); what was printed is incomplete`,
      "retry; if it happens again, ask for fewer rows (name symbols, or leave out --history)",
    );
  }
}

/** A read-only view of one catalog file; see the module doc. */
export class CatalogReader implements AsyncDisposable {
  /** Absolute real path of the catalog file. */
  readonly path: string;
  private readonly db: SandboxedDb;
  private engineVersion: string | undefined;

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

  /** The DuckDB version computing checksums (asked once). */
  private async engine(): Promise<string> {
    this.engineVersion ??= await engineVersion(this.connection);
    return this.engineVersion;
  }

  /**
   * Answers one query from one consistent, verified version of the file
   * (see the module doc). Resolves once the answer's first rows are in, so
   * every error about the file comes before anything is written; the rows
   * then stream through {@linkcode ReadAnswer.items}. Start no other read
   * before the items are consumed.
   */
  async read(query: ReadQuery, options: ReadOptions = {}): Promise<ReadAnswer> {
    const identity = () => fileIdentity(this.path).catch(() => null);
    for (let attempt = 1;; attempt++) {
      const before = await fileIdentity(this.path).catch((err) => {
        throw unreadable("catalog", this.path, err);
      });
      // Checked after every statement too: an attempt the file changed under
      // stops at once, so the next starts right after the replace (a writer's
      // quiet moment), not a whole attempt later.
      const unchanged = async () => {
        if (await identity() !== before) throw new Replaced();
      };
      let answer: ReadAnswer;
      try {
        answer = { ...await this.attempt(query, options, unchanged), attempts: attempt };
        await unchanged();
        return answer;
      } catch (err) {
        // A file replaced mid-read may fail in odd ways (DuckDB can meet one
        // version's footer and the next one's pages, or a checksum that no
        // longer matches): only an error from an unchanged file is its own.
        if (!(err instanceof Replaced) && await identity() === before) {
          throw err instanceof IngestError ? err : unreadable("catalog", this.path, err);
        }
        if (attempt >= READ_ATTEMPTS) throw this.keptChanging(attempt);
      }
    }
  }

  /** The error for a file replaced during every attempt. */
  private keptChanging(attempts: number): IngestError {
    return new IngestError(
      "catalog",
      `catalog ${this.path} kept changing while it was read (${attempts} tries)`,
      "retry when the ingest writing it has finished",
    );
  }

  /**
   * One attempt: the file's columns and rows (checked against the checksum),
   * the pre-pass, then the answer's first chunk. Every symbol: the view reads
   * the file, after a pass that checks the checksum. Named symbols: one pass
   * copies their rows out of the file and computes the checksum together
   * ({@linkcode wantedScanSql}), and the view reads that copy.
   */
  private async attempt(
    query: ReadQuery,
    options: ReadOptions,
    unchanged: () => Promise<void>,
  ): Promise<Omit<ReadAnswer, "attempts">> {
    const verify = options.verify !== false;
    const engine = () => this.engine();
    let found: Map<string, string>;
    let checksum: ReadAnswer["checksum"] = "skipped";
    if (query.all) {
      found = await openParquetView(this.connection, "catalog", this.path, CATALOG_SCHEMA, true);
      await unchanged();
      if (verify) checksum = await verifyRowsChecksum(this.connection, this.path, engine);
    } else {
      found = await describeParquet(this.connection, this.path, true);
      const stored = verify ? await storedChecksum(this.connection, this.path, engine) : null;
      await unchanged();
      const [scan, rows] = wantedScanSql(found, stored?.version ?? null);
      await this.connection.run(scan, { symbols: listValue([...query.symbols]), path: this.path });
      await unchanged();
      await this.connection.run(rows);
      if (stored) {
        checksum = stored.status;
        if (stored.expected !== null) {
          const [actual] = await queryRows(this.connection, WANTED_CHECKSUM, checksumRow);
          checkRowsChecksum(stored.expected, actual.checksum);
        }
      }
      await this.connection.run(
        parquetViewSql("catalog", "catalog_path", CATALOG_SCHEMA, found, "wanted_rows"),
      );
    }
    const known = new Set<string>(CATALOG_SCHEMA.map((c) => c.name));
    const layout = layoutOf([...found.keys()].filter((name) => !known.has(name)));
    await unchanged();
    if (options.prepass) {
      await options.prepass({ ...await this.start(query, layout, checksum), attempts: 1 });
      await unchanged();
    }
    return await this.start(query, layout, checksum);
  }

  /** Starts the answer's statement and fetches its first chunk. */
  private async start(
    query: ReadQuery,
    layout: Layout,
    checksum: ReadAnswer["checksum"],
  ): Promise<Omit<ReadAnswer, "attempts">> {
    const { mode } = query;
    const params: Record<string, ReturnType<typeof listValue> | string> = {};
    if (!query.all) params.symbols = listValue([...query.symbols]);
    if (mode.kind === "as-of") params.at = duckDbFromIso(mode.at);
    if (mode.kind === "changed-since") params.at = duckDbFromIso(mode.since);
    const extras = layout.columns.slice(CATALOG_SCHEMA.length);
    const result = await this.connection.stream(readSql(mode.kind, query.all, extras), params);
    checkResultTypes(result);
    const started: Started = { result, first: await result.fetchChunk() };
    return { columns: layout.columns, items: streamItems(started, layout, this.path), checksum };
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
