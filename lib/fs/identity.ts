/**
 * A file version's identity, to tell whether a path still names the bytes
 * that were read.
 *
 * @module
 */
import { IngestError } from "../core/errors.ts";

/**
 * A file version's identity: inode, device, size, mtime and ctime. Equal
 * identities mean the same bytes (a rename swaps the inode; a rewrite in
 * place moves the times). A path that is not a regular file is an
 * {@linkcode IngestError}; a missing one throws `Deno.errors.NotFound`.
 *
 * @example
 * ```ts
 * import { fileIdentity } from "./identity.ts";
 * const before = await fileIdentity("/p/data/lakehouse/symbols.parquet");
 * ```
 */
export async function fileIdentity(path: string): Promise<string> {
  const info = await Deno.stat(path);
  if (!info.isFile) {
    throw new IngestError(
      "catalog",
      `catalog path ${path} is not a regular file`,
      "point --catalog-path at a .parquet file",
    );
  }
  return [info.ino, info.dev, info.size, info.mtime?.getTime(), info.ctime?.getTime()].join(":");
}

/**
 * The file's identity, or null when nothing is at `path`.
 *
 * @example
 * ```ts
 * import { identityOrNull } from "./identity.ts";
 * await identityOrNull("/p/no/such/file"); // null
 * ```
 */
export async function identityOrNull(path: string): Promise<string | null> {
  try {
    return await fileIdentity(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}
