/**
 * The crash torture shared by tests/crash_test.ts (SIGKILL) and
 * tests/crash_term_test.ts (SIGTERM): runs of the real CLI on a seeded
 * catalog, each hit by the signal at a chosen moment, and after each the
 * catalog must be the old or the new version, readable, and the next run
 * must proceed without waiting for a lock.
 *
 * Kill moments are chosen, not left to chance, so a few rounds cover every
 * phase: half the rounds are spread evenly over a whole run (fetch, merge,
 * write), the other half over the merge itself, found by watching for the
 * lock file, which exists exactly while a run merges and writes.
 *
 * @module
 */
import assert from "node:assert/strict";
import { query } from "./catalog.ts";
import type { Cli } from "./cli.ts";
import { listing, tempProject } from "./tmp.ts";
import { mirrorSymbols, startMirror } from "./mirror.ts";
import { writeSyntheticCatalog } from "./synthetic_catalog.ts";

const CATALOG = "data/lakehouse/symbols.parquet";
const TARGETS = mirrorSymbols(["NASDAQ"]).slice(0, 30);

/**
 * Rounds of one torture: half anywhere in a run, half inside the merge. The
 * runs use the default endpoint mode (auto: /scan for the catalog's symbols,
 * /symbol for the spot check); the endpoint changes only the fetch, and the
 * merge and the write are what is tortured.
 */
const ROUNDS = 6;

/** The catalog's state as far as the torture cares: readable, and which revision. */
async function state(path: string): Promise<{ rows: number; revisions: string[] }> {
  const [counts] = await query("SELECT count(*) AS rows FROM read_parquet($1)", [path]);
  const revisions = await query(
    `SELECT DISTINCT coalesce(regexp_extract(description, '\\(rev (\\d+)\\)', 1), '') AS rev
     FROM read_parquet($1) WHERE valid_until IS NULL AND symbol IN (SELECT unnest($2::VARCHAR[]))`,
    [path, `[${TARGETS.map((s) => `'${s}'`).join(",")}]`],
  );
  return { rows: counts.rows as number, revisions: revisions.map((r) => r.rev as string).sort() };
}

function args(url: string): string[] {
  return ["--symbols", TARGETS.join(","), "--base-url", url, "--lock-timeout-ms", "5000", "--json"];
}

const exists = (path: string) => Deno.stat(path).then(() => true, () => false);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once `path` exists (true), or the process ended first (false). */
async function whenExists(path: string, ended: Promise<unknown>): Promise<boolean> {
  let done = false;
  ended.then(() => (done = true));
  while (!done) {
    if (await exists(path)) return true;
    await sleep(1);
  }
  return false;
}

/**
 * One torture: `signal` at chosen moments of real runs; see the module doc.
 * Throws (an assertion) when a catalog is ever neither old nor new, a run
 * after a kill waits for a lock or fails, or, for SIGTERM, the report and
 * the process disagree.
 */
export async function torture(
  cli: Cli,
  signal: "SIGKILL" | "SIGTERM",
): Promise<void> {
  await using project = await tempProject();
  await Deno.mkdir(`${project.dir}/data/lakehouse`, { recursive: true });
  // Large enough that a merge has phases to land in (the kills aim at it).
  await writeSyntheticCatalog(`${project.dir}/${CATALOG}`, { symbols: 10_000, versions: 3 });
  await using mirror = startMirror({ latencyMs: 2 });
  const path = `${project.dir}/${CATALOG}`;
  const lockPath = `${path}.lock`;

  // How long does one run take here, and how long is its merge?
  mirror.configure({ revision: 10 });
  const timed = performance.now();
  const first = await cli.spawn(args(mirror.url), { cwd: project.dir });
  const firstOut = new Response(first.stdout).text();
  const firstErr = new Response(first.stderr).text();
  let mergeFrom = -1;
  let mergeUntil = -1;
  const firstEnded = first.status;
  if (await whenExists(lockPath, firstEnded)) {
    mergeFrom = performance.now() - timed;
    while (await exists(lockPath)) await sleep(1);
    mergeUntil = performance.now() - timed;
  }
  assert.equal((await firstEnded).code, 0, await firstErr);
  await firstOut;
  const runMs = performance.now() - timed;
  const mergeMs = mergeFrom >= 0 ? Math.max(5, mergeUntil - mergeFrom) : 50;

  let seed = signal === "SIGKILL" ? 11 : 29;
  const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
  let interruptedMidMerge = 0;
  let stoppedWithReport = 0;
  let nextRuns = 0;
  const spread = Math.ceil(ROUNDS / 2);
  for (let round = 0; round < ROUNDS; round++) {
    const before = await state(path);
    const revision = 11 + round;
    mirror.configure({ revision });
    const child = await cli.spawn(args(mirror.url), { cwd: project.dir });
    const stdout = new Response(child.stdout).text();
    const stderr = new Response(child.stderr).text();
    if (round % 2 === 0) {
      // Anywhere in a run: the k-th of these rounds in the k-th slice of it.
      const k = round / 2;
      await sleep(((k + random()) / spread) * runMs * 1.1);
    } else {
      // Inside the merge: once the lock exists, somewhere in its span.
      const k = (round - 1) / 2;
      if (await whenExists(lockPath, child.status)) {
        await sleep(((k + random()) / spread) * mergeMs);
      }
    }
    try {
      child.kill(signal);
    } catch {
      // Already finished.
    }
    const status = await child.status;
    const [printed, log] = await Promise.all([stdout, stderr]);
    const lockLeft = await exists(lockPath);
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
        assert.ok([0, 143].includes(status.code), `round ${round}: exit ${status.code}: ${log}`);
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

    // Whatever the killed run left (a lock file, temp files), the next run
    // proceeds at once: it never waits for the lock, and it cleans up. Shown
    // after the first two rounds that left something, and after the last;
    // after the others, the next round's run is the next run.
    if (((lockLeft || tempsLeft.length) && nextRuns < 2) || round === ROUNDS - 1) {
      nextRuns++;
      const next = await cli.run(args(mirror.url), { cwd: project.dir });
      assert.equal(next.code, 0, next.stderr);
      assert.doesNotMatch(next.stderr, /waiting for .*\.lock, held by/, "no lock wait");
      assert.deepEqual((await state(path)).revisions, fresh);
      assert.deepEqual(
        (await listing(`${project.dir}/data/lakehouse`)).filter((n) =>
          n.endsWith(".tmp") || n.endsWith(".lock")
        ),
        [],
      );
    }
  }
  // The torture is only worth something if some signals landed mid-merge.
  if (signal === "SIGKILL") assert.ok(interruptedMidMerge > 0, "no kill landed inside a merge");
  if (signal === "SIGTERM") assert.ok(stoppedWithReport > 0, "no SIGTERM stopped a running run");
  assert.ok(nextRuns > 0);
}
