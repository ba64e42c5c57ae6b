/**
 * The catalog: `symbols.parquet` with SCD Type 2 history, and
 * `exchanges.parquet` beside it, merged in a sandboxed DuckDB.
 *
 * Schema written (stable; see README): `symbol` (the full EXCHANGE:TICKER),
 * `exchange, base, quote, type, subtype, profile, description, sector,
 * industry, country` (VARCHAR), `pricescale, minmov` (BIGINT), `tick_size,
 * lot_size, contract_size` (DOUBLE), `timezone, session` (VARCHAR),
 * `minmove2` (BIGINT), `fractional` (BOOLEAN), `root, expiration,
 * contract_type` (VARCHAR), `active` (BOOLEAN), `updated_at, valid_from, valid_until` (TIMESTAMP, UTC); then any
 * extra columns a catalog already had, kept as they were.
 *
 * Promises:
 * - Reads catalogs written by the Python pipeline (TIMESTAMP_NS, DOUBLE
 *   pricescale, NaN as null, missing columns as nulls, extra columns kept).
 * - A catalog that cannot be read is an {@linkcode IngestError} and is never
 *   written over.
 * - History rules (all in set-based SQL, lib/sql.ts): a new symbol gets one
 *   current row; a meaningful change (null equals null, numbers equal within
 *   1e-12, an API null never erases a known value) closes the current row at
 *   the run timestamp and opens a new one at the same instant; unchanged
 *   symbols and symbols not in the run are left exactly as they were.
 * - {@linkcode Catalog.write} is atomic (lib/atomic.ts), keeps
 *   `symbols.parquet.bak`, checks the new file reads back before it replaces
 *   the old one, and is only called when something changed, so an idle rerun
 *   leaves the file's bytes and mtime alone. Callers hold the lock.
 *
 * @example
 * ```ts
 * import { Catalog } from "./catalog.ts";
 * await using catalog = await Catalog.open("/p/data/lakehouse/symbols.parquet");
 * await catalog.load();
 * const plan = await catalog.plan(fetched, [], { retireNotFound: false });
 * if (plan.new + plan.changed + plan.retired > 0) await catalog.write(new Date());
 * ```
 *
 * @module
 */
import type { DuckDBAppender, DuckDBConnection } from "@duckdb/node-api";
import { basename, dirname, join } from "node:path";
import { z } from "zod";
import { type PreparedReplace, prepareReplace } from "../fs/atomic.ts";
import { openSandboxedDb, type SandboxedDb } from "./duckdb.ts";
import { errorMessage, IngestError } from "../core/errors.ts";
import { exchangeRow, EXCHANGES_FILE } from "../record/exchanges.ts";
import type { FetchedRecord } from "../record/record.ts";
import { TIMEZONE_ALIASES } from "../record/timezones.ts";
import {
  ACTIVE_SYMBOLS,
  CATALOG_COUNTS,
  CATALOG_SCHEMA,
  CHANGE_COUNTS,
  type Column,
  COMPUTE_CHANGES,
  countRowsSql,
  createTableSql,
  DESCRIBE_PARQUET,
  dropRelationSql,
  EXCHANGE_CHANGE_COUNT,
  EXCHANGE_CHANGES,
  EXCHANGES_SCHEMA,
  FIELD_CHANGES,
  FILE_COUNTS,
  INCOMING_SCHEMA,
  NEW_SYMBOLS,
  parquetViewSql,
  RUN_TIMESTAMP,
  setPathVariableSql,
  TIMEZONE_ALIAS_SCHEMA,
  WRITE_CATALOG,
  WRITE_EXCHANGES,
} from "./sql.ts";

/** One field of one symbol that a merge changes. */
export interface FieldChange {
  field: string;
  old: string | number | boolean | null;
  new: string | number | boolean | null;
}

/** What a merge does to one symbol. */
export interface SymbolChange {
  symbol: string;
  action: "new" | "changed" | "retired";
  fields: FieldChange[];
}

/** Size of a catalog. */
export interface CatalogCounts {
  rows: number;
  current: number;
}

/** What a merge would do. */
export interface MergePlan {
  new: number;
  changed: number;
  retired: number;
  unchanged: number;
  /** Per symbol: what changes and how (field: old -> new). */
  changes: SymbolChange[];
}

const count = z.union([z.bigint(), z.number()]).transform(Number);
const countsRow = z.object({ rows: count, current: count });
const describeRow = z.object({ column_name: z.string(), column_type: z.string() });
const symbolRow = z.object({ symbol: z.string() });
const changeCountsRow = z.object({ new: count, changed: count, retired: count, unchanged: count });
const fieldChangeRow = z.object({
  symbol: z.string(),
  action: z.enum(["new", "changed", "retired"]),
  field: z.string(),
  old: z.string().nullable(),
  new: z.string().nullable(),
});
const tsRow = z.object({ ts: z.string() });

async function rows<T>(
  connection: DuckDBConnection,
  sql: string,
  schema: z.ZodType<T>,
  params?: (string | boolean)[],
): Promise<T[]> {
  const reader = params
    ? await connection.runAndReadAll(sql, params)
    : await connection.runAndReadAll(sql);
  return z.array(schema).parse(reader.getRowObjectsJS());
}

function append(appender: DuckDBAppender, column: Column, value: unknown): void {
  if (value === null || value === undefined) return appender.appendNull();
  switch (column.type) {
    case "VARCHAR":
      return appender.appendVarchar(String(value));
    case "BIGINT":
      return appender.appendBigInt(BigInt(value as number));
    case "DOUBLE":
      return appender.appendDouble(value as number);
    case "BOOLEAN":
      return appender.appendBoolean(value as boolean);
    case "TIMESTAMP":
      throw new Error("timestamps are not staged");
  }
}

async function stage(
  connection: DuckDBConnection,
  table: string,
  schema: readonly Column[],
  values: readonly Record<string, unknown>[],
): Promise<void> {
  await connection.run(createTableSql(table, schema));
  const appender = await connection.createAppender(table);
  for (const row of values) {
    for (const column of schema) append(appender, column, row[column.name]);
    appender.endRow();
  }
  appender.flushSync();
  appender.closeSync();
}

async function fileExists(path: string): Promise<boolean> {
  try {
    const info = await Deno.stat(path);
    if (!info.isFile) {
      throw new IngestError(
        "catalog",
        `catalog path ${path} is not a regular file`,
        "point --catalog-path at a .parquet file",
      );
    }
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/** The error for a file we could not read (and therefore never write over). */
function unreadable(label: string, path: string, err: unknown): IngestError {
  return new IngestError(
    "catalog",
    `cannot read ${label} ${path}: ${errorMessage(err).split("\n")[0]}`,
    `it was left untouched; restore ${basename(path)}.bak or move the file away`,
  );
}

/** The catalog and its exchanges table; see the module doc. */
export class Catalog implements AsyncDisposable {
  /** Absolute path of symbols.parquet. */
  readonly path: string;
  /** Absolute path of exchanges.parquet (beside it). */
  readonly exchangesPath: string;
  private readonly db: SandboxedDb;
  private loaded = false;
  private before: CatalogCounts = { rows: 0, current: 0 };
  /** What the last plan() found: symbol changes and exchange rows to upsert. */
  private planned: { symbols: number; exchanges: number } | null = null;

  private constructor(path: string, db: SandboxedDb) {
    this.path = path;
    this.exchangesPath = join(dirname(path), EXCHANGES_FILE);
    this.db = db;
  }

  /**
   * Opens a sandboxed DuckDB for the catalog at `path` (absolute, real
   * folder, which must exist).
   */
  static async open(path: string): Promise<Catalog> {
    return new Catalog(path, await openSandboxedDb(dirname(path)));
  }

  private get connection(): DuckDBConnection {
    return this.db.connection;
  }

  private async loadTable(table: string, path: string, schema: readonly Column[], label: string) {
    for (const sql of dropRelationSql(table)) await this.connection.run(sql);
    if (!(await fileExists(path))) {
      await this.connection.run(createTableSql(table, schema));
      return false;
    }
    try {
      const columns = await rows(this.connection, DESCRIBE_PARQUET, describeRow, [path]);
      const found = new Map(columns.map((c) => [c.column_name, c.column_type]));
      if (table === "catalog" && !found.has("symbol")) throw new Error("it has no 'symbol' column");
      const variable = `${table}_path`;
      await this.connection.run(setPathVariableSql(variable), [path]);
      await this.connection.run(parquetViewSql(table, variable, schema, found));
      // Scanning one column now catches most damage before anything is
      // merged (the write reads every row and stops at any damage left).
      await this.connection.run(countRowsSql(table));
    } catch (err) {
      throw unreadable(label, path, err);
    }
    return true;
  }

  /**
   * Reads the catalog (and exchanges.parquet) as they are now. Under the lock
   * this is the newest version, so a merge never loses another run's rows.
   */
  async load(): Promise<CatalogCounts & { exists: boolean }> {
    const exists = await this.loadTable("catalog", this.path, CATALOG_SCHEMA, "catalog");
    await this.loadTable("exchanges", this.exchangesPath, EXCHANGES_SCHEMA, "exchanges table");
    let counts: CatalogCounts;
    try {
      [counts] = await rows(this.connection, CATALOG_COUNTS, countsRow);
    } catch (err) {
      throw unreadable("catalog", this.path, err);
    }
    this.before = counts;
    this.loaded = true;
    this.planned = null;
    return { ...counts, exists };
  }

  /** Symbols whose current row is active, sorted. */
  async activeSymbols(): Promise<string[]> {
    this.mustBeLoaded();
    return (await rows(this.connection, ACTIVE_SYMBOLS, symbolRow)).map((r) => r.symbol);
  }

  /**
   * Stages this run's records and definite not-founds and computes the SCD2
   * diff; writes nothing.
   */
  async plan(
    fetched: readonly FetchedRecord[],
    notFound: readonly string[],
    options: { retireNotFound: boolean },
  ): Promise<MergePlan> {
    this.mustBeLoaded();
    const incoming = fetched.map(({ record, defaults }) => ({
      ...record,
      default_base: defaults.base,
      default_country: defaults.country,
      default_timezone: defaults.timezone,
      default_session: defaults.session,
    }));
    await stage(this.connection, "incoming", INCOMING_SCHEMA, incoming);
    await stage(
      this.connection,
      "not_found",
      [{ name: "symbol", type: "VARCHAR" }],
      notFound.map((symbol) => ({ symbol })),
    );
    await stage(
      this.connection,
      "timezone_aliases",
      TIMEZONE_ALIAS_SCHEMA,
      Object.entries(TIMEZONE_ALIASES).map(([alias, canonical]) => ({ alias, canonical })),
    );
    const exchanges = [...new Set(fetched.map((f) => f.record.exchange))].map((e) => ({
      ...exchangeRow(e),
    }));
    const exchangeColumns = EXCHANGES_SCHEMA.filter((c) => c.name !== "updated_at");
    await stage(this.connection, "incoming_exchanges", exchangeColumns, exchanges);
    await this.connection.run(COMPUTE_CHANGES.currentRows);
    await this.connection.run(COMPUTE_CHANGES.proposed, [options.retireNotFound]);
    await this.connection.run(COMPUTE_CHANGES.changes);
    await this.connection.run(EXCHANGE_CHANGES);
    const [counts] = await rows(this.connection, CHANGE_COUNTS, changeCountsRow);
    const [exchangeCounts] = await rows(
      this.connection,
      EXCHANGE_CHANGE_COUNT,
      z.object({ n: count }),
    );
    this.planned = {
      symbols: counts.new + counts.changed + counts.retired,
      exchanges: exchangeCounts.n,
    };
    const bySymbol = new Map<string, SymbolChange>();
    for (const row of await rows(this.connection, FIELD_CHANGES, fieldChangeRow)) {
      let change = bySymbol.get(row.symbol);
      if (!change) {
        bySymbol.set(row.symbol, change = { symbol: row.symbol, action: row.action, fields: [] });
      }
      change.fields.push({ field: row.field, old: row.old, new: row.new });
    }
    const news = await rows(this.connection, NEW_SYMBOLS, symbolRow);
    for (const { symbol } of news) bySymbol.set(symbol, { symbol, action: "new", fields: [] });
    const changes = [...bySymbol.values()].sort((a, b) => a.symbol < b.symbol ? -1 : 1);
    return { ...counts, changes };
  }

  /** True when the planned merge changes symbols.parquet or exchanges.parquet. */
  hasWork(): boolean {
    const planned = this.mustBePlanned();
    return planned.symbols + planned.exchanges > 0;
  }

  /**
   * Writes the planned merge: the new symbols.parquet and exchanges.parquet
   * (whichever changed) are both written, read back and fsynced before
   * either replaces its file; returns the new catalog's size.
   */
  async write(now: Date): Promise<CatalogCounts> {
    this.mustBeLoaded();
    try {
      return await this.writeFiles(now);
    } catch (err) {
      if (err instanceof IngestError) throw err;
      throw new IngestError(
        "catalog",
        `cannot write the catalog ${this.path}: ${errorMessage(err).split("\n")[0]}`,
        "the previous version is intact; check free space and permissions of its folder",
      );
    }
  }

  private async writeFiles(now: Date): Promise<CatalogCounts> {
    const planned = this.mustBePlanned();
    const [{ ts }] = await rows(this.connection, RUN_TIMESTAMP, tsRow, [now.toISOString()]);
    // Both files are written and fsynced before either replaces anything, so
    // a failure (a full disk) leaves both as they were.
    const prepared: PreparedReplace[] = [];
    let after = this.before;
    try {
      if (planned.symbols > 0) {
        prepared.push(
          await prepareReplace(this.path, async (temp) => {
            await this.connection.run(WRITE_CATALOG, [ts, temp]);
            // Read the new file back before it may replace the old one.
            [after] = await rows(this.connection, FILE_COUNTS, countsRow, [temp]);
          }, { backup: true }),
        );
      }
      if (planned.exchanges > 0) {
        prepared.push(
          await prepareReplace(this.exchangesPath, async (temp) => {
            await this.connection.run(WRITE_EXCHANGES, [ts, temp]);
          }, { backup: true }),
        );
      }
    } catch (err) {
      await Promise.all(prepared.map((p) => p.discard()));
      throw err;
    }
    for (const [i, replace] of prepared.entries()) {
      try {
        await replace.commit();
      } catch (err) {
        await Promise.all(prepared.slice(i + 1).map((p) => p.discard()));
        if (i === 0) throw err;
        // Renames rarely fail; if the second one does, say exactly what happened.
        throw new IngestError(
          "catalog",
          `${prepared[0].target} was written, but ${replace.target} could not be replaced: ${
            errorMessage(err).split("\n")[0]
          }`,
          "the catalog itself is consistent; rerun to bring the exchanges table up to date",
        );
      }
    }
    return after;
  }

  private mustBeLoaded(): void {
    if (!this.loaded) throw new Error("Catalog.load() must come first");
  }

  private mustBePlanned(): { symbols: number; exchanges: number } {
    if (!this.planned) throw new Error("Catalog.plan() must come first");
    return this.planned;
  }

  /** Closes the database; safe to call twice. */
  close(): void {
    this.db.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}
