/**
 * Writes a synthetic catalog in meta-ingest's schema, for benchmarks and
 * crash tests: `symbols` instruments with `versions` history rows each (the
 * last one current), as one set-based DuckDB statement.
 *
 * @example
 * ```ts
 * import { writeSyntheticCatalog } from "./synthetic_catalog.ts";
 * await writeSyntheticCatalog("/tmp/p/data/lakehouse/symbols.parquet", { symbols: 100_000, versions: 10 });
 * ```
 *
 * @module
 */
import { DuckDBInstance } from "@duckdb/node-api";

/** Shape of the synthetic catalog. */
export interface SyntheticOptions {
  /** Number of instruments (SYN:S000001, ...). */
  symbols: number;
  /** History rows per instrument (default 1). */
  versions?: number;
  /** Incompressible descriptions, to make the file large (default false). */
  noisy?: boolean;
}

/** Writes the catalog file (unsandboxed: a test/bench tool, not the product). */
export async function writeSyntheticCatalog(
  path: string,
  options: SyntheticOptions,
): Promise<void> {
  const instance = await DuckDBInstance.create(":memory:");
  const connection = await instance.connect();
  try {
    await connection.run(
      `COPY (
        WITH s AS (SELECT range AS i, 'SYN:S' || lpad(range::VARCHAR, 6, '0') AS symbol FROM range($1::BIGINT)),
             v AS (SELECT range AS k FROM range($2::BIGINT))
        SELECT symbol, 'SYN' AS exchange, 'B' || (i % 500) AS base, 'USD' AS quote, 'stock' AS type,
               'common' AS subtype, 'EQUITY' AS profile,
               CASE WHEN $3::BOOLEAN THEN md5(symbol || k) || md5(k || symbol) ELSE symbol || ' v' || k END AS description,
               'Finance' AS sector, 'Regional Banks' AS industry, 'United States' AS country,
               100::BIGINT AS pricescale, 1::BIGINT AS minmov, 0.01::DOUBLE AS tick_size,
               NULL::DOUBLE AS lot_size, NULL::DOUBLE AS contract_size,
               'America/New_York' AS timezone, '0930-1600' AS session, true AS active,
               TIMESTAMP '2024-01-01' + INTERVAL (k) DAY AS updated_at,
               TIMESTAMP '2024-01-01' + INTERVAL (k) DAY AS valid_from,
               CASE WHEN k = $2::BIGINT - 1 THEN NULL ELSE TIMESTAMP '2024-01-01' + INTERVAL (k + 1) DAY END AS valid_until
        FROM s, v ORDER BY symbol, k
      ) TO $4 (FORMAT parquet, COMPRESSION zstd)`,
      [String(options.symbols), String(options.versions ?? 1), options.noisy ?? false, path],
    );
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}
