/**
 * Opening a Parquet file as one of our tables, the same way for the merge
 * (catalog.ts) and the read side (reader.ts): its columns read, cast to our
 * schema through a streamed view ({@linkcode parquetViewSql}), and one error
 * for a file that cannot be read.
 *
 * @module
 */
import type { DuckDBConnection } from "@duckdb/node-api";
import { basename } from "node:path";
import { z } from "zod";
import { errorMessage, IngestError } from "../core/errors.ts";
import { type Column, DESCRIBE_PARQUET, parquetViewSql, setPathVariableSql } from "./sql.ts";

/**
 * Runs a query and returns its rows, validated against `schema`.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import { queryRows } from "./parquet.ts";
 * import { openSandboxedDb } from "./duckdb.ts";
 * await using db = await openSandboxedDb("/tmp");
 * await queryRows(db.connection, "SELECT 42 AS n", z.object({ n: z.number() })); // [{ n: 42 }]
 * ```
 *
 * @internal (for lib/catalog: it takes `@duckdb/node-api`'s connection)
 */
export async function queryRows<T>(
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

export { fileIdentity } from "../fs/identity.ts";

const describeRow = z.object({ column_name: z.string(), column_type: z.string() });

/**
 * Makes `view` read the Parquet file at `path` in `schema` (streamed: the
 * file is read by each statement that uses the view). Resolves to the
 * file's own columns and types. A file without a `symbol` column is refused
 * when `requireSymbol` is set. Throws whatever DuckDB throws for a file it
 * cannot read; callers wrap that with {@linkcode unreadable}.
 *
 * @internal (for lib/catalog: it takes `@duckdb/node-api`'s connection)
 */
export async function openParquetView(
  connection: DuckDBConnection,
  view: string,
  path: string,
  schema: readonly Column[],
  requireSymbol: boolean,
): Promise<Map<string, string>> {
  const columns = await queryRows(connection, DESCRIBE_PARQUET, describeRow, [path]);
  const found = new Map(columns.map((c) => [c.column_name, c.column_type]));
  if (requireSymbol && !found.has("symbol")) throw new Error("it has no 'symbol' column");
  const variable = `${view}_path`;
  await connection.run(setPathVariableSql(variable), [path]);
  await connection.run(parquetViewSql(view, variable, schema, found));
  return found;
}

/**
 * The error for a file that could not be read (and is therefore never
 * written over): `label` names it ("catalog", "exchanges table").
 *
 * @example
 * ```ts
 * import { unreadable } from "./parquet.ts";
 * unreadable("catalog", "/p/symbols.parquet", new Error("not Parquet")).message;
 * // "cannot read catalog /p/symbols.parquet: not Parquet"
 * ```
 */
export function unreadable(label: string, path: string, err: unknown): IngestError {
  return new IngestError(
    "catalog",
    `cannot read ${label} ${path}: ${errorMessage(err).split("\n")[0]}`,
    `it was left untouched; restore ${basename(path)}.bak or move the file away`,
  );
}
