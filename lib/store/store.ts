/**
 * Where the catalog lives: one narrow seam between the merge and the place
 * its files are kept (delta-rs's `LogStore` is the model).
 *
 * A {@linkcode CatalogStore} knows three things and nothing about Parquet,
 * history or checksums:
 * - read the newest version of the catalog's files into local paths that
 *   DuckDB may read, with an identity for each (a file's inode and times, an
 *   object's ETag);
 * - write new files conditionally on those identities: a write whose base is
 *   no longer the newest version is a {@linkcode CommitOutcome} of kind
 *   `conflict`, never a lost update;
 * - keep a rollback point (`<name>.bak`) of every file it replaces.
 *
 * Two implementations: the local file guarded by its lock file
 * (lib/store/local.ts), and an object in an S3 store guarded by its ETag
 * (lib/store/object.ts). The merge (lib/catalog), `show` and the report
 * work on the local paths and never ask which one they have.
 *
 * @module
 */

/** The files a catalog keeps: the catalog itself, the exchanges table beside it, its run log. */
export type StoredFile = "symbols" | "exchanges" | "runlog";

/** Every {@linkcode StoredFile}, in the order a commit writes them (the catalog last but the log). */
export const STORED_FILES: readonly StoredFile[] = ["exchanges", "symbols", "runlog"];

/**
 * The identity of each file as read: a file's inode, size and times, or an
 * object's ETag; null when the file does not exist.
 */
export type StoreVersion = Readonly<Record<StoredFile, string | null>>;

/** A new version of one file, written to a local temp path, waiting for its commit. */
export interface StagedFile {
  /** Which file it replaces. */
  readonly file: StoredFile;
  /** The local temp path holding it. */
  readonly temp: string;
}

/** How a commit ended. */
export type CommitOutcome =
  | {
    kind: "written";
    /** Files replaced, in order. */
    written: StoredFile[];
    /** Set when a rollback point could not be kept where it usually is (it was kept elsewhere). */
    warnings: string[];
  }
  | {
    kind: "conflict";
    /** The file someone else changed since it was read; nothing from it on was written. */
    file: StoredFile;
    /** Files replaced before the conflict (their new versions are in place). */
    written: StoredFile[];
    /** As for `written`. */
    warnings: string[];
  };

/** Options for {@linkcode CatalogStore.exclusive}. */
export interface ExclusiveOptions {
  /**
   * How long to wait for other writers, in milliseconds.
   * @default {60000}
   */
  timeoutMs?: number;
  /**
   * Told, in words, about waiting and take-overs.
   * @default {undefined}
   */
  onEvent?: (message: string) => void;
  /**
   * Stops waiting.
   * @default {undefined}
   */
  signal?: AbortSignal;
}

/** What {@linkcode CatalogStore.preflight} checks. */
export interface PreflightOptions {
  /** The run will write: the files' place must be writable, the lock's place usable. */
  write: boolean;
}

/** Where a catalog lives; see the module doc. */
export interface CatalogStore extends AsyncDisposable {
  /** The location as people name it: the path as given, or `s3://bucket/key`. */
  readonly label: string;
  /** `file` for a local catalog, `s3` for an object in an S3 store. */
  readonly kind: "file" | "s3";
  /**
   * The local folder holding {@linkcode CatalogStore.localPath}'s files: the
   * one folder the merge's DuckDB may touch.
   */
  readonly folder: string;
  /** The local path DuckDB reads a file at (and next to which new versions are staged). */
  localPath(file: StoredFile): string;
  /**
   * Checks, before any request to TradingView, what can be checked: the
   * place is usable, and (for a write) writable; a store that answers and
   * credentials that work. Throws an IngestError saying what is wrong.
   */
  preflight(options: PreflightOptions): Promise<void>;
  /**
   * Keeps other writers out while it is held, where the store needs that
   * (the local catalog's lock files); a no-op for a store with conditional
   * writes. Release it after the commit.
   */
  exclusive(options?: ExclusiveOptions): Promise<AsyncDisposable>;
  /**
   * Makes the {@linkcode CatalogStore.localPath} of `files` (default: all)
   * the newest version (a no-op for local files; a download for objects);
   * resolves to their identities (null for a file not asked for).
   */
  read(files?: readonly StoredFile[]): Promise<StoreVersion>;
  /** True when the files are still the version `read` returned (the local paths did not change under a reader). */
  unchanged(version: StoreVersion): Promise<boolean>;
  /**
   * Has `write` fill a new version of `file` at a local temp path, and
   * makes it ready to commit (fsynced). On failure nothing is left behind.
   */
  stage(file: StoredFile, write: (temp: string) => Promise<void>): Promise<StagedFile>;
  /** Drops staged files that will not be committed. */
  discard(staged: readonly StagedFile[]): Promise<void>;
  /**
   * Replaces each staged file, in {@linkcode STORED_FILES} order, provided
   * that file is still at `base`; the version replaced becomes
   * `<name>.bak`. Stops at the first conflict (the files before it stay
   * written). Staged files not written are discarded.
   */
  commit(staged: readonly StagedFile[], base: StoreVersion): Promise<CommitOutcome>;
}

/**
 * Orders staged files as a commit writes them (see {@linkcode STORED_FILES}).
 *
 * @example
 * ```ts
 * import { commitOrder } from "./store.ts";
 * commitOrder([{ file: "symbols", temp: "/t/a" }, { file: "exchanges", temp: "/t/b" }])
 *   .map((s) => s.file); // ["exchanges", "symbols"]
 * ```
 */
export function commitOrder(staged: readonly StagedFile[]): StagedFile[] {
  return [...staged].sort((a, b) => STORED_FILES.indexOf(a.file) - STORED_FILES.indexOf(b.file));
}
