/**
 * Replacing a file so that readers see the old version or the new one, never
 * a mix, whatever instant the process dies at.
 *
 * {@linkcode atomicReplace} has a writer fill a temp file in the target's
 * folder (same filesystem, so the rename is atomic), then:
 * 1. fsyncs the temp file (its bytes are on disk before its name is);
 * 2. sets the version being replaced aside under a temp name (a hard
 *    link, so no copy);
 * 3. renames the temp file over the target, and only then the set-aside
 *    version over `<target>.bak`: a failed write never changes `.bak`, and
 *    a `.bak` that cannot be replaced (a folder of that name) leaves the
 *    set-aside version under a name of its own, with a warning, never
 *    deleted;
 * 4. fsyncs the folder (the rename itself survives a power cut).
 *
 * On any failure the temp file is removed and the target is untouched. Every
 * file created here must really lie in `root` (a folder swapped for a
 * symlink out of it is caught after the file is made): otherwise it is
 * removed and the call fails.
 * {@linkcode prepareReplace} splits this in two (write + fsync, then
 * commit), so several files can all be written before any is replaced.
 *
 * Guarantees: atomic replacement and durability on POSIX local filesystems.
 * Not guaranteed: on network filesystems without atomic rename; if the
 * process is killed (SIGKILL) mid-write a temp file named
 * `.<target>.<pid>.<random>.tmp` may stay behind, which
 * {@linkcode removeStaleTemps} clears (call it only while holding the lock).
 * It does not lock: callers serialise writers themselves (lib/lock.ts).
 *
 * @example
 * ```ts
 * import { atomicReplace } from "./atomic.ts";
 * await atomicReplace("/p/data/symbols.parquet", async (tmp) => {
 *   await Deno.writeTextFile(tmp, "new content");
 * }, { backup: true });
 * ```
 *
 * @module
 */
import { basename, dirname, join } from "node:path";
import { IngestError } from "../core/errors.ts";
import { isInside } from "./paths.ts";

/** Options for {@linkcode atomicReplace}. */
export interface AtomicOptions {
  /**
   * Keep the replaced version as `<target>.bak` (a hard link, no copy).
   *
   * @default {false}
   */
  backup?: boolean;
  /**
   * The folder every file created here must really lie in (symlinks
   * resolved); default: the target's folder as given (pass a real path).
   */
  root?: string;
}

/**
 * Refuses a file just created whose real path is outside `root` (its folder
 * was swapped for a symlink): the caller removes it.
 */
async function mustBeInside(path: string, root: string): Promise<void> {
  const real = await Deno.realPath(path);
  if (isInside(root, real)) return;
  throw new IngestError(
    "catalog",
    `${path} was created outside ${root} (at ${real}); it was removed`,
    "a folder on the way is (or became) a symlink out of the project; fix the folder and rerun",
  );
}

/**
 * The temp path for `target`: hidden, in the same folder, unique per call.
 *
 * @example
 * ```ts
 * import { tempPathFor } from "./atomic.ts";
 * tempPathFor("/p/symbols.parquet"); // "/p/.symbols.parquet.4242.1a2b3c4d.tmp"
 * ```
 */
export function tempPathFor(target: string): string {
  const random = crypto.getRandomValues(new Uint32Array(1))[0].toString(16).padStart(8, "0");
  return join(dirname(target), `.${basename(target)}.${Deno.pid}.${random}.tmp`);
}

/**
 * The path of an empty file that proves a folder writable, beside `target`:
 * a temp file's name ending in `.probe`, cleared by
 * {@linkcode removeStaleTemps} should a crash leave it.
 *
 * @example
 * ```ts
 * import { probePathFor } from "./atomic.ts";
 * probePathFor("/p/symbols.parquet"); // "/p/.symbols.parquet.4242.1a2b3c4d.probe"
 * ```
 */
export function probePathFor(target: string): string {
  return tempPathFor(target).replace(/\.tmp$/, ".probe");
}

async function fsyncPath(path: string): Promise<void> {
  using file = await Deno.open(path, { read: true });
  await file.sync();
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/**
 * Thrown by a commit when the rename succeeded but the folder's fsync did
 * not: the new version is in place, but its durability is not confirmed (a
 * power cut could still bring back the old one).
 */
export class NotDurableError extends Error {
  /** The file that was replaced. */
  readonly target: string;

  /** What the commit did with the replaced version (it did happen). */
  readonly outcome: CommitOutcome;

  /** `cause` is what the folder's fsync threw; `outcome` what the commit did otherwise. */
  constructor(
    target: string,
    cause: unknown,
    outcome: CommitOutcome = { backup: null, warning: null },
  ) {
    super(
      `${target} was replaced, but fsync of its folder failed: ${
        cause instanceof Error ? cause.message : String(cause)
      }`,
      { cause },
    );
    this.name = "NotDurableError";
    this.target = target;
    this.outcome = outcome;
  }
}

/** What a commit did with the version it replaced. */
export interface CommitOutcome {
  /**
   * Where the replaced version is kept: `<target>.bak`, or another name when
   * that one could not be used (see `warning`); null when no backup was asked
   * for or there was no previous version.
   */
  backup: string | null;
  /** Set when the rollback point could not become `<target>.bak`: where it is instead. */
  warning: string | null;
}

/** A written, fsynced temp file waiting to replace its target. */
export interface PreparedReplace {
  /** The file to replace. */
  readonly target: string;
  /** The temp file's path. */
  readonly temp: string;
  /**
   * Backs up the target (if asked), renames the temp over it, fsyncs the
   * folder; a failing folder fsync is a {@linkcode NotDurableError}. A
   * rollback point that cannot become `<target>.bak` is kept under another
   * name and the outcome's `warning` says where: it is never deleted.
   */
  commit(): Promise<CommitOutcome>;
  /** Removes the temp file; the target stays as it was. */
  discard(): Promise<void>;
}

/**
 * Steps 0-1 of the module doc: has `write` fill a temp file and fsyncs it,
 * without touching the target yet, so that several files can be prepared
 * first and committed together. On failure the temp file is removed.
 *
 * @example
 * ```ts
 * import { prepareReplace } from "./atomic.ts";
 * const a = await prepareReplace("/p/a.parquet", (tmp) => Deno.writeTextFile(tmp, "a"));
 * const b = await prepareReplace("/p/b.parquet", (tmp) => Deno.writeTextFile(tmp, "b"));
 * await a.commit();
 * await b.commit();
 * ```
 */
export async function prepareReplace(
  target: string,
  write: (tempPath: string) => Promise<void>,
  options: AtomicOptions = {},
): Promise<PreparedReplace> {
  const temp = tempPathFor(target);
  const root = options.root ?? dirname(target);
  const discard = () => Deno.remove(temp).catch(() => {});
  try {
    await write(temp);
    await mustBeInside(temp, root);
    await fsyncPath(temp);
  } catch (err) {
    await discard();
    throw err;
  }
  return {
    target,
    temp,
    discard,
    async commit() {
      // The version being replaced is set aside under a temp name first; it
      // becomes .bak (by rename, atomically) only once the new file has
      // replaced it, so a failed write never costs the older rollback point.
      let backupTemp: string | null = null;
      try {
        if (options.backup && (await exists(target))) {
          backupTemp = tempPathFor(`${target}.bak`);
          try {
            await Deno.link(target, backupTemp);
          } catch {
            // No hard links here (some filesystems): copy instead.
            await Deno.copyFile(target, backupTemp);
            await fsyncPath(backupTemp);
          }
          await mustBeInside(backupTemp, root);
        }
        await Deno.rename(temp, target);
      } catch (err) {
        await discard();
        if (backupTemp) await Deno.remove(backupTemp).catch(() => {});
        throw err;
      }
      let outcome: CommitOutcome = { backup: backupTemp ? `${target}.bak` : null, warning: null };
      if (backupTemp) {
        try {
          await Deno.rename(backupTemp, `${target}.bak`);
        } catch (err) {
          // The rollback point could not take its usual name (a folder of
          // that name is enough): keep it under a name of its own, never
          // delete it, and say so.
          const kept = keptBackupPath(target);
          let where: string;
          try {
            await Deno.rename(backupTemp, kept);
            where = `kept as ${kept}`;
          } catch {
            where = `kept as ${backupTemp}`;
          }
          outcome = {
            backup: where.slice("kept as ".length),
            warning: `the previous version could not become ${target}.bak (${
              err instanceof Error ? err.message : String(err)
            }); it was ${where}`,
          };
        }
      }
      try {
        await fsyncPath(dirname(target));
      } catch (err) {
        throw new NotDurableError(target, err, outcome);
      }
      return outcome;
    },
  };
}

/**
 * Where a rollback point goes when `<target>.bak` cannot take it: beside it,
 * named by the time (`<target>.bak-20261205T131415123Z`), so it is neither a
 * temp file the next run would clear nor a name the tool writes to again.
 */
function keptBackupPath(target: string): string {
  const stamp = new Date().toISOString().replace(/[-:.]/g, "");
  return `${target}.bak-${stamp}`;
}

/**
 * Replaces `target` with what `write` puts in the temp path it is given; see
 * the module doc for the steps and guarantees.
 *
 * @example
 * ```ts
 * import { atomicReplace } from "./atomic.ts";
 * await atomicReplace("/p/x.json", (tmp) => Deno.writeTextFile(tmp, "{}"));
 * ```
 */
export async function atomicReplace(
  target: string,
  write: (tempPath: string) => Promise<void>,
  options: AtomicOptions = {},
): Promise<CommitOutcome> {
  return await (await prepareReplace(target, write, options)).commit();
}

/**
 * Removes temp files that crashed writers left beside `target`. Safe only
 * while holding the lock that serialises writers of `target`.
 *
 * @example
 * ```ts
 * import { removeStaleTemps } from "./atomic.ts";
 * const removed = await removeStaleTemps("/p/data/symbols.parquet"); // e.g. 1
 * ```
 */
export async function removeStaleTemps(target: string): Promise<number> {
  // Exactly tempPathFor's names for this target (and its .bak): never the
  // temp files of another file, even one whose name starts the same way.
  const base = basename(target).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const ours = new RegExp(`^\\.${base}(\\.bak)?\\.\\d+\\.[0-9a-f]{8}\\.(tmp|probe)$`);
  let removed = 0;
  for await (const entry of Deno.readDir(dirname(target))) {
    if (!entry.isFile || !ours.test(entry.name)) continue;
    await Deno.remove(join(dirname(target), entry.name)).catch(() => {});
    removed++;
  }
  return removed;
}
