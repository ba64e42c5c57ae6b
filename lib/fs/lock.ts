/**
 * A lock file that loses no update, for any file `<name>` as `<name>.lock`.
 *
 * The lock is made with `Deno.open(path, { createNew: true })` and holds its
 * owner as JSON (pid, host, start time, tool and version, a random token).
 * The holder also keeps an exclusive kernel lock (flock) on the file for as
 * long as it lives; the kernel drops that lock when the process dies, even
 * by SIGKILL. That is how waiters tell a live holder from a dead one without
 * probing pids (which get reused) or needing --allow-run.
 *
 * Promises:
 * - Mutual exclusion: a process owns the lock only while it holds the flock
 *   on the inode that the lock path names. Taking over a stale lock means
 *   taking that flock, removing the file under it and creating a new one
 *   with `createNew`, so two waiters can never both win; a waiter whose
 *   inode was unlinked or replaced meanwhile starts over.
 * - Never writes into a file it did not create in this call: someone else's
 *   lock file is only opened for reading.
 * - Stale locks are taken over promptly: a lock whose flock is free and whose
 *   owner is on this host (or unreadable) is dead. A lock owned by another
 *   host (a shared folder) is taken over only once its lease has expired:
 *   the holder refreshes the file's mtime every `leaseMs / 3`, and a waiter
 *   takes over after watching the mtime stand still for `leaseMs` by its own
 *   clock (so clock skew between hosts cannot expire a live lease).
 * - The lock path must be a plain file with one link: a symlink, folder or
 *   hard link there is an error, never followed or written. A lock file
 *   whose real path, once created, is outside `root` is removed and is an
 *   error.
 * - Waiting retries with jittered backoff up to `timeoutMs`, then fails with
 *   a {@linkcode LockTimeoutError} naming the holder; the caller words the
 *   message for its users (this module knows nothing of catalogs or flags).
 * - `release()` unlinks the file (only if it is still ours: same inode, our
 *   token) and closes it; it is idempotent. Callers release on success,
 *   error and signals.
 *
 * Not promised: exclusion on filesystems where flock is a no-op, against
 * writers that ignore the lock, between two hosts with the same name, or for
 * a holder that is alive but hung (on this host it is never robbed; stop it
 * to free the lock).
 *
 * @example
 * ```ts
 * import { acquireLock } from "./lock.ts";
 * await using lock = await acquireLock("/p/data/symbols.parquet.lock", { timeoutMs: 60_000 });
 * // ... re-read, merge, write ...
 * ```
 *
 * @module
 */
import { basename, dirname, join } from "node:path";
import { z } from "zod";
import { delay } from "../std/delay.ts";
import { IngestError } from "../core/errors.ts";
import { printable } from "../core/text.ts";
import { TOOL_NAME, VERSION } from "../core/version.ts";
import { isInside } from "./paths.ts";

/** Who holds a lock. */
export interface LockOwner {
  /** Process id of the holder. */
  pid: number;
  /** Host name of the holder's machine. */
  host: string;
  /** When the holder took the lock (ISO 8601, UTC). */
  started_at: string;
  /** Name of the tool that holds it. */
  tool: string;
  /** That tool's version. */
  version: string;
  /** Random per-acquisition token: release removes the file only while it is still ours. */
  token: string;
}

const ownerSchema = z.object({
  pid: z.number().int(),
  host: z.string(),
  started_at: z.string(),
  tool: z.string(),
  version: z.string(),
  token: z.string(),
});

/** Options for {@linkcode acquireLock}. */
export interface LockOptions {
  /** How long to wait for the lock, in milliseconds, before giving up (0 = one try). */
  timeoutMs: number;
  /**
   * Lease of a lock owned by another host, in milliseconds: such a lock is
   * taken over once its mtime has stood still this long.
   *
   * @default {30_000}
   */
  leaseMs?: number;
  /** Told, in words, about waiting and take-overs. */
  onEvent?: (message: string) => void;
  /** Stops waiting. */
  signal?: AbortSignal;
  /**
   * The folder the lock file must really lie in (symlinks resolved), checked
   * after every creation; default: the lock's folder as resolved when
   * {@linkcode acquireLock} starts.
   */
  root?: string;
}

/**
 * Thrown by {@linkcode acquireLock} when the lock stayed held until the
 * timeout; the caller words it for its users.
 *
 * @example
 * ```ts
 * import { acquireLock, LockTimeoutError } from "./lock.ts";
 * try {
 *   await using _lock = await acquireLock("/p/data/symbols.parquet.lock", { timeoutMs: 0 });
 * } catch (err) {
 *   if (!(err instanceof LockTimeoutError)) throw err;
 *   console.error(`busy: held by pid ${err.owner?.pid ?? "unknown"}`);
 * }
 * ```
 */
export class LockTimeoutError extends Error {
  /**
   * Makes the error; its message names the holder.
   *
   * @param path the lock file
   * @param owner its holder, when its record was readable
   * @param timeoutMs how long we waited
   */
  constructor(
    readonly path: string,
    readonly owner: LockOwner | null,
    readonly timeoutMs: number,
  ) {
    super(`${path} is locked by ${describeOwner(owner)}; gave up after ${timeoutMs} ms`);
    this.name = "LockTimeoutError";
  }
}

/** A held lock. */
export interface Lock extends AsyncDisposable {
  /** The lock file. */
  readonly path: string;
  /** Our own owner record, as written to the file. */
  readonly owner: LockOwner;
  /** True when we took over a stale lock (a dead or expired owner). */
  readonly tookOver: boolean;
  /** That stale lock's owner, when its record was readable. */
  readonly previousOwner: LockOwner | null;
  /** Releases the lock; safe to call twice. */
  release(): Promise<void>;
  /** Releases synchronously (for exit paths). */
  releaseSync(): void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function hostName(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
}

/**
 * A lock owner in words: pid, host, tool and start time. The fields come from
 * a file anyone may have written, so each is escaped and capped
 * (lib/core/text.ts).
 *
 * @example
 * ```ts
 * import { describeOwner } from "./lock.ts";
 * describeOwner(null); // "an unknown process"
 * ```
 */
export function describeOwner(owner: LockOwner | null): string {
  if (!owner) return "an unknown process";
  const [host, tool, version, since] = [owner.host, owner.tool, owner.version, owner.started_at]
    .map((text) => printable(text, 64));
  return `pid ${owner.pid} on ${host} (${tool} ${version}, since ${since})`;
}

async function readOwner(file: Deno.FsFile): Promise<LockOwner | null> {
  try {
    await file.seek(0, Deno.SeekMode.Start);
    const buffer = new Uint8Array(4096);
    const n = await file.read(buffer);
    if (!n) return null;
    const parsed = ownerSchema.safeParse(JSON.parse(decoder.decode(buffer.subarray(0, n))));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

async function readOwnerAt(path: string): Promise<LockOwner | null> {
  try {
    using file = await Deno.open(path, { read: true });
    return await readOwner(file);
  } catch {
    return null;
  }
}

async function writeOwner(file: Deno.FsFile, owner: LockOwner): Promise<void> {
  await file.truncate(0);
  await file.seek(0, Deno.SeekMode.Start);
  const bytes = encoder.encode(JSON.stringify(owner) + "\n");
  let written = 0;
  while (written < bytes.length) written += await file.write(bytes.subarray(written));
  await file.sync();
}

/** True when `path` itself (not a symlink) names the inode `file` has open. */
async function stillNamed(path: string, file: Deno.FsFile): Promise<boolean> {
  try {
    const [byPath, byFile] = await Promise.all([Deno.lstat(path), file.stat()]);
    return byPath.isFile && byPath.ino === byFile.ino && byPath.dev === byFile.dev;
  } catch {
    return false;
  }
}

/**
 * Refuses a lock path that is not a plain file with exactly one link: a
 * symlink, a folder, a device, or a hard link to some other file (which a
 * take-over would otherwise have written into).
 */
function mustBePlainFile(path: string, info: Deno.FileInfo): void {
  if (info.isFile && (info.nlink === null || info.nlink === 1)) return;
  const kind = info.isSymlink
    ? "a symlink"
    : info.isDirectory
    ? "a folder"
    : !info.isFile
    ? "not a regular file"
    : `a file with ${info.nlink} hard links (it is also another file)`;
  throw new IngestError(
    "lock",
    `lock path ${path} is ${kind}`,
    "remove it; meta-ingest creates its lock file itself and never writes into one it did not create",
  );
}

/**
 * Refuses a file we just created whose real path is outside `root` (a folder
 * swapped for a symlink under us): it is removed, never written.
 */
async function mustBeInside(path: string, file: Deno.FsFile, root: string): Promise<void> {
  // The file itself is no symlink (createNew made it), so its real path is
  // its folder's; resolving the folder also holds while a waiter that judged
  // our still-empty file stale removes it.
  const folder = await Deno.realPath(dirname(path)).catch(() => null);
  const real = folder === null ? null : join(folder, basename(path));
  if (real !== null && isInside(root, real)) return;
  if (await stillNamed(path, file)) await Deno.remove(path).catch(() => {});
  throw new IngestError(
    "lock",
    `lock file ${path} was created outside ${root}${real ? ` (at ${real})` : ""}; it was removed`,
    "a folder on the way is (or became) a symlink out of the project; fix the folder and rerun",
  );
}

/**
 * How long a foreign owner's lock has gone unrefreshed, by our own clock:
 * its mtime is compared with what we saw before, never with our time, so
 * clock skew between hosts cannot expire a live lease.
 */
class LeaseWatch {
  private seen = new Map<string, { mtime: number; since: number }>();

  /** Milliseconds the lock (by token) has kept the same mtime while we watched. */
  unchangedFor(token: string, mtime: number, now: number): number {
    const last = this.seen.get(token);
    if (!last || last.mtime !== mtime) {
      this.seen.set(token, { mtime, since: now });
      return 0;
    }
    return now - last.since;
  }
}

type Attempt =
  | { kind: "acquired"; file: Deno.FsFile; tookOver: boolean; previous: LockOwner | null }
  | { kind: "held"; owner: LockOwner | null }
  | { kind: "retry" };

/**
 * Creates the lock file with `createNew` (which never follows a symlink and
 * fails if anything is at the path), takes its flock and writes our owner
 * record. Null when something is already there.
 */
async function tryCreate(path: string, me: LockOwner, root: string): Promise<Attempt | null> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { createNew: true, read: true, write: true });
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) return null;
    throw err;
  }
  let keep = false;
  try {
    await mustBeInside(path, file, root);
    // A waiter may have judged our still-empty file stale and holds its flock
    // (it will remove it), or has removed it already: either way it won.
    if (!(await file.tryLock(true))) return { kind: "retry" };
    if (!(await stillNamed(path, file))) return { kind: "retry" };
    await writeOwner(file, me);
    keep = true;
    return { kind: "acquired", file, tookOver: false, previous: null };
  } finally {
    if (!keep) file.close();
  }
}

async function tryAcquire(
  path: string,
  me: LockOwner,
  leaseMs: number,
  leases: LeaseWatch,
  root: string,
): Promise<Attempt> {
  const created = await tryCreate(path, me, root);
  if (created) return created;
  // Someone's lock file is there. It is only ever opened for reading: a
  // stale one is removed and replaced by a new file of ours.
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return { kind: "retry" };
    throw err;
  }
  if (info.nlink === 0) return { kind: "retry" }; // removed while we looked
  mustBePlainFile(path, info);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return { kind: "retry" };
    throw err;
  }
  let previous: LockOwner | null;
  try {
    // A symlink or hard link swapped in after the lstat is caught here.
    const opened = await file.stat();
    if (opened.nlink === 0) return { kind: "retry" }; // removed meanwhile
    mustBePlainFile(path, opened);
    if (!(await stillNamed(path, file))) return { kind: "retry" };
    if (!(await file.tryLock(true))) return { kind: "held", owner: await readOwner(file) };
    if (!(await stillNamed(path, file))) return { kind: "retry" }; // released meanwhile
    previous = await readOwner(file);
    if (previous && previous.host !== me.host) {
      // Another host's lock: its flock says nothing here; trust its lease.
      const mtime = (await file.stat()).mtime?.getTime() ?? 0;
      if (leases.unchangedFor(previous.token, mtime, Date.now()) < leaseMs) {
        return { kind: "held", owner: previous };
      }
    }
    // Stale. While we hold its flock nobody else can own it or judge it
    // stale, and only a flock holder removes the file, so the path still
    // names this inode: remove it, then race for a new file like anyone.
    await Deno.remove(path).catch((err) => {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    });
  } finally {
    file.close();
  }
  const attempt = await tryCreate(path, me, root);
  if (attempt?.kind === "acquired") return { ...attempt, tookOver: true, previous };
  return attempt ?? { kind: "retry" }; // another waiter created it first
}

/**
 * Acquires the lock at `path`, waiting up to `options.timeoutMs`; see the
 * module doc.
 *
 * @example
 * ```ts
 * import { acquireLock } from "./lock.ts";
 * const lock = await acquireLock("/p/symbols.parquet.lock", { timeoutMs: 5_000 });
 * await lock.release();
 * ```
 */
export async function acquireLock(path: string, options: LockOptions): Promise<Lock> {
  const leaseMs = options.leaseMs ?? 30_000;
  const me: LockOwner = {
    pid: Deno.pid,
    host: hostName(),
    started_at: new Date().toISOString(),
    tool: TOOL_NAME,
    version: VERSION,
    token: crypto.randomUUID(),
  };
  const root = options.root ?? await Deno.realPath(dirname(path));
  const deadline = Date.now() + options.timeoutMs;
  const leases = new LeaseWatch();
  let backoffMs = 25;
  let announced = false;
  let lastOwner: LockOwner | null = null;
  for (;;) {
    const attempt = await tryAcquire(path, me, leaseMs, leases, root);
    if (attempt.kind === "acquired") {
      if (attempt.tookOver) {
        options.onEvent?.(`took over a stale lock from ${describeOwner(attempt.previous)}`);
      }
      return holdLock(path, me, attempt.file, attempt.tookOver, attempt.previous, leaseMs);
    }
    if (attempt.kind === "held") {
      lastOwner = attempt.owner;
      if (!announced) {
        options.onEvent?.(`waiting for ${path}, held by ${describeOwner(attempt.owner)}`);
        announced = true;
      }
    }
    if (Date.now() >= deadline) {
      throw new LockTimeoutError(path, lastOwner, options.timeoutMs);
    }
    // A lost race is retried almost at once; a held lock is polled with backoff.
    const pause = attempt.kind === "retry"
      ? 1 + Math.random() * 5
      : backoffMs * (0.5 + Math.random());
    await delay(Math.min(Math.max(0, deadline - Date.now()), pause), { signal: options.signal });
    if (attempt.kind === "held") backoffMs = Math.min(backoffMs * 2, 1000);
  }
}

function ownerTokenSync(file: Deno.FsFile): string | null {
  try {
    file.seekSync(0, Deno.SeekMode.Start);
    const buffer = new Uint8Array(4096);
    const n = file.readSync(buffer);
    if (!n) return null;
    const parsed = ownerSchema.safeParse(JSON.parse(decoder.decode(buffer.subarray(0, n))));
    return parsed.success ? parsed.data.token : null;
  } catch {
    return null;
  }
}

/** Wraps an acquired lock file: keeps its lease fresh and releases it once. */
function holdLock(
  path: string,
  owner: LockOwner,
  file: Deno.FsFile,
  tookOver: boolean,
  previousOwner: LockOwner | null,
  leaseMs: number,
): Lock {
  let released = false;
  // Refresh the lease (mtime) while we work, for waiters on other hosts.
  const refresher = setInterval(() => {
    const now = new Date();
    file.utime(now, now).catch(() => {});
  }, Math.max(100, leaseMs / 3));
  Deno.unrefTimer(refresher);

  const releaseSync = () => {
    if (released) return;
    released = true;
    clearInterval(refresher);
    try {
      // Unlink only the file we hold that still names us: after a take-over
      // (another host judged our lease expired) the same inode is theirs.
      const byPath = Deno.lstatSync(path);
      const byFile = file.statSync();
      if (
        byPath.ino === byFile.ino && byPath.dev === byFile.dev &&
        ownerTokenSync(file) === owner.token
      ) {
        Deno.removeSync(path);
      }
    } catch {
      // Already gone: nothing to unlink.
    }
    try {
      file.close();
    } catch {
      // Already closed.
    }
  };
  return {
    path,
    owner,
    tookOver,
    previousOwner,
    release: () => Promise.resolve(releaseSync()),
    releaseSync,
    [Symbol.asyncDispose]: () => Promise.resolve(releaseSync()),
  };
}

/**
 * The current owner recorded in a lock file, if any (for messages and tests).
 *
 * @example
 * ```ts
 * import { lockOwner } from "./lock.ts";
 * (await lockOwner("/p/symbols.parquet.lock"))?.pid;
 * ```
 */
export function lockOwner(path: string): Promise<LockOwner | null> {
  return readOwnerAt(path);
}

/**
 * Checks, without taking it, that a lock could be taken at `path`: nothing
 * is there, or a plain file with one link (a lock, live or stale). A
 * symlink, a folder or a hard link there is the same {@linkcode IngestError}
 * {@linkcode acquireLock} would throw, so a run can refuse it before doing
 * any work.
 *
 * @example
 * ```ts
 * import { checkLockPath } from "./lock.ts";
 * await checkLockPath("/p/data/symbols.parquet.lock");
 * ```
 */
export async function checkLockPath(path: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    throw err;
  }
  mustBePlainFile(path, info);
}
