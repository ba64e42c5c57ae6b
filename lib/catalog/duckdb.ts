/**
 * A DuckDB instance that cannot reach past the catalog's folder.
 *
 * DuckDB's native addon bypasses Deno's permission checks, so DuckDB is
 * sandboxed on its own: `allowed_directories` = the given folder,
 * `enable_external_access=false` (no other files, no network, no extension
 * downloads), `TimeZone=UTC` (timestamps never shift with the machine's
 * zone), no spilling to disk, bounded threads and memory, no external file
 * cache (it served bytes of a replaced catalog version to the retry of a
 * read: `tools/read_race.ts`), and then `lock_configuration=true` so no
 * later statement can undo any of it.
 *
 * @example
 * ```ts
 * import { openSandboxedDb } from "./duckdb.ts";
 * await using db = await openSandboxedDb("/p/data/lakehouse");
 * await db.connection.run("SELECT 42");
 * ```
 *
 * @module
 */
import { type DuckDBConnection, DuckDBInstance, version } from "@duckdb/node-api";
import { noteEngineVersion } from "./engine.ts";

/** Resource bounds of the sandboxed instance. */
export const DUCKDB_LIMITS = { threads: "2", memory_limit: "1GB" } as const;

/** An open, sandboxed in-memory database. */
export interface SandboxedDb extends AsyncDisposable {
  /**
   * The connection every statement runs on: `@duckdb/node-api`'s
   * `DuckDBConnection`, a type this module does not re-export.
   *
   * @internal
   */
  connection: DuckDBConnection;
  /** Closes the database; safe to call twice. */
  close(): void;
}

/**
 * Opens an in-memory DuckDB limited to `folder` (an absolute real path).
 *
 * @example
 * ```ts
 * import { openSandboxedDb } from "./duckdb.ts";
 * const db = await openSandboxedDb("/p/data");
 * db.close();
 * ```
 */
export function openSandboxedDb(folder: string): Promise<SandboxedDb> {
  return openWith("SET allowed_directories = [$1]", folder.endsWith("/") ? folder : `${folder}/`);
}

/**
 * Opens an in-memory DuckDB that may touch exactly one file (an absolute
 * real path) and nothing else, not even its folder: the read side's
 * sandbox. A path DuckDB would expand as a glob cannot reach other files
 * either, since listing the folder is refused.
 *
 * @example
 * ```ts
 * import { openFileSandboxedDb } from "./duckdb.ts";
 * const db = await openFileSandboxedDb("/p/data/lakehouse/symbols.parquet");
 * db.close();
 * ```
 */
export function openFileSandboxedDb(file: string): Promise<SandboxedDb> {
  return openWith("SET allowed_paths = [$1]", file);
}

async function openWith(allowSql: string, allowed: string): Promise<SandboxedDb> {
  const instance = await DuckDBInstance.create(":memory:", {
    ...DUCKDB_LIMITS,
    autoload_known_extensions: "false",
    autoinstall_known_extensions: "false",
    enable_external_file_cache: "false",
  });
  noteEngineVersion(version()); // for the run report (lib/catalog/engine.ts)
  let connection: DuckDBConnection;
  try {
    connection = await instance.connect();
  } catch (err) {
    instance.closeSync();
    throw err;
  }
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    connection.closeSync();
    instance.closeSync();
  };
  try {
    // allowed_directories/paths must be set before external access is switched off.
    await connection.run(allowSql, [allowed]);
    await connection.run("SET TimeZone = 'UTC'");
    await connection.run("SET temp_directory = ''");
    await connection.run("SET enable_external_access = false");
    await connection.run("SET lock_configuration = true");
  } catch (err) {
    close();
    throw err;
  }
  return {
    connection,
    close,
    [Symbol.asyncDispose]: () => Promise.resolve(close()),
  };
}
