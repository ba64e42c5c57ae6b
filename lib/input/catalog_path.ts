/**
 * Where a catalog may live: inside the project root, at a path DuckDB reads
 * as exactly that file, with a name that is not one of the tool's own files.
 *
 * Every command that reads or writes a catalog resolves its path here
 * ({@linkcode resolveCatalogPath}), so the rules are written once.
 *
 * @example
 * ```ts
 * import { resolveCatalogPath } from "./catalog_path.ts";
 * const path = await resolveCatalogPath("data/lakehouse/symbols.parquet", Deno.cwd());
 * ```
 *
 * @module
 */
import { basename } from "node:path";
import { IngestError } from "../core/errors.ts";
import { GLOB_CHARACTERS } from "../catalog/globs.ts";
import { resolveWritableInside } from "../fs/paths.ts";
import { EXCHANGES_FILE, RUN_LOG_SUFFIX } from "../record/companions.ts";

export { GLOB_CHARACTERS };

/**
 * Endings of the files the tool keeps beside a catalog (and beside
 * `exchanges.parquet`): the run log (`<stem>.runs.parquet`), the lock (`<name>.lock`, lib/fs/lock.ts via
 * lib/job.ts), the backup (`<name>.bak`) and temp files
 * (`.<name>.<pid>.<hex>.tmp`, also for the backup), both lib/fs/atomic.ts.
 */
export const COMPANION_SUFFIXES: readonly string[] = [
  ".lock",
  ".bak",
  ".tmp",
  ".probe",
  RUN_LOG_SUFFIX,
];

/**
 * Refuses a path (absolute, as DuckDB will get it) that DuckDB would read as
 * a glob: a usage error naming the path. The read-only commands use this
 * alone, since a companion name (a `.bak` to inspect) is fine to read.
 *
 * @example
 * ```ts
 * import { checkNotGlob } from "./catalog_path.ts";
 * checkNotGlob("/p/data/symbols.parquet", "data/symbols.parquet"); // fine
 * ```
 */
export function checkNotGlob(path: string, given: string, flag = "--catalog-path"): void {
  const glob = GLOB_CHARACTERS.find((c) => path.includes(c));
  if (glob === undefined) return;
  const where = given.includes(glob) ? "" : ` (it resolves to ${path})`;
  throw new IngestError(
    "usage",
    `${flag} ${given} contains '${glob}'${where}, which DuckDB reads as a file pattern, so another file could be read in its place`,
    `use a path without ${GLOB_CHARACTERS.map((c) => `'${c}'`).join(", ")}`,
  );
}

/**
 * Refuses a catalog path (absolute, as DuckDB will get it) that DuckDB would
 * read as a glob, whose name collides with a file the tool keeps beside a
 * catalog (`exchanges.parquet`, or any name ending in
 * {@linkcode COMPANION_SUFFIXES}), or that does not end in `.parquet` (any
 * case: the tool writes Parquet whatever the name says). Throws an {@linkcode IngestError} of kind
 * `usage` (exit 2) naming the path and the rule.
 *
 * @example
 * ```ts
 * import { checkCatalogPath } from "./catalog_path.ts";
 * checkCatalogPath("/p/data/symbols.parquet", "data/symbols.parquet"); // fine
 * // checkCatalogPath("/p/data/symbols?.parquet", "data/symbols?.parquet"); // throws
 * ```
 */
export function checkCatalogPath(path: string, given: string, flag = "--catalog-path"): void {
  checkNotGlob(path, given, flag);
  const name = basename(path);
  const lower = name.toLowerCase();
  if (lower === EXCHANGES_FILE) {
    throw new IngestError(
      "usage",
      `${flag} cannot be named ${EXCHANGES_FILE}: that is the exchanges table kept beside the catalog`,
      "use another name, e.g. symbols.parquet",
    );
  }
  const suffix = COMPANION_SUFFIXES.find((s) => lower.endsWith(s));
  if (suffix !== undefined) {
    throw new IngestError(
      "usage",
      `${flag} ${given} ends in '${suffix}', a name meta-ingest uses for its own files beside a catalog (lock, backup, temp files, run log)`,
      "use a name like symbols.parquet",
    );
  }
  if (!lower.endsWith(".parquet")) {
    throw new IngestError(
      "usage",
      `${flag} ${given} does not end in .parquet: the catalog is written as a Parquet file`,
      "use a name like symbols.parquet",
    );
  }
}

/**
 * Resolves a catalog path given by the user: inside `root` with symlinks
 * followed (lib/fs/paths.ts), then checked with {@linkcode checkCatalogPath}.
 * Returns the absolute real path.
 *
 * @example
 * ```ts
 * import { resolveCatalogPath } from "./catalog_path.ts";
 * await resolveCatalogPath("data/lakehouse/symbols.parquet", "/p"); // "/p/data/lakehouse/symbols.parquet"
 * ```
 */
export async function resolveCatalogPath(
  given: string,
  root: string,
  flag = "--catalog-path",
): Promise<string> {
  const path = await resolveWritableInside(given, root, "catalog path");
  checkCatalogPath(path, given, flag);
  return path;
}
