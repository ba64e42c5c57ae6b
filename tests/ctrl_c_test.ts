/**
 * One Ctrl-C, as a terminal sends it: SIGINT to the whole foreground process
 * group. Under `deno task` (and so `make`) the task runner forwards it to
 * the tool as well, so the tool receives it twice, a millisecond apart, and
 * must take it as one press: stop gracefully, report what was done.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { signalGate } from "../lib/core/signals.ts";
import { cliTest } from "../testing/cli.ts";
import { mirrorSymbols, startMirror } from "../testing/mirror.ts";
import { tempProject } from "../testing/tmp.ts";
import { writeSyntheticCatalog } from "../testing/synthetic_catalog.ts";
import { REPO_ROOT } from "../tools/permissions.ts";

Deno.test("the signal gate: the same signal within the window is one press; later or other, a second", () => {
  let now = 1_000;
  const gate = signalGate({ windowMs: 500, now: () => now });
  assert.equal(gate("SIGINT"), "first");
  now += 1;
  assert.equal(gate("SIGINT"), "duplicate", "forwarded by deno task");
  now += 498;
  assert.equal(gate("SIGINT"), "duplicate", "still the same press");
  now += 1;
  assert.equal(gate("SIGINT"), "again", "a deliberate second press");
  const other = signalGate({ windowMs: 500, now: () => now });
  assert.equal(other("SIGINT"), "first");
  assert.equal(other("SIGTERM"), "again", "no key press sends two kinds of signal");
});

/** Sends `signal` to every process of the group `pgid`, as a terminal does. */
async function killGroup(pgid: number, signal: string): Promise<void> {
  const kill = await new Deno.Command("kill", { args: [`-${signal}`, "--", `-${pgid}`] }).output();
  assert.equal(kill.code, 0, new TextDecoder().decode(kill.stderr));
}

Deno.test("one Ctrl-C to `deno task ingest:local`'s process group stops gracefully, progress honest", async () => {
  // A slow mirror: 120 symbols at 3 in flight and 300 ms each take 12 s.
  await using mirror = startMirror({ latencyMs: 300 });
  // deno task runs in this repository (its project root), so the catalog lives here.
  await Deno.mkdir(join(REPO_ROOT, ".scratch"), { recursive: true });
  const scratch = await Deno.makeTempDir({ dir: join(REPO_ROOT, ".scratch"), prefix: "ctrl-c-" });
  const catalog = `${scratch.slice(REPO_ROOT.length + 1)}/symbols.parquet`;
  const symbols = mirrorSymbols(["NASDAQ", "NYSE"]).slice(0, 120);
  assert.equal(symbols.length, 120);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "task",
      "-q",
      "ingest:local",
      "--symbols",
      symbols.join(","),
      "--base-url",
      mirror.url,
      "--catalog-path",
      catalog,
      "--json",
    ],
    cwd: REPO_ROOT,
    // Its own process group (pid = pgid), as a terminal's foreground job.
    detached: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new Response(child.stdout).text();
  const stderr = new Response(child.stderr).text();
  try {
    const deadline = performance.now() + 60_000;
    while (mirror.stats.requests < 9) {
      assert.ok(performance.now() < deadline, "the fetch never started");
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await killGroup(child.pid, "INT");
    const status = await child.status;
    const log = await stderr;
    const requests = mirror.stats.requests;
    assert.equal(status.code, 130, log);
    const report = JSON.parse(await stdout);
    assert.equal(report.exit_code, 130);
    assert.equal(report.error, "interrupted by SIGINT; nothing written");
    assert.match(log, /SIGINT received: stopping/);
    assert.doesNotMatch(log, /second signal/, "one press is one signal");
    // Progress shows only what was done: never more than the requests sent.
    const final = /^fetched (\d+)\/120 \(\d+%\).*; (\d+) not fetched$/m.exec(log);
    assert.ok(final, `a final progress line in:\n${log}`);
    const done = Number(final[1]);
    assert.ok(
      done <= requests && done < 120,
      `progress says ${done} done after ${requests} requests`,
    );
    assert.equal(done + Number(final[2]), 120);
    assert.equal(report.fetched + report.failed.length + report.skipped.length, 120);
    assert.deepEqual(
      [...Deno.readDirSync(scratch)].map((e) => e.name),
      [],
      "nothing written",
    );
  } finally {
    try {
      Deno.kill(-child.pid, "SIGKILL");
    } catch {
      // already gone
    }
    await child.status;
    await Deno.remove(scratch, { recursive: true });
  }
});

cliTest(
  "the same SIGINT twice, 30 ms apart (one press, forwarded), during the write: ignored, the write lands",
  async (cli) => {
    // The process-group test above cannot always tell: a graceful stop with
    // nothing to write may exit before the forwarded copy arrives, and two
    // copies that arrive together may merge into one delivery. Here the run
    // is still busy (its write goes on after a signal) and the copies are
    // sent apart, so the gate alone decides.
    await using project = await tempProject();
    await using mirror = startMirror();
    const folder = join(project.dir, "data/lakehouse");
    await Deno.mkdir(folder, { recursive: true });
    await writeSyntheticCatalog(join(folder, "symbols.parquet"), { symbols: 60_000, versions: 3 });
    const targets = mirrorSymbols(["NASDAQ"]).slice(0, 5);
    const child = await cli.spawn(
      ["--symbols", targets.join(","), "--base-url", mirror.url, "--json"],
      { cwd: project.dir },
    );
    const stdout = new Response(child.stdout).text();
    const stderr = new Response(child.stderr).text();
    const deadline = performance.now() + 60_000;
    const writing = () =>
      [...Deno.readDirSync(folder)].some((e) => /^\.symbols\.parquet\..*\.tmp$/.test(e.name));
    while (!writing()) {
      assert.ok(performance.now() < deadline, "the write never started");
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    child.kill("SIGINT");
    await new Promise((resolve) => setTimeout(resolve, 30));
    child.kill("SIGINT");
    const status = await child.status;
    const log = await stderr;
    assert.doesNotMatch(log, /second signal/, "one press is one signal");
    assert.equal(status.code, 0, log);
    const report = JSON.parse(await stdout);
    assert.deepEqual([report.exit_code, report.new], [0, targets.length]);
    assert.match(log, /SIGINT arrived after the last point where the run could stop/);
  },
);
