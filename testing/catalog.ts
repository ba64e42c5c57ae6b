/**
 * Helpers for catalog tests: records from response bodies, merges as a run
 * would do them, and reading Parquet files back with DuckDB.
 *
 * @module
 */
import { DuckDBInstance } from "@duckdb/node-api";
import { Catalog, type CatalogCounts, NotDurableWrite } from "../lib/catalog/catalog.ts";
import { NotDurableError } from "../lib/fs/atomic.ts";
import { LocalStore } from "../lib/store/local.ts";
import type { FetchedRecord } from "../lib/record/record.ts";
import { toRecord } from "../lib/record/tradingview.ts";
import { mirrorBody } from "./mirror.ts";

/** A fetched record for `symbol`: the mirror's body with `changes` applied. */
export function fetched(symbol: string, changes: Record<string, unknown> = {}): FetchedRecord {
  const body = {
    ...(mirrorBody(symbol) ?? { pricescale: 100, minmov: 1, type: "stock" }),
    ...changes,
  };
  const result = toRecord(symbol, body);
  if (!result.ok) throw new Error(result.reason);
  return { record: result.record, defaults: result.defaults };
}

/** One merge as a run does it (load, plan, write if needed). */
export async function mergeOnce(
  path: string,
  records: FetchedRecord[],
  options: { notFound?: string[]; retireNotFound?: boolean; now?: Date } = {},
) {
  await using catalog = await Catalog.open(path);
  await catalog.load();
  const plan = await catalog.plan(records, options.notFound ?? [], {
    retireNotFound: options.retireNotFound ?? false,
    now: options.now,
  });
  const wrote = catalog.hasWork();
  if (wrote) await writeMerge(catalog);
  return { plan, wrote };
}

/**
 * Writes a planned merge to the catalog's own local files, as a run does
 * under its lock (the caller serialises writers): stage through a
 * LocalStore, commit. A commit whose folder fsync failed is a
 * NotDurableWrite, as in a run. Returns the new size.
 */
export async function writeMerge(catalog: Catalog, now?: Date): Promise<CatalogCounts> {
  await using store = new LocalStore(catalog.path);
  const base = await store.read();
  const { staged, counts } = await catalog.stage(store, now);
  try {
    const outcome = await store.commit(staged, base);
    if (outcome.kind === "conflict") throw new Error(`conflict on ${outcome.file}`);
  } catch (err) {
    if (err instanceof NotDurableError) throw new NotDurableWrite(err, counts);
    throw err;
  }
  return counts;
}

/** Runs a query with DuckDB (unsandboxed: test-side only) and returns plain rows. */
export async function query(
  sql: string,
  params: string[] = [],
): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(":memory:");
  const connection = await instance.connect();
  try {
    const reader = params.length
      ? await connection.runAndReadAll(sql, params)
      : await connection.runAndReadAll(sql);
    return reader.getRowObjectsJS().map((row) =>
      Object.fromEntries(
        Object.entries(row).map(([k, v]) => [k, typeof v === "bigint" ? Number(v) : v]),
      )
    );
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** All rows of a catalog file, ordered by symbol and valid_from. */
export function catalogRows(path: string): Promise<Record<string, unknown>[]> {
  return query(
    "SELECT *, CAST(valid_from AS VARCHAR) AS vf, CAST(valid_until AS VARCHAR) AS vu FROM read_parquet($1) ORDER BY symbol, valid_from NULLS FIRST",
    [path],
  );
}

/** Current rows of a catalog file, by symbol. */
export async function currentRows(path: string): Promise<Map<string, Record<string, unknown>>> {
  const rows = await query(
    "SELECT * FROM read_parquet($1) WHERE valid_until IS NULL ORDER BY symbol",
    [path],
  );
  return new Map(rows.map((r) => [r.symbol as string, r]));
}
