/**
 * The tool's name and version, as the User-Agent, the lock owner record and
 * `--version` show them. Kept equal to `version` in deno.json by a test.
 *
 * @example
 * ```ts
 * import { TOOL_NAME, VERSION } from "./version.ts";
 * console.log(`${TOOL_NAME} ${VERSION}`);
 * ```
 *
 * @module
 */

/** The tool's name. */
export const TOOL_NAME = "meta-ingest";
/** The tool's version (semver). */
export const VERSION = "0.1.0";
