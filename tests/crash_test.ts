/**
 * Crash safety with real processes and real signals: SIGKILL at chosen
 * moments never leaves an unreadable catalog or a lock that blocks the next
 * run (the torture is in testing/torture.ts; SIGTERM's is in
 * crash_term_test.ts, so the two run in parallel); a full disk and a
 * read-only folder are clear errors that leave the old catalog as it was.
 */
import assert from "node:assert/strict";
import { type Cli, cliTest } from "../testing/cli.ts";
import { listing, tempProject } from "../testing/tmp.ts";
import { startMirror } from "../testing/mirror.ts";
import { torture } from "../testing/torture.ts";
import { writeSyntheticCatalog } from "../testing/synthetic_catalog.ts";

const CATALOG = "data/lakehouse/symbols.parquet";

cliTest(
  "SIGKILL at chosen moments: the catalog is always old or new, the next run proceeds",
  (cli: Cli) => torture(cli, "SIGKILL"),
);

/** Mounts a tmpfs (root only); null when this machine does not allow it. */
async function mountTmpfs(dir: string, options: string): Promise<(() => Promise<void>) | null> {
  await Deno.mkdir(dir, { recursive: true });
  const mount = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", options, "tmpfs", dir],
    stderr: "null",
  })
    .output().catch(() => null);
  if (!mount?.success) return null;
  return async () => {
    await new Deno.Command("umount", { args: [dir] }).output();
  };
}

const canMount = await (async () => {
  const dir = await Deno.makeTempDir();
  const unmount = await mountTmpfs(`${dir}/m`, "size=64k");
  await unmount?.();
  await Deno.remove(dir, { recursive: true });
  return unmount !== null;
})();
const mountSkip = canMount ? {} : { skip: "mounting a tmpfs needs root and mount(8) here" };

cliTest(
  "a full disk: exit 1, the old catalog intact, no temp file left",
  async (cli: Cli) => {
    await using project = await tempProject();
    await using mirror = startMirror();
    const folder = `${project.dir}/data/lakehouse`;
    const unmount = await mountTmpfs(folder, "size=192k");
    assert.ok(unmount);
    try {
      await writeSyntheticCatalog(`${project.dir}/${CATALOG}`, { symbols: 2500, noisy: true });
      const size = (await Deno.stat(`${project.dir}/${CATALOG}`)).size;
      assert.ok(size > 96 * 1024, `catalog of ${size} bytes cannot be written twice in 192 KiB`);
      const bytes = await Deno.readFile(`${project.dir}/${CATALOG}`);
      const result = await cli.run(
        ["--symbols", "NASDAQ:AAPL", "--base-url", mirror.url, "--json"],
        { cwd: project.dir },
      );
      assert.equal(result.code, 1, result.stderr);
      assert.match(
        result.stderr,
        /cannot write the catalog .*symbols\.parquet: .*(space|No space)/i,
      );
      assert.match(result.stderr, /the previous version is intact/);
      // The report lists nothing as written, since nothing was.
      const report = JSON.parse(result.stdout);
      assert.equal(report.exit_code, 1);
      assert.match(report.error, /cannot write the catalog/);
      assert.deepEqual([report.new, report.changed, report.retired, report.changes], [0, 0, 0, []]);
      assert.equal(report.fetched, 1);
      assert.deepEqual(await Deno.readFile(`${project.dir}/${CATALOG}`), bytes);
      assert.deepEqual(await listing(folder), ["symbols.parquet"]);
    } finally {
      await unmount();
    }
  },
  mountSkip,
);

cliTest(
  "a read-only catalog folder: a clear error before any request, nothing written",
  async (cli: Cli) => {
    await using project = await tempProject();
    await using mirror = startMirror();
    const folder = `${project.dir}/data/lakehouse`;
    const unmount = await mountTmpfs(folder, "size=1m");
    assert.ok(unmount);
    try {
      await writeSyntheticCatalog(`${project.dir}/${CATALOG}`, { symbols: 10 });
      const bytes = await Deno.readFile(`${project.dir}/${CATALOG}`);
      await new Deno.Command("mount", { args: ["-o", "remount,ro", folder] }).output();
      const result = await cli.run(["--symbols", "NASDAQ:AAPL", "--base-url", mirror.url], {
        cwd: project.dir,
      });
      assert.equal(result.code, 1, result.stderr);
      assert.match(
        result.stderr,
        /cannot write in the catalog's folder .*lakehouse: .*Read-only file system/,
      );
      assert.match(result.stderr, /check its permissions and free space; nothing was fetched/);
      assert.equal(mirror.stats.requests, 0, "found before the first request");
      assert.deepEqual(await Deno.readFile(`${project.dir}/${CATALOG}`), bytes);
    } finally {
      await unmount();
    }
  },
  mountSkip,
);
