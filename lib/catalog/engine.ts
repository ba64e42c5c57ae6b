/**
 * Which DuckDB this process loaded, if any. Kept apart from duckdb.ts so
 * that asking does not load DuckDB's native addon.
 *
 * Promises: {@linkcode engineVersion} is null until a sandboxed DuckDB was
 * opened in this process (lib/catalog/duckdb.ts notes it), then DuckDB's
 * library version (`v1.5.6`). A run that never needed the catalog never
 * loads DuckDB, and its report says null.
 *
 * @example
 * ```ts
 * import { engineVersion } from "./engine.ts";
 * engineVersion(); // null, or "v1.5.6" once DuckDB was opened
 * ```
 *
 * @module
 */

let loaded: string | null = null;

/**
 * Records the version of the DuckDB just opened (called by duckdb.ts).
 *
 * @example
 * ```ts
 * import { noteEngineVersion } from "./engine.ts";
 * noteEngineVersion("v1.5.6");
 * ```
 */
export function noteEngineVersion(version: string): void {
  loaded = version;
}

/**
 * DuckDB's library version, or null when this process has not opened it.
 *
 * @example
 * ```ts
 * import { engineVersion } from "./engine.ts";
 * const version = engineVersion();
 * ```
 */
export function engineVersion(): string | null {
  return loaded;
}
