/**
 * The catalog: `symbols.parquet` with SCD Type 2 history, and
 * `exchanges.parquet` beside it, merged in a sandboxed DuckDB.
 *
 * Promises: a catalog that cannot be read is an {@linkcode IngestError} and
 * is never written over; {@linkcode Catalog.stage} writes the new files
 * through a store (lib/store), which replaces them atomically, keeps
 * `symbols.parquet.bak` and refuses a lost update; callers stage only when
 * {@linkcode Catalog.hasWork}, so an idle rerun leaves the file alone. It
 * works on local files only and never asks where they came from (a local
 * catalog, or an object's private copy). History never runs backwards (clock skew is
 * reported, duplicate current rows repaired) and the file carries a checksum
 * of its rows. The schema, how Python-written catalogs are read
 * and the history rules: README, "The catalog".
 *
 * @example
 * ```ts
 * import { Catalog, type StageTarget } from "./catalog.ts";
 * import type { FetchedRecord } from "../record/record.ts";
 * const fetched: FetchedRecord[] = []; // what the fetch stage returned
 * declare const store: StageTarget<string>; // lib/store: a CatalogStore
 * await using catalog = await Catalog.open("/p/data/lakehouse/symbols.parquet");
 * await catalog.load();
 * const plan = await catalog.plan(fetched, [], { retireNotFound: false });
 * console.log(`${plan.new} new, ${plan.changed} changed`);
 * if (catalog.hasWork()) {
 *   const { staged } = await catalog.stage(store); // then the store commits them
 * }
 * ```
 *
 * @module
 */
import type { DuckDBAppender, DuckDBConnection } from "@duckdb/node-api";
import { basename, dirname, join } from "node:path";
import { z } from "zod";
import type { CatalogCounts } from "./outcomes.ts";

export type { CatalogCounts } from "./outcomes.ts";
export { NotDurableWrite } from "./outcomes.ts";
import { openSandboxedDb, type SandboxedDb } from "./duckdb.ts";
import {
  engineVersion,
  fileIdentity,
  openParquetView,
  queryRows,
  unreadable,
  verifyRowsChecksum,
} from "./parquet.ts";
import { errorMessage, IngestError } from "../core/errors.ts";
import { exchangeRow } from "../record/exchanges.ts";
import { EXCHANGES_FILE, runLogName } from "../record/companions.ts";
import type { FetchedRecord } from "../record/record.ts";
import {
  ACTIVE_SYMBOLS,
  castColumns,
  CATALOG_COUNTS,
  CATALOG_SCHEMA,
  CHANGE_COUNTS,
  CHANGES_AFTER,
  checkCastsSql,
  type Column,
  COMPUTE_CHANGES,
  countRowsSql,
  createTableSql,
  CURRENT_SYMBOLS,
  dropRelationSql,
  DUPLICATE_CURRENT,
  emptyViewSql,
  EXCHANGE_CHANGE_COUNT,
  EXCHANGE_CHANGES,
  EXCHANGES_SCHEMA,
  FIELD_CHANGES,
  FILE_SUMMARY,
  INCOMING_SCHEMA,
  MERGED_CHECKSUM,
  NEW_SYMBOLS,
  RUN_CHECKS_SCHEMA,
  RUN_LOG_SCHEMA,
  SKEWED_SYMBOLS,
  STATUS_BREAKDOWN,
  STATUS_CHECKS,
  STATUS_RUNS,
  STATUS_TOTALS,
  WRITE_CATALOG,
  WRITE_EXCHANGES,
  WRITE_RUN_LOG,
} from "./sql.ts";

/** One field of one symbol that a merge changes. */
export interface FieldChange {
  /** The column name. */
  field: string;
  /** The current row's value (null when it has none). */
  old: string | number | boolean | null;
  /** The value the merge writes. */
  new: string | number | boolean | null;
}

/** What a merge does to one symbol. */
export interface SymbolChange {
  /** The full `EXCHANGE:TICKER`. */
  symbol: string;
  /** A first row, a new version, or a new inactive version. */
  action: "new" | "changed" | "retired";
  /** The fields that change; empty for a new symbol. */
  fields: FieldChange[];
}

/** A fetched symbol left alone because its current version starts after the run. */
export interface SkewedSymbol {
  /** The symbol, `EXCHANGE:TICKER`. */
  symbol: string;
  /** When its current version starts (`YYYY-MM-DD HH:MM:SS[.ffffff]`, UTC). */
  validFrom: string;
}

/** What a merge would do. */
export interface MergePlan {
  /** Symbols the catalog did not have. */
  new: number;
  /** Symbols whose current row gets a new version. */
  changed: number;
  /** Symbols retired (with `retireNotFound` only). */
  retired: number;
  /** Fetched symbols whose current row already says the same. */
  unchanged: number;
  /** Per symbol: what changes and how (field: old -> new). */
  changes: SymbolChange[];
  /** The run timestamp every new version starts at (UTC, as in {@linkcode SkewedSymbol}). */
  runAt: string;
  /**
   * Fetched symbols whose current version starts after `runAt` (a clock is
   * wrong): not merged, so no interval runs backwards.
   */
  skewed: SkewedSymbol[];
  /** Symbols with several current rows; the write closes all but the newest. */
  repaired: string[];
}

const count = z.union([z.bigint(), z.number()]).transform(Number);
const countsRow = z.object({ rows: count, current: count });
const symbolRow = z.object({ symbol: z.string() });
const changeCountsRow = z.object({ new: count, changed: count, retired: count, unchanged: count });
const fieldChangeRow = z.object({
  symbol: z.string(),
  action: z.enum(["new", "changed", "retired"]),
  field: z.string(),
  old: z.string().nullable(),
  new: z.string().nullable(),
});
const skewedRow = z.object({ symbol: z.string(), valid_from: z.string() });
const checksumRow = z.object({ checksum: z.string() });
const summaryRow = z.object({ checksum: z.string(), rows: count, current: count });

/**
 * Where {@linkcode Catalog.stage} writes new files: lib/store's
 * `CatalogStore` fits (its `stage` and `discard`).
 */
export interface StageTarget<S> {
  /** Has `write` fill a temp file for `file` and makes it ready to commit. */
  stage(
    file: "symbols" | "exchanges" | "runlog",
    write: (temp: string) => Promise<void>,
  ): Promise<S>;
  /** Drops staged files that will not be committed. */
  discard(staged: readonly S[]): Promise<void>;
}

/** What {@linkcode Catalog.stage} wrote, ready for the store's commit. */
export interface StagedMerge<S> {
  /** The staged files (symbols, exchanges: whichever changed). */
  staged: S[];
  /** The new catalog's size (as before when symbols.parquet does not change). */
  counts: CatalogCounts;
}

/** One run as the run log keeps it. */
export interface RunRecord {
  /** Names the run: its start time, host and pid. */
  runId: string;
  /** When it started and finished. */
  startedAt: Date;
  /** When it finished (the time its checks are recorded at). */
  finishedAt: Date;
  /** `symbol`, `scan` or `auto`. */
  endpoint: string;
  /** The machine it ran on. */
  host: string;
  /** Its exit code. */
  exitCode: number;
  /** Its counts, kept as a JSON object. */
  summary: Record<string, number | string | null>;
  /** Every symbol it asked the scanner for, and how that ended. */
  checks: { symbol: string; outcome: "fetched" | "not-found" | "failed" }[];
}

/** What `status` reads: see {@linkcode Catalog.status}. */
export interface CatalogStatus {
  /** Every row, history included. */
  rows: number;
  /** Current symbols, retired ones included. */
  current: number;
  /** Current symbols whose current row is inactive. */
  retired: number;
  /** Active current symbols by exchange and type. */
  breakdown: { exchange: string; type: string; symbols: number }[];
  /** The newest runs, newest first (times as DuckDB text, UTC). */
  runs: {
    run_id: string | null;
    started_at: string | null;
    finished_at: string | null;
    endpoint: string | null;
    host: string | null;
    exit_code: number | null;
    summary: string | null;
  }[];
  /** Each active symbol's last check, stalest first (times as DuckDB text, UTC). */
  checks: {
    symbol: string;
    checked_at: string | null;
    attempted_at: string | null;
    outcome: string | null;
    stale: boolean;
  }[];
}

const statusTotalsRow = z.object({ rows: count, current: count, retired: count });
const breakdownRow = z.object({ exchange: z.string(), type: z.string(), symbols: count });
const runRow = z.object({
  run_id: z.string().nullable(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
  endpoint: z.string().nullable(),
  host: z.string().nullable(),
  exit_code: count.nullable(),
  summary: z.string().nullable(),
});
const checkRow = z.object({
  symbol: z.string(),
  checked_at: z.string().nullable(),
  attempted_at: z.string().nullable(),
  outcome: z.string().nullable(),
  stale: z.boolean(),
});

/** A Date as a DuckDB TIMESTAMP literal (UTC, milliseconds). */
function timestampText(date: Date): string {
  return date.toISOString().replace("T", " ").replace("Z", "");
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

/** Creates `table` with `schema` and fills it with `values` through an appender. */
async function createStagingTable(
  connection: DuckDBConnection,
  table: string,
  schema: readonly Column[],
  values: readonly Record<string, unknown>[],
): Promise<void> {
  await connection.run(createTableSql(table, schema));
  const appender = await connection.createAppender(table);
  try {
    for (const row of values) {
      for (const column of schema) append(appender, column, row[column.name]);
      appender.endRow();
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
}

/** Whether the catalog file exists; a path that is not a regular file is an error. */
async function fileExists(path: string): Promise<boolean> {
  try {
    await fileIdentity(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/** The catalog and its exchanges table; see the module doc. */
export class Catalog implements AsyncDisposable {
  /** Absolute path of symbols.parquet. */
  readonly path: string;
  /** Absolute path of exchanges.parquet (beside it). */
  readonly exchangesPath: string;
  /** Absolute path of the run log (beside it; `symbols.runs.parquet` for `symbols.parquet`). */
  readonly runLogPath: string;
  private readonly db: SandboxedDb;
  private loaded = false;
  private engineVersion: string | undefined;
  /** The identity of the catalog file whose checksum last passed. */
  private checkedVersion: string | undefined;
  private before: CatalogCounts = { rows: 0, current: 0 };
  /**
   * What the last plan() found: symbol changes (repairs included), exchange
   * rows to upsert, and the run timestamp they were planned at.
   */
  private planned: { symbols: number; exchanges: number; runAt: string } | null = null;

  private constructor(path: string, db: SandboxedDb) {
    this.path = path;
    this.exchangesPath = join(dirname(path), EXCHANGES_FILE);
    this.runLogPath = join(dirname(path), runLogName(basename(path)));
    this.db = db;
  }

  /**
   * Opens a sandboxed DuckDB for the catalog at `path` (absolute, in a real
   * folder): the only folder it may touch. `exchanges.parquet` and the run
   * log are beside it.
   */
  static async open(path: string): Promise<Catalog> {
    return new Catalog(path, await openSandboxedDb(dirname(path)));
  }

  /** The sandboxed database's one connection. */
  private get connection(): DuckDBConnection {
    return this.db.connection;
  }

  /**
   * Loads `path` as the table (or view) `table`, empty when the file is
   * missing; resolves to whether it existed. An unreadable file is an
   * {@linkcode IngestError} naming `label`.
   *
   * @internal
   */
  private async loadTable(table: string, path: string, schema: readonly Column[], label: string) {
    for (const sql of dropRelationSql(table)) await this.connection.run(sql);
    if (!(await fileExists(path))) {
      await this.connection.run(emptyViewSql(table, schema));
      return false;
    }
    try {
      const found = await openParquetView(
        this.connection,
        table,
        path,
        schema,
        table === "catalog",
      );
      // Scanning one column now catches most damage before anything is
      // merged (the write reads every row and stops at any damage left); a
      // foreign file's values that do not fit our types fail here too.
      await this.connection.run(countRowsSql(table));
      const casts = castColumns(schema, found);
      if (casts.length) await this.connection.run(checkCastsSql(table, casts));
      if (table === "catalog") await this.verifyChecksum(path);
    } catch (err) {
      throw unreadable(label, path, err);
    }
    return true;
  }

  /** The DuckDB version computing checksums (asked once). */
  private async engine(): Promise<string> {
    this.engineVersion ??= await engineVersion(this.connection);
    return this.engineVersion;
  }

  /**
   * A catalog this tool wrote carries a checksum of its rows; rows that no
   * longer match it make it unreadable ({@linkcode verifyRowsChecksum}, the
   * one check `show` makes too).
   */
  private async verifyChecksum(path: string): Promise<void> {
    // A run loads the catalog more than once (before the fetch, then under
    // the lock): a file version already checked is not read again.
    const version = await fileIdentity(path);
    if (version === this.checkedVersion) return;
    if (await verifyRowsChecksum(this.connection, path, () => this.engine()) === "verified") {
      this.checkedVersion = version;
    }
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
      [counts] = await queryRows(this.connection, CATALOG_COUNTS, countsRow);
    } catch (err) {
      throw unreadable("catalog", this.path, err);
    }
    this.before = counts;
    this.loaded = true;
    this.planned = null;
    return { ...counts, exists };
  }

  /** Every symbol with a current row, retired ones included, sorted (one column). */
  async currentSymbols(): Promise<string[]> {
    this.mustBeLoaded();
    const reader = await this.connection.runAndReadAll(CURRENT_SYMBOLS);
    return z.array(z.string()).parse(reader.getColumnsJS()[0] ?? []);
  }

  /**
   * Symbols whose current row is active, sorted. Read as one column (no
   * object per row): a catalog may hold millions of symbols.
   */
  async activeSymbols(): Promise<string[]> {
    this.mustBeLoaded();
    const reader = await this.connection.runAndReadAll(ACTIVE_SYMBOLS);
    return z.array(z.string()).parse(reader.getColumnsJS()[0] ?? []);
  }

  /**
   * Stages this run's records and definite not-founds and computes the SCD2
   * diff at the run timestamp `options.now` (default: now); writes nothing.
   * A fetched symbol whose current version starts after that is left out of
   * the diff and listed in `skewed`.
   */
  async plan(
    fetched: readonly FetchedRecord[],
    notFound: readonly string[],
    options: { retireNotFound: boolean; now?: Date },
  ): Promise<MergePlan> {
    const runAt = timestampText(options.now ?? new Date());
    this.mustBeLoaded();
    const incoming = fetched.map(({ record, defaults }) => ({
      ...record,
      default_base: defaults.base,
      default_country: defaults.country,
      default_timezone: defaults.timezone,
      default_session: defaults.session,
    }));
    await createStagingTable(this.connection, "incoming", INCOMING_SCHEMA, incoming);
    await createStagingTable(
      this.connection,
      "not_found",
      [{ name: "symbol", type: "VARCHAR" }],
      notFound.map((symbol) => ({ symbol })),
    );
    const exchanges = [...new Set(fetched.map((f) => f.record.exchange))].map((e) => ({
      ...exchangeRow(e),
    }));
    const exchangeColumns = EXCHANGES_SCHEMA.filter((c) => c.name !== "updated_at");
    await createStagingTable(this.connection, "incoming_exchanges", exchangeColumns, exchanges);
    await this.connection.run(COMPUTE_CHANGES.currentRows);
    await this.connection.run(COMPUTE_CHANGES.skewed, [runAt]);
    await this.connection.run(COMPUTE_CHANGES.proposed, [options.retireNotFound]);
    await this.connection.run(COMPUTE_CHANGES.changes);
    await this.connection.run(EXCHANGE_CHANGES);
    const [counts] = await queryRows(this.connection, CHANGE_COUNTS, changeCountsRow);
    const [exchangeCounts] = await queryRows(
      this.connection,
      EXCHANGE_CHANGE_COUNT,
      z.object({ n: count }),
    );
    await this.connection.run(DUPLICATE_CURRENT.table);
    const repaired = (await queryRows(this.connection, DUPLICATE_CURRENT.symbols, symbolRow)).map((
      r,
    ) => r.symbol);
    const skewed = (await queryRows(this.connection, SKEWED_SYMBOLS, skewedRow)).map((r) => ({
      symbol: r.symbol,
      validFrom: r.valid_from,
    }));
    this.planned = {
      symbols: counts.new + counts.changed + counts.retired + repaired.length,
      exchanges: exchangeCounts.n,
      runAt,
    };
    const bySymbol = new Map<string, SymbolChange>();
    for (const row of await queryRows(this.connection, FIELD_CHANGES, fieldChangeRow)) {
      let change = bySymbol.get(row.symbol);
      if (!change) {
        bySymbol.set(row.symbol, change = { symbol: row.symbol, action: row.action, fields: [] });
      }
      change.fields.push({ field: row.field, old: row.old, new: row.new });
    }
    const news = await queryRows(this.connection, NEW_SYMBOLS, symbolRow);
    for (const { symbol } of news) bySymbol.set(symbol, { symbol, action: "new", fields: [] });
    const changes = [...bySymbol.values()].sort((a, b) => a.symbol < b.symbol ? -1 : 1);
    return { ...counts, changes, runAt, skewed, repaired };
  }

  /**
   * Loads the run log (see `RUN_LOG_SCHEMA` in sql.ts), empty when it does
   * not exist yet; resolves to whether it existed. An unreadable one is an
   * {@linkcode IngestError} (and is never written over).
   */
  async loadRunLog(): Promise<boolean> {
    return await this.loadTable("runlog", this.runLogPath, RUN_LOG_SCHEMA, "run log");
  }

  /**
   * Writes the run log with `run` added (see `WRITE_RUN_LOG` in sql.ts)
   * through `target`, after {@linkcode Catalog.loadRunLog}; the caller
   * commits what this returns. On failure nothing stays staged.
   */
  async stageRunLog<S>(target: StageTarget<S>, run: RunRecord): Promise<S> {
    await createStagingTable(this.connection, "run_checks", RUN_CHECKS_SCHEMA, run.checks);
    return await target.stage("runlog", async (temp) => {
      await this.connection.run(WRITE_RUN_LOG, [
        timestampText(run.finishedAt),
        temp,
        run.runId,
        timestampText(run.startedAt),
        run.endpoint,
        run.host,
        String(run.exitCode),
        JSON.stringify(run.summary),
      ]);
    });
  }

  /**
   * What `meta-ingest status` shows, from the loaded catalog and run log:
   * sizes, current symbols by exchange and type, the newest `runs` runs,
   * and each active symbol's last check (stale when checked before
   * `staleBefore`, or never).
   */
  async status(options: { runs: number; staleBefore: Date }): Promise<CatalogStatus> {
    this.mustBeLoaded();
    const [totals] = await queryRows(this.connection, STATUS_TOTALS, statusTotalsRow);
    const breakdown = await queryRows(this.connection, STATUS_BREAKDOWN, breakdownRow);
    const runs = await queryRows(this.connection, STATUS_RUNS, runRow, [String(options.runs)]);
    const reader = await this.connection.runAndReadAll(STATUS_CHECKS, {
      stale: timestampText(options.staleBefore),
    });
    const checks = z.array(checkRow).parse(reader.getRowObjectsJS());
    return { ...totals, breakdown, runs, checks };
  }

  /** True when the planned merge changes symbols.parquet or exchanges.parquet. */
  hasWork(): boolean {
    const planned = this.mustBePlanned();
    return planned.symbols + planned.exchanges > 0;
  }

  /**
   * Writes the planned merge's new files (symbols.parquet and
   * exchanges.parquet, whichever changed) through `target`, which gives
   * each its temp path (lib/store's `CatalogStore.stage`): nothing is
   * replaced here, the caller commits what this returns. The new catalog is
   * read back, every row, and must match its checksum. New versions start
   * at the run timestamp of {@linkcode plan} (or `now`, which must not be
   * before any changed symbol's current version). On failure whatever was
   * staged is discarded and the error is an {@linkcode IngestError}.
   */
  async stage<S>(target: StageTarget<S>, now?: Date): Promise<StagedMerge<S>> {
    this.mustBeLoaded();
    const staged: S[] = [];
    try {
      return await this.stageFiles(target, staged, now);
    } catch (err) {
      await target.discard(staged);
      if (err instanceof IngestError) throw err;
      throw new IngestError(
        "catalog",
        `cannot write the catalog ${this.path}: ${errorMessage(err).split("\n")[0]}`,
        "the previous version is intact; check free space and permissions of its folder",
      );
    }
  }

  /** {@linkcode Catalog.stage} without its clean-up and error wording. */
  private async stageFiles<S>(
    target: StageTarget<S>,
    staged: S[],
    now: Date | undefined,
  ): Promise<StagedMerge<S>> {
    const planned = this.mustBePlanned();
    const ts = now ? timestampText(now) : planned.runAt;
    const [late] = await queryRows(this.connection, CHANGES_AFTER, z.object({ n: count }), [ts]);
    if (late.n > 0) {
      throw new Error(`${late.n} changed symbols have a current version starting after ${ts}`);
    }
    let after = this.before;
    if (planned.symbols > 0) {
      staged.push(
        await target.stage("symbols", async (temp) => {
          const [{ checksum }] = await queryRows(this.connection, MERGED_CHECKSUM, checksumRow, [
            ts,
          ]);
          await this.connection.run(WRITE_CATALOG, [ts, temp, checksum, await this.engine()]);
          // Read the new file back, every row, before it may replace the old one.
          const [written] = await queryRows(this.connection, FILE_SUMMARY, summaryRow, [temp]);
          if (written.checksum !== checksum) {
            throw new Error(`the written file reads back differently (${written.checksum})`);
          }
          after = { rows: written.rows, current: written.current };
        }),
      );
    }
    if (planned.exchanges > 0) {
      staged.push(
        await target.stage("exchanges", async (temp) => {
          await this.connection.run(WRITE_EXCHANGES, [ts, temp]);
        }),
      );
    }
    return { staged, counts: after };
  }

  /** Throws unless {@linkcode Catalog.load} ran. */
  private mustBeLoaded(): void {
    if (!this.loaded) throw new Error("Catalog.load() must come first");
  }

  /** Throws unless {@linkcode Catalog.plan} ran; returns what it found. */
  private mustBePlanned(): { symbols: number; exchanges: number; runAt: string } {
    if (!this.planned) throw new Error("Catalog.plan() must come first");
    return this.planned;
  }

  /** Closes the database; safe to call twice. */
  close(): void {
    this.db.close();
  }

  /** Closes the database (for `await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}
