/**
 * A catalog kept as an object in an S3 store, guarded by its ETag: the
 * shared {@linkcode CatalogStore}.
 *
 * Promises:
 * - Reads download each file (the catalog, `exchanges.parquet` and the run
 *   log beside it, under the same prefix) into a private work folder, where
 *   the merge's DuckDB is sandboxed; the files' identities are their ETags.
 *   The private copies never change under a reader.
 * - A commit writes each staged file with one conditional PUT (`If-Match`
 *   the ETag read, or `If-None-Match: *` for a file that did not exist), so
 *   a writer that was beaten by another gets a `conflict`, never a lost
 *   update. A PUT is atomic: the object is the old or the new version.
 * - Before the catalog or the exchanges table is replaced, the version read
 *   is copied server-side to `<key>.bak` (conditional on its ETag, and only
 *   while the key still has it): after every successful write the previous
 *   version is readable there.
 * - Nothing needs excluding: {@linkcode ObjectStore.exclusive} holds nothing.
 *   Before a run writes, its preflight proves the store honours conditional
 *   PUTs (a tiny `<key>.cas` probe object); one that ignores them is refused.
 * - The work folder (`.meta-ingest/work-<pid>-<hex>` in the project root)
 *   is removed when the store is disposed; one that a killed process left is
 *   removed by the next store opened in that root (its lock file tells a
 *   live owner from a dead one).
 *
 * Not promised: a `.bak` older than the version replaced when the store
 * ignores `x-amz-copy-source-if-match` (Ceph RGW 16.2 does) and two writers
 * race within the milliseconds between the check and the copy; the catalog
 * itself is never at risk.
 *
 * @example
 * ```ts
 * import { ObjectStore } from "./object.ts";
 * import { S3Client, s3Config } from "./s3.ts";
 * const client = new S3Client(s3Config({ AWS_ACCESS_KEY_ID: "id", AWS_SECRET_ACCESS_KEY: "s" }), "cat");
 * await using store = await ObjectStore.open(client, "lake/symbols.parquet", "/p");
 * const base = await store.read();
 * ```
 *
 * @module
 */
import { basename, join } from "node:path";
import { IngestError } from "../core/errors.ts";
import { acquireLock, type Lock } from "../fs/lock.ts";
import { EXCHANGES_FILE, runLogName } from "../record/companions.ts";
import { bareEtag, type S3Client } from "./s3.ts";
import {
  type CatalogStore,
  commitOrder,
  type CommitOutcome,
  type StagedFile,
  STORED_FILES,
  type StoredFile,
  type StoreVersion,
} from "./store.ts";

/** The folder, in the project root, that holds the private work folders. */
export const WORK_ROOT = ".meta-ingest";

/** The private copies' names in the work folder. */
const LOCAL_NAMES: Readonly<Record<StoredFile, string>> = {
  symbols: "catalog.parquet",
  exchanges: EXCHANGES_FILE,
  runlog: runLogName("catalog.parquet"),
};

/** A random hex tag. */
function tag(): string {
  return crypto.getRandomValues(new Uint32Array(1))[0].toString(16).padStart(8, "0");
}

/**
 * Removes work folders that killed processes left under `parent`: a folder
 * whose lock nobody holds any more (the kernel dropped the flock of a dead
 * owner) is stale.
 */
async function removeStaleWork(parent: string): Promise<void> {
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(parent));
  } catch {
    return;
  }
  for (const entry of entries) {
    if (!entry.isDirectory || !/^work-\d+-[0-9a-f]{8}$/.test(entry.name)) continue;
    const folder = join(parent, entry.name);
    let lock: Lock;
    try {
      lock = await acquireLock(join(folder, "owner.lock"), { timeoutMs: 0 });
    } catch {
      continue; // alive (or not ours to judge)
    }
    await lock.release();
    await Deno.remove(folder, { recursive: true }).catch(() => {});
  }
}

/** The catalog in an S3 store; see the module doc. */
export class ObjectStore implements CatalogStore {
  readonly kind = "s3" as const;
  readonly label: string;
  readonly folder: string;
  readonly #client: S3Client;
  readonly #keys: Readonly<Record<StoredFile, string>>;
  readonly #owner: Lock;
  readonly #workRoot: string;

  private constructor(client: S3Client, key: string, folder: string, owner: Lock, root: string) {
    this.#client = client;
    this.label = client.location(key);
    this.folder = folder;
    this.#owner = owner;
    this.#workRoot = join(root, WORK_ROOT);
    const slash = key.lastIndexOf("/");
    const prefix = slash < 0 ? "" : key.slice(0, slash + 1);
    this.#keys = {
      symbols: key,
      exchanges: `${prefix}${EXCHANGES_FILE}`,
      runlog: `${prefix}${runLogName(basename(key))}`,
    };
  }

  /**
   * A store for the object `key` of `client`'s bucket, with its private
   * work folder under `root` (the project root, real path).
   */
  static async open(client: S3Client, key: string, root: string): Promise<ObjectStore> {
    const parent = join(root, WORK_ROOT);
    await Deno.mkdir(parent, { recursive: true });
    await removeStaleWork(parent);
    const folder = join(parent, `work-${Deno.pid}-${tag()}`);
    await Deno.mkdir(folder, { mode: 0o700 });
    let owner: Lock;
    try {
      owner = await acquireLock(join(folder, "owner.lock"), { timeoutMs: 0 });
    } catch (err) {
      await Deno.remove(folder, { recursive: true }).catch(() => {});
      throw err;
    }
    return new ObjectStore(client, key, folder, owner, root);
  }

  /** The object key of a file. */
  keyOf(file: StoredFile): string {
    return this.#keys[file];
  }

  localPath(file: StoredFile): string {
    // Fixed local names: an object key may hold characters DuckDB would
    // read as a glob, and the merge finds the companions beside the catalog.
    return join(this.folder, LOCAL_NAMES[file]);
  }

  async preflight(options: { write: boolean }): Promise<void> {
    await this.#client.check();
    if (options.write) await this.#checkConditions();
  }

  /**
   * A store that ignored `If-Match` would silently lose updates, so before
   * a run writes, two conditional PUTs of a tiny probe object (`<key>.cas`)
   * that must both be refused once it exists: `If-None-Match: *`, and
   * `If-Match` with an ETag no object has.
   */
  async #checkConditions(): Promise<void> {
    const key = `${this.#keys.symbols}.cas`;
    const probe = join(this.folder, ".cas-probe");
    await Deno.writeTextFile(probe, "meta-ingest conditional-write check\n");
    try {
      const created = await this.#client.put(key, probe, { ifNoneMatch: "*" });
      const again = created.kind === "written"
        ? await this.#client.put(key, probe, { ifNoneMatch: "*" })
        : created;
      const bogus = await this.#client.put(key, probe, { ifMatch: '"0"' });
      if (again.kind === "written" || bogus.kind === "written") {
        throw new IngestError(
          "catalog",
          `${this.#client.location(key)}: the store at ${this.#client.endpoint} ignores ` +
            `conditional writes (${again.kind === "written" ? "If-None-Match" : "If-Match"})`,
          "several hosts could overwrite each other's updates there; use a store that honours " +
            "If-Match and If-None-Match on PUT (AWS S3, R2, MinIO, Ceph RGW); nothing was fetched",
        );
      }
    } finally {
      await Deno.remove(probe).catch(() => {});
    }
  }

  exclusive(): Promise<AsyncDisposable> {
    return Promise.resolve({ [Symbol.asyncDispose]: () => Promise.resolve() });
  }

  async read(files: readonly StoredFile[] = STORED_FILES): Promise<StoreVersion> {
    const version: Record<StoredFile, string | null> = {
      symbols: null,
      exchanges: null,
      runlog: null,
    };
    for (const file of files) {
      const local = this.localPath(file);
      const got = await this.#client.get(this.#keys[file], local);
      if (got === null) await Deno.remove(local).catch(() => {});
      version[file] = got?.etag ?? null;
    }
    return version;
  }

  unchanged(): Promise<boolean> {
    return Promise.resolve(true); // private copies: nobody else writes them
  }

  async stage(file: StoredFile, write: (temp: string) => Promise<void>): Promise<StagedFile> {
    const temp = join(this.folder, `.${LOCAL_NAMES[file]}.${tag()}.tmp`);
    try {
      await write(temp);
    } catch (err) {
      await Deno.remove(temp).catch(() => {});
      throw err;
    }
    return { file, temp };
  }

  async discard(staged: readonly StagedFile[]): Promise<void> {
    for (const { temp } of staged) await Deno.remove(temp).catch(() => {});
  }

  async commit(staged: readonly StagedFile[], base: StoreVersion): Promise<CommitOutcome> {
    const ordered = commitOrder(staged);
    const written: StoredFile[] = [];
    try {
      for (const item of ordered) {
        const key = this.#keys[item.file];
        const etag = base[item.file];
        if (etag !== null && item.file !== "runlog") {
          // The rollback point: the version read, copied only while the key
          // still has it (a HEAD first narrows the window for stores that
          // ignore the copy's own condition).
          const now = await this.#client.head(key);
          if (now === null || bareEtag(now.etag) !== bareEtag(etag)) {
            return { kind: "conflict", file: item.file, written, warnings: [] };
          }
          const copied = await this.#client.copy(key, `${key}.bak`, { ifMatch: etag });
          if (copied.kind === "conflict") {
            return { kind: "conflict", file: item.file, written, warnings: [] };
          }
        }
        const put = await this.#client.put(
          key,
          item.temp,
          etag === null ? { ifNoneMatch: "*" } : { ifMatch: etag },
        );
        if (put.kind === "conflict") {
          return { kind: "conflict", file: item.file, written, warnings: [] };
        }
        written.push(item.file);
      }
      return { kind: "written", written, warnings: [] };
    } finally {
      await this.discard(ordered);
    }
  }

  /** Removes the work folder and its files (and the parent folder when it is left empty). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.#owner.release();
    await Deno.remove(this.folder, { recursive: true }).catch(() => {});
    await Deno.remove(this.#workRoot).catch(() => {}); // only when empty
  }
}
