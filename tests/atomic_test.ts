import assert from "node:assert/strict";
import {
  atomicReplace,
  NotDurableError,
  prepareReplace,
  removeStaleTemps,
  tempPathFor,
} from "../lib/fs/atomic.ts";
import { Catalog, NotDurableWrite } from "../lib/catalog/catalog.ts";
import { describeError } from "../lib/core/errors.ts";
import { catalogRows, fetched, mergeOnce, query, writeMerge } from "../testing/catalog.ts";
import { listing, tempProject } from "../testing/tmp.ts";

Deno.test("the target is replaced with what the writer wrote, temp file gone", async () => {
  await using project = await tempProject();
  const target = await project.write("x.json", "old");
  await atomicReplace(target, (temp) => Deno.writeTextFile(temp, "new"));
  assert.equal(await Deno.readTextFile(target), "new");
  assert.deepEqual(await listing(project.dir), ["x.json"]);
});

Deno.test("the temp file is hidden, in the same folder, and unique", () => {
  const a = tempPathFor("/p/data/symbols.parquet");
  const b = tempPathFor("/p/data/symbols.parquet");
  assert.match(a, new RegExp(`^/p/data/\\.symbols\\.parquet\\.${Deno.pid}\\.[0-9a-f]{8}\\.tmp$`));
  assert.notEqual(a, b);
});

Deno.test("with backup, the replaced version becomes <target>.bak", async () => {
  await using project = await tempProject();
  const target = await project.write("symbols.parquet", "v1");
  await atomicReplace(target, (temp) => Deno.writeTextFile(temp, "v2"), { backup: true });
  await atomicReplace(target, (temp) => Deno.writeTextFile(temp, "v3"), { backup: true });
  assert.equal(await Deno.readTextFile(target), "v3");
  assert.equal(await Deno.readTextFile(`${target}.bak`), "v2");
  assert.deepEqual(await listing(project.dir), ["symbols.parquet", "symbols.parquet.bak"]);
});

Deno.test("a first write creates the target and no backup", async () => {
  await using project = await tempProject();
  const target = `${project.dir}/symbols.parquet`;
  await atomicReplace(target, (temp) => Deno.writeTextFile(temp, "v1"), { backup: true });
  assert.deepEqual(await listing(project.dir), ["symbols.parquet"]);
});

Deno.test("a writer failing half-way (disk full) leaves the old file intact and no temp", async () => {
  await using project = await tempProject();
  const target = await project.write("symbols.parquet", "precious");
  await assert.rejects(
    () =>
      atomicReplace(target, async (temp) => {
        await Deno.writeTextFile(temp, "half a fi");
        throw new Deno.errors.WriteZero("No space left on device (os error 28)");
      }, { backup: true }),
    /No space left/,
  );
  assert.equal(await Deno.readTextFile(target), "precious");
  assert.deepEqual(await listing(project.dir), ["symbols.parquet"]);
});

Deno.test("a failing rename leaves the target intact and no temp", async () => {
  await using project = await tempProject();
  const target = `${project.dir}/taken`;
  await Deno.mkdir(`${target}/non-empty`, { recursive: true }); // rename over a non-empty dir fails
  await assert.rejects(() => atomicReplace(target, (temp) => Deno.writeTextFile(temp, "x")));
  assert.deepEqual(await listing(project.dir), ["taken"]);
});

Deno.test("removeStaleTemps clears crashed writers' temp files and nothing else", async () => {
  await using project = await tempProject();
  const target = await project.write("symbols.parquet", "x");
  await project.write(".symbols.parquet.123.0a1b2c3d.tmp", "crashed");
  await project.write(".symbols.parquet.bak.123.0a1b2c3d.tmp", "crashed");
  await project.write(".exchanges.parquet.123.0a1b2c3d.tmp", "someone else's");
  await project.write("symbols.parquet.lock", "{}");
  assert.equal(await removeStaleTemps(target), 2);
  assert.deepEqual(await listing(project.dir), [
    ".exchanges.parquet.123.0a1b2c3d.tmp",
    "symbols.parquet",
    "symbols.parquet.lock",
  ]);
});

Deno.test("prepared replacements touch nothing until committed; discard removes the temp", async () => {
  await using project = await tempProject();
  const a = await project.write("a", "a1");
  const b = await project.write("b", "b1");
  const pa = await prepareReplace(a, (temp) => Deno.writeTextFile(temp, "a2"), { backup: true });
  const pb = await prepareReplace(b, (temp) => Deno.writeTextFile(temp, "b2"));
  assert.deepEqual([await Deno.readTextFile(a), await Deno.readTextFile(b)], ["a1", "b1"]);
  await pa.commit();
  await pb.discard();
  assert.deepEqual([await Deno.readTextFile(a), await Deno.readTextFile(b)], ["a2", "b1"]);
  assert.deepEqual(await listing(project.dir), ["a", "a.bak", "b"]);
});

/** Makes fsync of folders fail (files still sync) until the returned function runs. */
function failFolderFsync(): () => void {
  const original = Deno.FsFile.prototype.sync;
  Deno.FsFile.prototype.sync = async function (this: Deno.FsFile) {
    if ((await this.stat()).isDirectory) throw new Error("injected EIO on the folder");
    return await original.call(this);
  };
  return () => Deno.FsFile.prototype.sync = original;
}

Deno.test("a folder fsync failing after the rename: NotDurableError, the new version in place", async () => {
  await using project = await tempProject();
  const target = await project.write("x.json", "old");
  const prepared = await prepareReplace(target, (temp) => Deno.writeTextFile(temp, "new"), {
    backup: true,
  });
  const restore = failFolderFsync();
  try {
    await assert.rejects(prepared.commit(), (err) => {
      assert.ok(err instanceof NotDurableError, String(err));
      assert.equal(err.target, target);
      assert.match(err.message, /was replaced, but fsync of its folder failed: injected EIO/);
      return true;
    });
  } finally {
    restore();
  }
  assert.equal(await Deno.readTextFile(target), "new");
  assert.equal(await Deno.readTextFile(`${target}.bak`), "old");
});

Deno.test("the catalog says its new version is in place when only durability is unconfirmed", async () => {
  await using project = await tempProject();
  await Deno.mkdir(`${project.dir}/data`);
  const path = `${project.dir}/data/symbols.parquet`;
  await mergeOnce(path, [fetched("NASDAQ:AAPL")]);
  await using catalog = await Catalog.open(path);
  await catalog.load();
  await catalog.plan([fetched("NASDAQ:AAPL", { description: "new" }), fetched("NYSE:KO")], [], {
    retireNotFound: false,
  });
  const restore = failFolderFsync();
  try {
    await assert.rejects(writeMerge(catalog, new Date()), (err) => {
      assert.ok(err instanceof NotDurableWrite, String(err));
      assert.match(
        describeError(err),
        /^the new catalog is in place, but its durability is not confirmed: .*symbols\.parquet was replaced, but fsync of its folder failed: injected EIO on the folder \(a power cut/,
      );
      assert.doesNotMatch(describeError(err), /intact/);
      assert.deepEqual(err.counts, { rows: 3, current: 2 });
      return true;
    });
  } finally {
    restore();
  }
  assert.equal((await catalogRows(path)).length, 3, "the new catalog is in place");
  const exchanges = await query("SELECT exchange FROM read_parquet($1) ORDER BY 1", [
    `${project.dir}/data/exchanges.parquet`,
  ]);
  assert.deepEqual(exchanges.map((e) => e.exchange), ["NASDAQ", "NYSE"], "and the exchanges");
});

Deno.test("a failed replace leaves .bak as it was (the older rollback point is kept)", async () => {
  await using project = await tempProject();
  const target = await project.write("symbols.parquet", "v1");
  await atomicReplace(target, (temp) => Deno.writeTextFile(temp, "v2"), { backup: true });
  assert.equal(await Deno.readTextFile(`${target}.bak`), "v1");
  const prepared = await prepareReplace(target, (temp) => Deno.writeTextFile(temp, "v3"), {
    backup: true,
  });
  await Deno.remove(prepared.temp); // the rename over the target will fail
  await assert.rejects(() => prepared.commit());
  assert.equal(await Deno.readTextFile(target), "v2");
  assert.equal(await Deno.readTextFile(`${target}.bak`), "v1", ".bak unchanged");
  assert.deepEqual(await listing(project.dir), ["symbols.parquet", "symbols.parquet.bak"]);
});

Deno.test("a temp file created outside the root (folder swapped for a symlink) is removed, and fails", async () => {
  await using project = await tempProject();
  await using other = await tempProject();
  await Deno.symlink(other.dir, `${project.dir}/data`);
  const target = `${project.dir}/data/symbols.parquet`;
  await assert.rejects(
    () => atomicReplace(target, (temp) => Deno.writeTextFile(temp, "x"), { root: project.dir }),
    /symbols\.parquet\..*\.tmp was created outside .*; it was removed/,
  );
  assert.deepEqual(await listing(other.dir), [], "nothing left outside");
});
