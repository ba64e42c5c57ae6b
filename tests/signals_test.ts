/**
 * One source of truth under signals: the JSON report's `exit_code` is the
 * process's exit code, the report is printed however the run ends, it says
 * what was written and nothing more, and it carries the catalog's real size
 * whenever the catalog was read.
 */
import assert from "node:assert/strict";
import { query } from "../testing/catalog.ts";
import { type Cli, cliTest } from "../testing/cli.ts";
import { listing, tempProject } from "../testing/tmp.ts";
import { mirrorSymbols, startMirror } from "../testing/mirror.ts";
import { writeSyntheticCatalog } from "../testing/synthetic_catalog.ts";

const CATALOG = "data/lakehouse/symbols.parquet";
const FOLDER = "data/lakehouse";

async function collect(stream: ReadableStream<Uint8Array>): Promise<string> {
  return await new Response(stream).text();
}

/** Polls until `ready()` holds (every 2 ms), or fails after `ms`. */
async function until(ready: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await ready())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

async function tempWritten(dir: string): Promise<boolean> {
  return (await listing(dir)).some((n) => n.startsWith(".symbols.parquet.") && n.endsWith(".tmp"));
}

async function rowCount(path: string): Promise<number> {
  const [{ n }] = await query("SELECT count(*)::INTEGER AS n FROM read_parquet($1)", [path]);
  return n as number;
}

/** A large catalog, so its write takes long enough for a signal to land inside it. */
async function bigCatalog(dir: string): Promise<number> {
  await Deno.mkdir(`${dir}/${FOLDER}`, { recursive: true });
  await writeSyntheticCatalog(`${dir}/${CATALOG}`, { symbols: 60_000, versions: 3 });
  return 180_000;
}

cliTest(
  "SIGTERM during the write: the merge is written, and process and report both say exit 0",
  async (cli: Cli) => {
    await using project = await tempProject();
    await using mirror = startMirror();
    const rows = await bigCatalog(project.dir);
    const targets = mirrorSymbols(["NASDAQ"]).slice(0, 5);
    const child = await cli.spawn(
      ["--symbols", targets.join(","), "--base-url", mirror.url, "--json"],
      { cwd: project.dir },
    );
    const stdout = collect(child.stdout);
    const stderr = collect(child.stderr);
    await until(() => tempWritten(`${project.dir}/${FOLDER}`), 30_000, "the write to start");
    child.kill("SIGTERM");
    const status = await child.status;
    const report = JSON.parse(await stdout);
    const log = await stderr;
    assert.equal(status.code, 0, log);
    assert.equal(report.exit_code, status.code);
    assert.equal(report.error, null);
    assert.equal(await rowCount(`${project.dir}/${CATALOG}`), rows + targets.length, "written");
    assert.equal(report.new, targets.length);
    assert.deepEqual(report.changes.map((c: { symbol: string }) => c.symbol), targets);
    assert.deepEqual(report.catalog.rows, rows + targets.length);
    assert.match(
      log,
      /SIGTERM arrived after the last point where the run could stop .*the run finished/,
    );
  },
);

cliTest(
  "a second signal during the write still prints the report, with the process's exit code",
  async (cli: Cli) => {
    await using project = await tempProject();
    await using mirror = startMirror();
    const rows = await bigCatalog(project.dir);
    const targets = mirrorSymbols(["NASDAQ"]).slice(0, 5);
    const child = await cli.spawn(
      ["--symbols", targets.join(","), "--base-url", mirror.url, "--json"],
      { cwd: project.dir },
    );
    const stdout = collect(child.stdout);
    const stderr = collect(child.stderr);
    await until(() => tempWritten(`${project.dir}/${FOLDER}`), 30_000, "the write to start");
    child.kill("SIGINT");
    await new Promise((resolve) => setTimeout(resolve, 5));
    child.kill("SIGTERM");
    const status = await child.status;
    const log = await stderr;
    const text = await stdout;
    assert.equal(status.code, 143, log);
    const report = JSON.parse(text);
    assert.equal(report.exit_code, 143);
    assert.match(report.error, /second signal \(SIGTERM\).*write was under way/);
    assert.match(log, /error: stopped at once by a second signal/);
    assert.equal(report.http.requests, targets.length, "the requests already sent are counted");
    // Old or new, never a mix.
    assert.ok([rows, rows + targets.length].includes(await rowCount(`${project.dir}/${CATALOG}`)));
  },
);

cliTest(
  "a signal before the merge: 130/143 in both, nothing written, the catalog's real size reported",
  async (cli: Cli) => {
    await using project = await tempProject();
    await using mirror = startMirror({ latencyMs: 400 });
    const symbols = mirrorSymbols(["NASDAQ", "NYSE"]).slice(0, 12);
    assert.equal(
      (await cli.run(["--symbols", symbols.join(","), "--base-url", mirror.url], {
        cwd: project.dir,
      })).code,
      0,
    );
    const bytes = await Deno.readFile(`${project.dir}/${CATALOG}`);
    for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
      const child = await cli.spawn(["--from-catalog", "--base-url", mirror.url, "--json"], {
        cwd: project.dir,
      });
      const stdout = collect(child.stdout);
      const stderr = collect(child.stderr);
      const requestsBefore = mirror.stats.requests;
      await until(() => Promise.resolve(mirror.stats.requests > requestsBefore), 20_000, "a fetch");
      child.kill(signal);
      const status = await child.status;
      const report = JSON.parse(await stdout);
      assert.equal(status.code, code, await stderr);
      assert.equal(report.exit_code, code);
      assert.equal(report.error, `interrupted by ${signal}; nothing written`);
      assert.deepEqual(report.catalog.rows, 12, "the catalog was read: its real size");
      assert.deepEqual(report.catalog.current, 12);
      assert.deepEqual([report.new, report.changed, report.changes], [0, 0, []]);
      assert.deepEqual(await Deno.readFile(`${project.dir}/${CATALOG}`), bytes);
    }
  },
);

cliTest(
  "a signal while waiting for the lock: exit 130 in both, an error that says so",
  async (cli: Cli) => {
    await using project = await tempProject();
    await using mirror = startMirror();
    await Deno.mkdir(`${project.dir}/${FOLDER}`, { recursive: true });
    const holder = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-q",
        "-A",
        new URL("../testing/hold_lock.ts", import.meta.url).pathname,
        `${project.dir}/${CATALOG}.lock`,
        "20000",
      ],
      stdout: "piped",
    }).spawn();
    const reader = holder.stdout.pipeThrough(new TextDecoderStream()).getReader();
    try {
      assert.match((await reader.read()).value ?? "", /acquired/);
      const child = await cli.spawn(
        [
          "--symbols",
          "NASDAQ:AAPL",
          "--base-url",
          mirror.url,
          "--json",
          "--lock-timeout-ms",
          "60000",
        ],
        { cwd: project.dir },
      );
      const stdout = collect(child.stdout);
      const stderr = collect(child.stderr);
      await until(() => Promise.resolve(mirror.stats.requests > 0), 20_000, "the fetch");
      await new Promise((resolve) => setTimeout(resolve, 300)); // now waiting for the lock
      child.kill("SIGINT");
      const status = await child.status;
      const report = JSON.parse(await stdout);
      const log = await stderr;
      assert.equal(status.code, 130, log);
      assert.equal(report.exit_code, 130);
      assert.equal(
        report.error,
        "interrupted by SIGINT while waiting for the catalog lock; nothing written",
      );
      assert.doesNotMatch(log, /^error: SIGINT$/m);
      assert.equal(report.catalog.rows, null, "the catalog was never read");
    } finally {
      holder.kill("SIGKILL");
      await holder.status;
      reader.releaseLock();
    }
  },
);

cliTest(
  "a run whose catalog was never read reports its size as null, not 0; one checked first reports it",
  async (cli: Cli) => {
    await using project = await tempProject();
    await using mirror = startMirror();
    mirror.configure({ overrides: { "NASDAQ:AAPL": "not-found" } });
    const args = ["--symbols", "NASDAQ:AAPL", "--base-url", mirror.url, "--json"];
    // No catalog yet: nothing to read.
    const result = await cli.run(args, { cwd: project.dir });
    assert.equal(result.code, 1, result.stderr);
    const report = JSON.parse(result.stdout);
    assert.equal(report.exit_code, 1);
    assert.deepEqual(report.catalog, { path: CATALOG, rows: null, current: null });
    assert.match(result.stderr, /catalog data\/lakehouse\/symbols\.parquet: not read/);
    assert.equal(report.error, "every symbol failed (1 of 1); nothing written");
    // A catalog is checked before the first request, so its size is known.
    await Deno.mkdir(`${project.dir}/${FOLDER}`, { recursive: true });
    await writeSyntheticCatalog(`${project.dir}/${CATALOG}`, { symbols: 50 });
    const checked = JSON.parse((await cli.run(args, { cwd: project.dir })).stdout);
    assert.deepEqual(checked.catalog, { path: CATALOG, rows: 50, current: 50 });
  },
);
