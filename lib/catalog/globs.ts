/**
 * Which paths DuckDB would read as a pattern. Kept apart from duckdb.ts so
 * that checking a path does not load DuckDB's native addon.
 *
 * @module
 */

/**
 * Characters DuckDB's file functions expand as a glob, even in a bound
 * parameter (`*`, `**`, `?`, `[...]`; braces and backslashes are literal).
 * A catalog path holding one is refused, never read.
 *
 * @example
 * ```ts
 * import { GLOB_CHARACTERS } from "./globs.ts";
 * GLOB_CHARACTERS.some((c) => "data/symbols?.parquet".includes(c)); // true
 * ```
 */
export const GLOB_CHARACTERS: readonly string[] = ["*", "?", "["];
