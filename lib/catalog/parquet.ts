/**
 * Opening a Parquet file as one of our tables, the same way for the merge
 * (catalog.ts) and the read side (reader.ts): its columns read, cast to our
 * schema through a streamed view ({@linkcode parquetViewSql}), its rows
 * checked against the checksum written with them, and one error for a file
 * that cannot be read.
 *
 * @module
 */
import type { DuckDBConnection } from "@duckdb/node-api";
import { basename } from "node:path";
import { z } from "zod";
import { errorMessage, IngestError } from "../core/errors.ts";
import {
  CHECKSUM_VERSIONS,
  type Column,
  DESCRIBE_PARQUET,
  ENGINE_VERSION,
  fileChecksumSql,
  parquetViewSql,
  setPathVariableSql,
  STORED_CHECKSUM,
} from "./sql.ts";

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
  const found = await describeParquet(connection, path, requireSymbol);
  const variable = `${view}_path`;
  await connection.run(setPathVariableSql(variable), [path]);
  await connection.run(parquetViewSql(view, variable, schema, found));
  return found;
}

/** Whether `path` is a regular file we may see (false when it is not, or not ours to look at). */
function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/**
 * The columns of the Parquet file at `path` and their types. A file without
 * a `symbol` column is refused when `requireSymbol` is set. Throws whatever
 * DuckDB throws for a file it cannot read.
 *
 * @internal (for lib/catalog: it takes `@duckdb/node-api`'s connection)
 */
export async function describeParquet(
  connection: DuckDBConnection,
  path: string,
  requireSymbol: boolean,
): Promise<Map<string, string>> {
  const columns = await queryRows(connection, DESCRIBE_PARQUET, describeRow, [path]);
  const found = new Map(columns.map((c) => [c.column_name, c.column_type]));
  if (requireSymbol && !found.has("symbol")) throw new Error("it has no 'symbol' column");
  return found;
}

/**
 * The error for a file that could not be read (and is therefore never
 * written over): `label` names it ("catalog", "exchanges table"). Its advice
 * names `<file>.bak` only when that file exists.
 *
 * @example
 * ```ts
 * import { unreadable } from "./parquet.ts";
 * unreadable("catalog", "/p/symbols.parquet", new Error("not Parquet")).message;
 * // "cannot read catalog /p/symbols.parquet: not Parquet"
 * ```
 */
export function unreadable(label: string, path: string, err: unknown): IngestError {
  const backup = `${basename(path)}.bak`;
  return new IngestError(
    "catalog",
    `cannot read ${label} ${path}: ${errorMessage(err).split("\n")[0]}`,
    isFile(`${path}.bak`)
      ? `it was left untouched; restore ${backup} (the previous version) or move the file away`
      : `it was left untouched; move it away or restore it from a copy of your own: there is no ${backup}`,
  );
}

const storedRow = z.object({ checksum: z.string().nullable(), engine: z.string().nullable() });
const checksumRow = z.object({ checksum: z.string() });

/** What {@linkcode verifyRowsChecksum} found. */
export type ChecksumCheck =
  /** The rows match the checksum written with them. */
  | "verified"
  /** No checksum to check: none written (an older or foreign file), or of an unknown version. */
  | "absent"
  /** Written by another DuckDB version, whose `hash()` differs: not checkable. */
  | "other-engine";

/**
 * The DuckDB version computing checksums on `connection`.
 *
 * @internal (for lib/catalog: it takes `@duckdb/node-api`'s connection)
 */
export async function engineVersion(connection: DuckDBConnection): Promise<string> {
  return (await queryRows(connection, ENGINE_VERSION, z.object({ engine: z.string() })))[0].engine;
}

/**
 * The checksum this tool wrote with the rows of the Parquet file at `path`
 * (`CHECKSUM_KEY` in its key-value metadata), when it can be checked: null
 * with the reason when there is none (an older or foreign file, or a
 * checksum version this tool does not know) or when another DuckDB
 * version computed it (`hash()` differs between versions; `engine` is this
 * one's).
 *
 * @internal (for lib/catalog: it takes `@duckdb/node-api`'s connection)
 */
export async function storedChecksum(
  connection: DuckDBConnection,
  path: string,
  engine: () => Promise<string>,
): Promise<
  | { expected: string; version: string; status: "verified" }
  | { expected: null; version: null; status: ChecksumCheck }
> {
  const [stored] = await queryRows(connection, STORED_CHECKSUM, storedRow, [path]);
  const version = Object.keys(CHECKSUM_VERSIONS).find((v) => stored.checksum?.startsWith(v));
  if (stored.checksum === null || version === undefined) {
    return { expected: null, version: null, status: "absent" };
  }
  if (stored.engine !== null && stored.engine !== await engine()) {
    return { expected: null, version: null, status: "other-engine" };
  }
  return { expected: stored.checksum, version, status: "verified" };
}

/**
 * The one comparison of a file's rows with their checksum: throws an Error
 * saying the rows do not match (callers wrap it with {@linkcode unreadable},
 * so the merge, a dry run, probe and `show` refuse such a file with the same
 * words and exit code).
 *
 * @example
 * ```ts
 * import { checkRowsChecksum } from "./parquet.ts";
 * checkRowsChecksum("v2:2:42", "v2:2:42"); // fine
 * ```
 */
export function checkRowsChecksum(expected: string, actual: string): void {
  if (expected !== actual) {
    throw new Error(
      "its rows do not match the checksum written with them (the file was damaged or changed after it was written)",
    );
  }
}

/**
 * Checks the rows of the Parquet file at `path` against the checksum this
 * tool wrote with them ({@linkcode storedChecksum}), reading every row
 * (`fileChecksumSql`, in the version it was written in); {@linkcode checkRowsChecksum} decides. Resolves to
 * what it found: `verified`, or why there was nothing to check (such a file
 * is accepted).
 *
 * @internal (for lib/catalog: it takes `@duckdb/node-api`'s connection)
 */
export async function verifyRowsChecksum(
  connection: DuckDBConnection,
  path: string,
  engine: () => Promise<string>,
): Promise<ChecksumCheck> {
  const stored = await storedChecksum(connection, path, engine);
  if (stored.expected === null) return stored.status;
  const [actual] = await queryRows(
    connection,
    fileChecksumSql(stored.version),
    checksumRow,
    [path],
  );
  checkRowsChecksum(stored.expected, actual.checksum);
  return "verified";
}
