/**
 * Where a command's catalog lives: `--catalog-path` read once, for every
 * command, into a {@linkcode CatalogStore}.
 *
 * Promises: {@linkcode openStore} answers a local store for a path (resolved
 * inside the project root with the path rules of lib/input/catalog_path.ts)
 * or an object store for `s3://BUCKET/KEY.parquet` (configured from the AWS
 * variables, its work folder in the project root). Any other `scheme://` is
 * a usage error naming what is supported. It never touches the network; the
 * store's `preflight` does.
 *
 * @example
 * ```ts
 * import { openStore } from "./locate.ts";
 * await using store = await openStore("s3://cat/lake/symbols.parquet", {
 *   root: "/p",
 *   env: { AWS_ACCESS_KEY_ID: "id", AWS_SECRET_ACCESS_KEY: "secret" },
 *   purpose: "write",
 * });
 * ```
 *
 * @module
 */
import { IngestError } from "./core/errors.ts";
import { checkCatalogPath, checkNotGlob, resolveCatalogPath } from "./input/catalog_path.ts";
import { resolveWritableInside } from "./fs/paths.ts";
import { LocalStore } from "./store/local.ts";
import { ObjectStore } from "./store/object.ts";
import type { S3Env } from "./store/env.ts";
import { parseS3Uri, S3Client, type S3ClientOptions, s3Config } from "./store/s3.ts";
import type { CatalogStore } from "./store/store.ts";

/** What {@linkcode openStore} needs. */
export interface LocateOptions {
  /** The project root (real path): local paths and the work folder live in it. */
  root: string;
  /** The AWS variables the permission set lets the tool read. */
  env: S3Env;
  /**
   * `write` for ingest (the catalog rules: no companion names), `read` for
   * show, status and probe (a `.bak` may be read).
   */
  purpose: "write" | "read";
  /**
   * S3 client tuning (tests: short timeouts).
   * @default {{}}
   */
  s3?: S3ClientOptions;
}

/** The scheme of a `scheme://...` location, or null for a plain path. */
function schemeOf(given: string): string | null {
  return /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(given)?.[1] ?? null;
}

/**
 * Whether `--catalog-path` names a `scheme://` location (an S3 store, or a
 * scheme {@linkcode openStore} refuses) rather than a local path.
 *
 * @example
 * ```ts
 * import { isStoreLocation } from "./locate.ts";
 * isStoreLocation("s3://cat/lake/symbols.parquet"); // true
 * isStoreLocation("data/lakehouse/symbols.parquet"); // false
 * ```
 */
export function isStoreLocation(given: string): boolean {
  return schemeOf(given) !== null;
}

/**
 * A read-only command's first steps on its store: the read-only preflight,
 * then the newest version read. Throws `missing` (by default "catalog not
 * found: GIVEN") when the store holds no catalog.
 *
 * @example
 * ```ts
 * import { openStore, readStore } from "./locate.ts";
 * const given = "data/lakehouse/symbols.parquet";
 * await using store = await openStore(given, { root: "/p", env: {}, purpose: "read" });
 * await readStore(store, given);
 * ```
 */
export async function readStore(
  store: CatalogStore,
  given: string,
  missing?: IngestError,
): Promise<void> {
  await store.preflight({ write: false });
  if ((await store.read()).symbols === null) {
    throw missing ?? new IngestError(
      "catalog",
      `catalog not found: ${given}`,
      "run an ingest first, or point --catalog-path at the catalog",
    );
  }
}

/**
 * Opens the store `--catalog-path` names; see the module doc.
 *
 * @example
 * ```ts
 * import { openStore } from "./locate.ts";
 * const store = await openStore("data/lakehouse/symbols.parquet", { root: "/p", env: {}, purpose: "read" });
 * store.kind; // "file"
 * ```
 */
export async function openStore(given: string, options: LocateOptions): Promise<CatalogStore> {
  const scheme = schemeOf(given);
  if (scheme === null) {
    if (options.purpose === "write") {
      return new LocalStore(await resolveCatalogPath(given, options.root), given);
    }
    const path = await resolveWritableInside(given, options.root, "catalog path");
    checkNotGlob(path, given);
    return new LocalStore(path, given);
  }
  if (scheme.toLowerCase() !== "s3") {
    throw new IngestError(
      "usage",
      `--catalog-path ${given}: ${scheme}:// is not supported`,
      "give a local path, or s3://BUCKET/KEY.parquet for an S3 store (AWS S3, R2, MinIO, Ceph)",
    );
  }
  const { bucket, key } = parseS3Uri(given);
  // The name rules of a local catalog hold for the object's name too.
  if (options.purpose === "write") checkCatalogPath(`/${key}`, given);
  const config = s3Config(options.env);
  const client = new S3Client(config, bucket, options.s3);
  return await ObjectStore.open(client, key, options.root);
}
