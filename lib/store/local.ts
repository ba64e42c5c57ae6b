/**
 * A catalog in a local file, guarded by its lock files: the local
 * {@linkcode CatalogStore}.
 *
 * Promises:
 * - Reads are in place: {@linkcode LocalStore.localPath} is the real file,
 *   and its identity is its inode, device, size and times.
 * - {@linkcode LocalStore.exclusive} takes `<catalog>.lock`, then
 *   `exchanges.parquet.lock` (always in that order: no deadlock), creates
 *   the catalog's folder when missing and clears temp files crashed writers
 *   left; everything that writes holds it (lib/fs/lock.ts says what the
 *   lock promises).
 * - A commit replaces each file atomically (lib/fs/atomic.ts: temp file,
 *   fsync, rename, folder fsync) and keeps the replaced version of the
 *   catalog and of the exchanges table as `<name>.bak`; a file whose identity moved since it was read (a writer
 *   that ignored the lock) is a conflict, not an overwrite.
 * - A folder fsync that fails after a rename is a `NotDurableError`, thrown
 *   once every file is in place.
 *
 * @example
 * ```ts
 * import { LocalStore } from "./local.ts";
 * await using store = new LocalStore("/p/data/symbols.parquet", "data/symbols.parquet");
 * await using _held = await store.exclusive({ timeoutMs: 60_000 });
 * const base = await store.read();
 * const staged = await store.stage("symbols", (temp) => Deno.writeTextFile(temp, "..."));
 * await store.commit([staged], base);
 * ```
 *
 * @module
 */
import { basename, dirname, join } from "node:path";
import { errorMessage, IngestError } from "../core/errors.ts";
import {
  NotDurableError,
  type PreparedReplace,
  prepareReplace,
  probePathFor,
  removeStaleTemps,
} from "../fs/atomic.ts";
import { identityOrNull } from "../fs/identity.ts";
import { acquireLock, checkLockPath, describeOwner, LockTimeoutError } from "../fs/lock.ts";
import { EXCHANGES_FILE, runLogName } from "../record/companions.ts";
import {
  type CatalogStore,
  commitOrder,
  type CommitOutcome,
  type ExclusiveOptions,
  type PreflightOptions,
  type StagedFile,
  type StoredFile,
  type StoreVersion,
} from "./store.ts";

/** The deepest existing ancestor of `path` (itself when it exists). */
async function existingAncestor(path: string): Promise<{ path: string; info: Deno.FileInfo }> {
  for (let probe = path;;) {
    try {
      return { path: probe, info: await Deno.stat(probe) };
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
      const parent = dirname(probe);
      if (parent === probe) throw err;
      probe = parent;
    }
  }
}

/** The local catalog; see the module doc. */
export class LocalStore implements CatalogStore {
  readonly kind = "file" as const;
  /** The catalog's absolute real path. */
  readonly path: string;
  readonly label: string;
  readonly folder: string;
  readonly #prepared = new Map<string, PreparedReplace>();

  /**
   * A store for the catalog at `path` (absolute, resolved inside the project
   * root), named `label` in messages (the path as the user gave it).
   */
  constructor(path: string, label: string = path) {
    this.path = path;
    this.label = label;
    this.folder = dirname(path);
  }

  localPath(file: StoredFile): string {
    switch (file) {
      case "symbols":
        return this.path;
      case "exchanges":
        return join(this.folder, EXCHANGES_FILE);
      case "runlog":
        return join(this.folder, runLogName(basename(this.path)));
    }
  }

  /** The lock files, in the order they are taken. */
  get lockPaths(): string[] {
    return [`${this.path}.lock`, `${this.localPath("exchanges")}.lock`];
  }

  async preflight(options: PreflightOptions): Promise<void> {
    for (const file of ["symbols", "exchanges", "runlog"] as const) {
      const path = this.localPath(file);
      try {
        await identityOrNull(path);
      } catch (err) {
        if (err instanceof IngestError) {
          throw new IngestError(
            "catalog",
            file === "symbols"
              ? `catalog path ${this.label} is not a regular file`
              : `${path}, which the catalog keeps beside it, is not a regular file`,
            file === "symbols"
              ? "point --catalog-path at a .parquet file"
              : "move it away; meta-ingest writes that file itself",
          );
        }
        throw new IngestError("catalog", `cannot look at ${path}: ${errorMessage(err)}`);
      }
    }
    const { path: place, info } = await existingAncestor(this.folder);
    if (!info.isDirectory) {
      throw new IngestError(
        "catalog",
        `the catalog's folder ${place} is not a folder`,
        "point --catalog-path into a folder",
      );
    }
    if (!options.write) return;
    for (const lock of this.lockPaths) await checkLockPath(lock);
    // The only sure test of "writable" is to write: an empty probe file,
    // named like temp files but ending in .probe (one left behind by a
    // crash is cleared with them).
    const probe = probePathFor(join(place, basename(this.path)));
    try {
      await Deno.writeFile(probe, new Uint8Array(), { createNew: true });
    } catch (err) {
      throw new IngestError(
        "catalog",
        `cannot write in ${
          place === this.folder ? "the catalog's folder" : "the folder"
        } ${place}: ${errorMessage(err)}`,
        "check its permissions and free space; nothing was fetched",
      );
    }
    await Deno.remove(probe).catch(() => {});
  }

  async exclusive(options: ExclusiveOptions = {}): Promise<AsyncDisposable> {
    await Deno.mkdir(this.folder, { recursive: true });
    const held: AsyncDisposable[] = [];
    const release = async () => {
      for (const lock of held.reverse()) await lock[Symbol.asyncDispose]();
    };
    try {
      for (const path of this.lockPaths) held.push(await this.#lock(path, options));
      // Under the locks nobody else writes these files: temp files of
      // theirs are from crashed runs.
      for (const file of ["symbols", "exchanges", "runlog"] as const) {
        await removeStaleTemps(this.localPath(file));
      }
    } catch (err) {
      await release();
      throw err;
    }
    return { [Symbol.asyncDispose]: release };
  }

  /** Takes one lock file, with errors worded for the catalog. */
  async #lock(path: string, options: ExclusiveOptions): Promise<AsyncDisposable> {
    try {
      return await acquireLock(path, {
        timeoutMs: options.timeoutMs ?? 60_000,
        root: this.folder, // resolved inside the project root by the caller
        onEvent: options.onEvent,
        signal: options.signal,
      });
    } catch (err) {
      if (err instanceof LockTimeoutError) {
        throw new IngestError(
          "lock",
          `catalog is locked by ${describeOwner(err.owner)}; gave up after ${err.timeoutMs} ms`,
          `another meta-ingest run is merging; retry, or raise --lock-timeout-ms (lock file: ${path})`,
        );
      }
      if (options.signal?.aborted) {
        throw new IngestError(
          "interrupted",
          `interrupted by ${String(options.signal.reason)} while waiting for the catalog lock`,
        );
      }
      if (err instanceof IngestError) throw err;
      throw new IngestError(
        "catalog",
        `cannot create the lock file ${path}: ${errorMessage(err)}`,
        "check that the catalog folder is writable; nothing was written",
      );
    }
  }

  async read(): Promise<StoreVersion> {
    return {
      symbols: await identityOrNull(this.localPath("symbols")),
      exchanges: await identityOrNull(this.localPath("exchanges")),
      runlog: await identityOrNull(this.localPath("runlog")),
    };
  }

  async unchanged(version: StoreVersion): Promise<boolean> {
    const now = await this.read().catch(() => null);
    return now !== null && now.symbols === version.symbols &&
      now.exchanges === version.exchanges && now.runlog === version.runlog;
  }

  async stage(file: StoredFile, write: (temp: string) => Promise<void>): Promise<StagedFile> {
    // The run log needs no rollback point: it only says when symbols were checked.
    const prepared = await prepareReplace(this.localPath(file), write, {
      backup: file !== "runlog",
    });
    this.#prepared.set(prepared.temp, prepared);
    return { file, temp: prepared.temp };
  }

  async discard(staged: readonly StagedFile[]): Promise<void> {
    for (const { temp } of staged) {
      await this.#prepared.get(temp)?.discard();
      this.#prepared.delete(temp);
    }
  }

  async commit(staged: readonly StagedFile[], base: StoreVersion): Promise<CommitOutcome> {
    const ordered = commitOrder(staged);
    const written: StoredFile[] = [];
    const warnings: string[] = [];
    let notDurable: NotDurableError | undefined;
    for (const [i, item] of ordered.entries()) {
      const prepared = this.#prepared.get(item.temp);
      if (!prepared) throw new Error(`${item.temp} was not staged by this store`);
      if (await identityOrNull(this.localPath(item.file)) !== base[item.file]) {
        // Changed under the lock: a writer that ignores it. Never overwrite.
        await this.discard(ordered.slice(i));
        return { kind: "conflict", file: item.file, written, warnings };
      }
      try {
        const outcome = await prepared.commit();
        if (outcome.warning) warnings.push(outcome.warning);
      } catch (err) {
        if (err instanceof NotDurableError) {
          // Renamed, not confirmed durable: the file is in place, go on.
          if (!notDurable || item.file === "symbols") notDurable = err;
          if (err.outcome.warning) warnings.push(err.outcome.warning);
        } else {
          await this.discard(ordered.slice(i + 1));
          this.#prepared.delete(item.temp);
          throw this.#commitError(item.file, written, err);
        }
      }
      this.#prepared.delete(item.temp);
      written.push(item.file);
    }
    if (notDurable) throw notDurable;
    return { kind: "written", written, warnings };
  }

  /** A failed rename, worded by what is already in place. */
  #commitError(file: StoredFile, written: StoredFile[], err: unknown): IngestError {
    const why = errorMessage(err).split("\n")[0];
    const path = this.localPath(file);
    if (written.length === 0) {
      return new IngestError(
        "catalog",
        `cannot write the catalog ${this.path}: cannot replace ${path}: ${why}`,
        "the previous version is intact; check free space and permissions of its folder",
      );
    }
    return new IngestError(
      "catalog",
      `${written.map((f) => this.localPath(f)).join(", ")} ${
        written.length === 1 ? "was" : "were"
      } written, but ${path} could not be replaced: ${why}`,
      file === "symbols"
        ? "the catalog is as it was before this run; rerun to merge"
        : "the catalog itself is consistent; rerun to bring it up to date",
    );
  }

  /** Drops whatever is still staged (a run that stopped before its commit). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.discard([...this.#prepared.keys()].map((temp) => ({ file: "symbols", temp })));
  }
}
