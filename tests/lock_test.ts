import assert from "node:assert/strict";
import { hostname } from "node:os";
import { join } from "node:path";
import { IngestError } from "../lib/core/errors.ts";
import { acquireLock, lockOwner, LockTimeoutError } from "../lib/fs/lock.ts";
import { VERSION } from "../lib/core/version.ts";
import { REPO_ROOT } from "../tools/permissions.ts";
import { FakeClock } from "../testing/clock.ts";
import { tempProject } from "../testing/tmp.ts";

const HOLDER = join(REPO_ROOT, "testing/hold_lock.ts");

/** A lock file's content, as an owner (dead or elsewhere) would have left it. */
function ownerRecord(owner: { pid: number; host: string; token?: string }): string {
  return JSON.stringify({
    started_at: "2026-01-01T00:00:00Z",
    tool: "meta-ingest",
    version: "0.0.1",
    token: "x",
    ...owner,
  });
}

function holder(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-q", "-A", HOLDER, ...args],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
}

/** Starts a child that holds the lock; resolves once it has it. */
async function heldByChild(path: string, holdMs: number) {
  const child = holder([path, String(holdMs)]);
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const { value } = await reader.read();
  assert.match(value ?? "", /^acquired \d+/);
  reader.releaseLock();
  return child;
}

Deno.test("the lock file is created with createNew and names its owner", async () => {
  await using project = await tempProject();
  const path = `${project.dir}/symbols.parquet.lock`;
  const lock = await acquireLock(path, { timeoutMs: 0 });
  const owner = await lockOwner(path);
  assert.equal(owner?.pid, Deno.pid);
  assert.equal(owner?.host, hostname());
  assert.equal(owner?.tool, "meta-ingest");
  assert.equal(owner?.version, VERSION);
  assert.ok(!Number.isNaN(Date.parse(owner?.started_at ?? "")));
  assert.equal(lock.tookOver, false);
  await lock.release();
  await lock.release(); // idempotent
  assert.equal(await Deno.stat(path).catch(() => null), null);
});

Deno.test("a waiter gives up after the timeout, naming the holder", async () => {
  await using project = await tempProject();
  const path = `${project.dir}/symbols.parquet.lock`;
  const child = await heldByChild(path, 60_000);
  const clock = new FakeClock();
  const started = clock.now();
  await assert.rejects(
    () => acquireLock(path, { timeoutMs: 400, clock }),
    (err) =>
      err instanceof LockTimeoutError &&
      err.message.includes(`is locked by pid ${child.pid} on ${hostname()}`) &&
      /gave up after 400 ms/.test(err.message),
  );
  assert.equal(clock.now() - started, 400, "it waited the whole timeout, no more");
  assert.ok(clock.sleeps.length <= 8, `polled with backoff: ${clock.sleeps.map(Math.round)}`);
  child.kill("SIGKILL");
  await child.status;
});

Deno.test("a waiter gets the lock as soon as the holder releases it", async () => {
  await using project = await tempProject();
  const path = `${project.dir}/symbols.parquet.lock`;
  const child = await heldByChild(path, 300);
  const lock = await acquireLock(path, { timeoutMs: 10_000 });
  assert.equal(lock.tookOver, false);
  assert.equal((await child.status).code, 0);
  await lock.release();
});

Deno.test("a SIGKILLed holder's lock is taken over at once", async () => {
  await using project = await tempProject();
  const path = `${project.dir}/symbols.parquet.lock`;
  const child = await heldByChild(path, 60_000);
  child.kill("SIGKILL");
  await child.status;
  assert.equal((await lockOwner(path))?.pid, child.pid, "the dead owner's file is still there");
  const events: string[] = [];
  const lock = await acquireLock(path, { timeoutMs: 5_000, onEvent: (m) => events.push(m) });
  assert.deepEqual([lock.attempts, lock.waitedMs], [1, 0], "acquired on the first try");
  assert.equal(lock.tookOver, true);
  assert.equal(lock.previousOwner?.pid, child.pid);
  assert.match(events.join("\n"), new RegExp(`took over a stale lock from pid ${child.pid}`));
  await lock.release();
});

Deno.test("a lock file left by a dead process (or empty) is stale", async () => {
  await using project = await tempProject();
  const path = `${project.dir}/symbols.parquet.lock`;
  await Deno.writeTextFile(
    path,
    ownerRecord({ pid: 999999, host: hostname() }),
  );
  const lock = await acquireLock(path, { timeoutMs: 0 });
  assert.equal(lock.previousOwner?.pid, 999999);
  await lock.release();
  await Deno.writeTextFile(path, "");
  const again = await acquireLock(path, { timeoutMs: 0 });
  assert.equal(again.tookOver, true);
  assert.equal(again.previousOwner, null);
  await again.release();
});

function foreignOwner(token = "x") {
  return ownerRecord({ pid: 1, host: "some-other-host", token });
}

Deno.test("another host's lock is respected while its holder refreshes it", async () => {
  await using project = await tempProject();
  const path = `${project.dir}/symbols.parquet.lock`;
  await Deno.writeTextFile(path, foreignOwner());
  // The remote holder keeps its lease fresh: it touches the file whenever
  // the waiter's time moves (a FakeClock: a busy machine changes nothing).
  class RefreshedWhileWaiting extends FakeClock {
    override async sleep(ms: number, signal?: AbortSignal): Promise<void> {
      await super.sleep(ms, signal);
      const now = new Date(this.now());
      await Deno.utime(path, now, now);
    }
  }
  const clock = new RefreshedWhileWaiting();
  await assert.rejects(
    () => acquireLock(path, { timeoutMs: 2_000, leaseMs: 300, clock }),
    /locked by pid 1 on some-other-host/,
  );
  assert.ok(clock.sleeps.length > 3, "it polled the lease, and never took the lock over");
});

Deno.test("another host's lock is taken over once its mtime stands still for a lease, whatever its clock", async () => {
  await using project = await tempProject();
  const path = `${project.dir}/symbols.parquet.lock`;
  await Deno.writeTextFile(path, foreignOwner());
  // Its clock is an hour ahead: age by our clock would say "fresh" forever.
  const ahead = new Date(Date.now() + 3_600_000);
  await Deno.utime(path, ahead, ahead);
  const clock = new FakeClock();
  const lock = await acquireLock(path, { timeoutMs: 3000, leaseMs: 300, clock });
  // Not before the lease ran out by our clock, and at the first poll after it.
  const last = clock.sleeps.at(-1) ?? 0;
  assert.ok(lock.waitedMs >= 300, `took over after ${lock.waitedMs} ms`);
  assert.ok(lock.waitedMs < last + 300, `polls: ${clock.sleeps.map(Math.round)}`);
  assert.equal(lock.previousOwner?.host, "some-other-host");
  await lock.release();
});

Deno.test("a symlink at the lock path is refused, never followed (and no busy loop)", async () => {
  await using project = await tempProject();
  await using other = await tempProject();
  const path = `${project.dir}/symbols.parquet.lock`;
  const victim = await other.write("victim.txt", "keep me");
  for (const target of [victim, `${other.dir}/missing`]) {
    await Deno.remove(path).catch(() => {});
    await Deno.symlink(target, path);
    const clock = new FakeClock();
    await assert.rejects(
      () => acquireLock(path, { timeoutMs: 5000, clock }),
      (err) => err instanceof IngestError && /lock path .* is a symlink/.test(err.message),
    );
    assert.deepEqual(clock.sleeps, [], "refused on the first try, no waiting");
  }
  assert.equal(await Deno.readTextFile(victim), "keep me");
});

Deno.test("after a take-over of the same file, the old holder's release leaves it alone", async () => {
  await using project = await tempProject();
  const path = `${project.dir}/symbols.parquet.lock`;
  const lock = await acquireLock(path, { timeoutMs: 0 });
  // As a waiter on another host would after our lease: same inode, new owner.
  await Deno.writeTextFile(path, foreignOwner("theirs"));
  await lock.release();
  assert.equal(JSON.parse(await Deno.readTextFile(path)).token, "theirs");
});

Deno.test("the holder refreshes its lease while it works", async () => {
  await using project = await tempProject();
  const path = `${project.dir}/symbols.parquet.lock`;
  const lock = await acquireLock(path, { timeoutMs: 0, leaseMs: 300 });
  const first = (await Deno.stat(path)).mtime!.getTime();
  // Refreshed every 100 ms: poll until it moves (a lease that is never
  // refreshed hangs here until the 20 s hang-stopper).
  let later = first;
  for (let polls = 0; later === first && polls < 2000; polls++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    later = (await Deno.stat(path)).mtime!.getTime();
  }
  assert.ok(later > first, `mtime ${first} -> ${later}`);
  await lock.release();
});

Deno.test("release never removes a lock that is no longer ours", async () => {
  await using project = await tempProject();
  const path = `${project.dir}/symbols.parquet.lock`;
  const lock = await acquireLock(path, { timeoutMs: 0 });
  await Deno.rename(path, `${path}.moved`);
  await Deno.writeTextFile(path, "someone else");
  await lock.release();
  assert.equal(await Deno.readTextFile(path), "someone else");
});

Deno.test("eight processes contending (from a stale lock) never overlap", async () => {
  await using project = await tempProject();
  const path = `${project.dir}/symbols.parquet.lock`;
  const log = `${project.dir}/log.txt`;
  // Start from a stale lock: every contender sees a dead owner at once.
  await Deno.writeTextFile(
    path,
    ownerRecord({ pid: 999999, host: hostname() }),
  );
  const children = Array.from({ length: 8 }, () => holder([path, "5", log, "5"]));
  const statuses = await Promise.all(children.map((c) => c.status));
  assert.ok(statuses.every((s) => s.code === 0));
  const lines = (await Deno.readTextFile(log)).trim().split("\n");
  assert.equal(lines.length, 8 * 5 * 2);
  for (let i = 0; i < lines.length; i += 2) {
    const [enter, exit] = [lines[i].split(" "), lines[i + 1].split(" ")];
    assert.deepEqual(
      [enter[0], exit[0], enter[1]],
      ["enter", "exit", exit[1]],
      `overlap at line ${i}`,
    );
  }
  assert.equal(await Deno.stat(path).catch(() => null), null, "no lock file left");
});

Deno.test("a hard-linked lock file is refused and the file it shares is never written", async () => {
  await using project = await tempProject();
  await using other = await tempProject();
  const path = `${project.dir}/symbols.parquet.lock`;
  const victim = await other.write("victim.txt", "IMPORTANT\n");
  await Deno.link(victim, path);
  await assert.rejects(
    () => acquireLock(path, { timeoutMs: 2000 }),
    (err) =>
      err instanceof IngestError &&
      /lock path .* is a file with 2 hard links/.test(err.message) &&
      /never writes into one it did not create/.test(err.hint ?? ""),
  );
  assert.equal(await Deno.readTextFile(victim), "IMPORTANT\n");
  assert.equal(await Deno.readTextFile(path), "IMPORTANT\n", "the link is left for the user");
});

Deno.test("a stale lock is replaced by a new file, never rewritten in place", async () => {
  await using project = await tempProject();
  const path = `${project.dir}/symbols.parquet.lock`;
  await Deno.writeTextFile(path, ownerRecord({ pid: 999999, host: hostname() }));
  // Another name for the same inode would see any write into it.
  using stale = await Deno.open(path, { read: true });
  const staleIno = (await stale.stat()).ino;
  const before = await Deno.readTextFile(path);
  const lock = await acquireLock(path, { timeoutMs: 0 });
  assert.equal(lock.tookOver, true);
  assert.notEqual((await Deno.lstat(path)).ino, staleIno, "a new inode");
  const buffer = new Uint8Array(4096);
  await stale.seek(0, Deno.SeekMode.Start);
  const n = await stale.read(buffer);
  assert.equal(new TextDecoder().decode(buffer.subarray(0, n ?? 0)), before, "old file untouched");
  assert.equal((await lockOwner(path))?.pid, Deno.pid);
  await lock.release();
});

Deno.test("a lock file created outside the root (folder swapped for a symlink) is removed, and fails", async () => {
  await using project = await tempProject();
  await using other = await tempProject();
  // The folder resolved inside the root earlier; now it is a symlink out.
  await Deno.symlink(other.dir, `${project.dir}/data`);
  const path = `${project.dir}/data/symbols.parquet.lock`;
  await assert.rejects(
    () => acquireLock(path, { timeoutMs: 0, root: project.dir }),
    (err) =>
      err instanceof IngestError && /lock file .* was created outside .*; it was removed/.test(
        err.message,
      ),
  );
  assert.deepEqual([...Deno.readDirSync(other.dir)], [], "nothing left outside");
});
