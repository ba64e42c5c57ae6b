/**
 * Crash safety with real processes and real signals: SIGKILL at random
 * moments never leaves an unreadable catalog or a lock that blocks the next
 * run; SIGTERM releases the lock; a full disk and a read-only folder are
 * clear errors that leave the old catalog as it was.
 */
import assert from "node:assert/strict";
import { query } from "../testing/catalog.ts";
import { type Cli, cliBoth, cliTest } from "../testing/cli.ts";
import { listing, tempProject } from "../testing/tmp.ts";
import { mirrorSymbols, startMirror } from "../testing/mirror.ts";
import { writeSyntheticCatalog } from "../testing/synthetic_catalog.ts";

const CATALOG = "data/lakehouse/symbols.parquet";
const TARGETS = mirrorSymbols(["NASDAQ"]).slice(0, 30);

/** The catalog's state as far as these tests care: readable, and which revision. */
async function state(path: string): Promise<{ rows: number; revisions: string[] }> {
  const [counts] = await query("SELECT count(*) AS rows FROM read_parquet($1)", [path]);
  const revisions = await query(
    `SELECT DISTINCT coalesce(regexp_extract(description, '\\(rev (\\d+)\\)', 1), '') AS rev
     FROM read_parquet($1) WHERE valid_until IS NULL AND symbol IN (SELECT unnest($2::VARCHAR[]))`,
    [path, `[${TARGETS.map((s) => `'${s}'`).join(",")}]`],
  );
  return { rows: counts.rows as number, revisions: revisions.map((r) => r.rev as string).sort() };
}

async function seeded(project: { dir: string }) {
  await Deno.mkdir(`${project.dir}/data/lakehouse`, { recursive: true });
  // Large enough that a merge takes a while: kills land inside it often.
  await writeSyntheticCatalog(`${project.dir}/${CATALOG}`, { symbols: 40_000, versions: 3 });
}

function args(url: string): string[] {
  return ["--symbols", TARGETS.join(","), "--base-url", url, "--lock-timeout-ms", "5000", "--json"];
}

for (const signal of ["SIGKILL", "SIGTERM"] as const) {
  cliBoth(
    `${signal} at random moments: the catalog is always old or new, the next run proceeds`,
    async (cli: Cli) => {
      await using project = await tempProject();
      await seeded(project);
      await using mirror = startMirror({ latencyMs: 2 });
      const path = `${project.dir}/${CATALOG}`;

      // How long does one run take here?
      mirror.configure({ revision: 10 });
      const timed = performance.now();
      assert.equal((await cli.run(args(mirror.url), { cwd: project.dir })).code, 0);
      const runMs = performance.now() - timed;

      let seed = signal === "SIGKILL" ? 11 : 29;
      const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
      let interruptedMidMerge = 0;
      let stoppedWithReport = 0;
      const rounds = 12;
      for (let round = 0; round < rounds; round++) {
        const before = await state(path);
        const revision = 11 + round;
        mirror.configure({ revision });
        const child = await cli.spawn(args(mirror.url), { cwd: project.dir });
        const stdout = new Response(child.stdout).text();
        const stderr = new Response(child.stderr).text();
        await new Promise((resolve) => setTimeout(resolve, random() * runMs * 1.1));
        try {
          child.kill(signal);
        } catch {
          // Already finished.
        }
        const status = await child.status;
        const [printed, log] = await Promise.all([stdout, stderr]);
        const lockLeft = await Deno.stat(`${path}.lock`).then(() => true, () => false);
        const tempsLeft = (await listing(`${project.dir}/data/lakehouse`)).filter((n) =>
          n.endsWith(".tmp")
        );
        if (lockLeft || tempsLeft.length) interruptedMidMerge++;
        // Old or new, never a mix, always readable.
        const after = await state(path);
        const old = before.revisions;
        const fresh = [String(revision)];
        if (signal === "SIGTERM") {
          // Graceful: nothing left behind, and the exit code says what was
          // written: 0 = the merge is in the catalog, 143 = nothing is.
          assert.equal(lockLeft, false, "SIGTERM releases the lock");
          assert.deepEqual(tempsLeft, [], "SIGTERM leaves no temp file");
          const written = JSON.stringify(after.revisions) === JSON.stringify(fresh) &&
            JSON.stringify(old) !== JSON.stringify(fresh);
          if (printed === "") {
            // Killed before its signal handlers were installed: it did nothing.
            assert.equal(status.signal, "SIGTERM", log);
            assert.equal(written, false, `round ${round}: no report, yet the merge was written`);
          } else {
            const report = JSON.parse(printed);
            if (status.code === 143) stoppedWithReport++;
            assert.equal(report.exit_code, status.code, `round ${round}: report and process agree`);
            assert.ok(
              [0, 143].includes(status.code),
              `round ${round}: exit ${status.code}: ${log}`,
            );
            assert.equal(
              written,
              status.code === 0,
              `round ${round}: exit ${status.code}, written ${written}`,
            );
            assert.equal(report.new + report.changed, written ? TARGETS.length : 0);
            if (status.code === 143) {
              assert.match(report.error, /^interrupted by SIGTERM.*nothing written$/);
            }
          }
        }
        assert.ok(
          JSON.stringify(after.revisions) === JSON.stringify(old) ||
            JSON.stringify(after.revisions) === JSON.stringify(fresh),
          `round ${round}: ${JSON.stringify(after.revisions)} is neither ${
            JSON.stringify(old)
          } nor ${fresh}`,
        );
        assert.ok(after.rows === before.rows || after.rows === before.rows + TARGETS.length);

        // The next run is not blocked by whatever the killed run left.
        const started = performance.now();
        const next = await cli.run(args(mirror.url), { cwd: project.dir });
        assert.equal(next.code, 0, next.stderr);
        assert.ok(performance.now() - started < 4000, "promptly (no lock wait)");
        assert.deepEqual((await state(path)).revisions, fresh);
        assert.deepEqual(
          (await listing(`${project.dir}/data/lakehouse`)).filter((n) =>
            n.endsWith(".tmp") || n.endsWith(".lock")
          ),
          [],
        );
      }
      // The test is only worth something if some signals landed mid-merge.
      if (signal === "SIGKILL") assert.ok(interruptedMidMerge > 0, "no kill landed inside a merge");
      if (signal === "SIGTERM") {
        assert.ok(stoppedWithReport > 0, "no SIGTERM stopped a running run");
      }
    },
  );
}

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
