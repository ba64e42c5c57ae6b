/**
 * testing/ceph.ts itself: a store starts, answers S3, and leaves nothing
 * behind, whether stopped explicitly or by its watchdog when its owner dies.
 * Each test starts its own cluster (about 10-15 s); ignored without Ceph.
 */
import assert from "node:assert/strict";
import { adminClient, cephUnavailable, startCeph } from "../testing/ceph.ts";

const skipped = cephUnavailable();

function cephTest(name: string, fn: () => Promise<void>): void {
  Deno.test({
    name: skipped ? `${name} [skipped: ${skipped}]` : name,
    ignore: skipped !== null,
    fn,
  });
}

async function pidsOf(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for await (const entry of Deno.readDir(`${dir}/run`)) {
    if (entry.name.endsWith(".pid")) {
      pids.push(Number((await Deno.readTextFile(`${dir}/run/${entry.name}`)).trim()));
    }
  }
  return pids.sort();
}

async function running(pid: number): Promise<boolean> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => null);
  return stat !== null && !/\) [ZX] /.test(stat);
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

cephTest(
  "a Ceph store answers S3 with its user's keys, its gateway restarts, and stop() leaves nothing",
  async () => {
    const store = await startCeph();
    const pids = await pidsOf(store.dir);
    try {
      assert.equal(pids.length, 3, "monitor, OSD, gateway");
      assert.ok(store.startupMs > 0);
      assert.ok(await store.memoryBytes() > 0);
      const res = await adminClient(store).fetch(`${store.endpoint}/`);
      const body = await res.text();
      assert.equal(res.status, 200, body);
      assert.match(body, /<ID>meta-ingest-test<\/ID>/, "signed in as the test user");

      // The gateway alone stops (connections refused) and comes back with the data.
      const put = await adminClient(store).fetch(`${store.endpoint}/keep`, { method: "PUT" });
      assert.equal(put.status, 200, await put.text());
      await store.stopGateway();
      await assert.rejects(fetch(`${store.endpoint}/`), TypeError);
      assert.equal((await pidsOf(store.dir)).length, 2, "monitor and OSD still run");
      await store.startGateway();
      const head = await adminClient(store).fetch(`${store.endpoint}/keep`, { method: "HEAD" });
      await head.body?.cancel();
      assert.equal(head.status, 200, "the bucket survived");
      pids.splice(0, pids.length, ...(await pidsOf(store.dir)));
    } finally {
      await store.stop();
    }
    for (const pid of pids) assert.equal(await running(pid), false, `pid ${pid}`);
    assert.equal(await exists(store.dir), false);
    await store.stop(); // twice is fine
  },
);

cephTest("a Ceph store whose owner dies is stopped by its watchdog", async () => {
  const owner = new Deno.Command("sleep", { args: ["600"], stdout: "null", stderr: "null" })
    .spawn();
  const store = await startCeph({ owner: owner.pid });
  const pids = await pidsOf(store.dir);
  try {
    assert.equal(pids.length, 3);
    owner.kill("SIGKILL");
    await owner.status;
    const until = Date.now() + 60_000;
    while (await exists(store.dir) && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.equal(await exists(store.dir), false, "the folder is removed");
    for (const pid of pids) assert.equal(await running(pid), false, `pid ${pid}`);
  } finally {
    await store.stop();
  }
});
