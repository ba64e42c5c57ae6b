/**
 * `meta-ingest status`: what the catalog holds and when each symbol was last
 * checked, from the run log that every landed run updates (idle ones too).
 * Staleness is measured from an injected time, never from the machine's
 * speed.
 */
import assert from "node:assert/strict";
import { parseCli, type RunOptions } from "../lib/input/cli.ts";
import { parseStatusCli, STALE_EXIT_CODE } from "../lib/input/status_cli.ts";
import { runJob } from "../lib/job.ts";
import { memoryLogger } from "../lib/report/log.ts";
import type { StatusReport } from "../lib/report/status_output.ts";
import { runStatus } from "../lib/status.ts";
import { query } from "../testing/catalog.ts";
import { type Cli, cliTest } from "../testing/cli.ts";
import { startMirror } from "../testing/mirror.ts";
import { writeSyntheticCatalog } from "../testing/synthetic_catalog.ts";
import { tempProject } from "../testing/tmp.ts";

const CATALOG = "data/lakehouse/symbols.parquet";
const HOUR = 3_600_000;

function ingest(args: string[]): RunOptions {
  const command = parseCli(args, {});
  assert.equal(command.kind, "run");
  return command.options;
}

/** Runs status in process at `now`; resolves to its exit code and JSON answer. */
async function status(root: string, args: string[], now: Date) {
  const command = parseStatusCli([...args, "--json"]);
  assert.equal(command.kind, "run");
  let text = "";
  const log = memoryLogger();
  const code = await runStatus(command.options, {
    log,
    root,
    now,
    write: (t) => {
      text += t;
    },
  });
  return { code, report: text ? JSON.parse(text) as StatusReport : null, log };
}

Deno.test("status --stale-after: fresh after a run, stale once the bound has passed", async () => {
  await using project = await tempProject();
  await using mirror = startMirror();
  const report = await runJob(
    ingest(["--base-url", mirror.url, "--symbols", "NASDAQ:AAPL,NYSE:KO,BINANCE:BTCUSDT"]),
    { log: memoryLogger(), root: project.dir },
  );
  assert.equal(report.exit_code, 0);
  const after = new Date(Date.now() + HOUR);
  const fresh = await status(project.dir, ["--stale-after", "2h"], after);
  assert.equal(fresh.code, 0, fresh.log.lines.join("\n"));
  assert.equal(fresh.report!.stale, 0);
  assert.equal(fresh.report!.never_checked, 0);
  assert.equal(fresh.report!.current, 3);
  assert.deepEqual(
    fresh.report!.by_exchange.map((r) => [r.exchange, r.type, r.symbols]),
    [["BINANCE", "spot", 1], ["NASDAQ", "stock", 1], ["NYSE", "stock", 1]],
  );
  assert.equal(fresh.report!.runs[0].exit_code, 0);
  assert.equal(fresh.report!.runs[0].endpoint, report.http.by_endpoint?.scan ? "scan" : "symbol");

  const later = new Date(Date.now() + 3 * HOUR);
  const stale = await status(project.dir, ["--stale-after", "2h"], later);
  assert.equal(stale.code, STALE_EXIT_CODE);
  assert.equal(stale.report!.stale, 3);
  // Without the bound the same catalog is simply answered.
  assert.equal((await status(project.dir, [], later)).code, 0);
});

Deno.test("an idle run changes nothing in the catalog but counts as a check", async () => {
  await using project = await tempProject();
  await using mirror = startMirror();
  const args = ["--base-url", mirror.url, "--symbols", "NASDAQ:AAPL,NYSE:KO"];
  await runJob(ingest(args), { log: memoryLogger(), root: project.dir });
  const path = `${project.dir}/${CATALOG}`;
  const bytes = await Deno.readFile(path);
  const first = await status(project.dir, [], new Date());
  const idle = await runJob(ingest(["--base-url", mirror.url, "--symbols", "NASDAQ:AAPL"]), {
    log: memoryLogger(),
    root: project.dir,
  });
  assert.equal(idle.unchanged, 1);
  assert.deepEqual(await Deno.readFile(path), bytes, "the catalog's bytes are untouched");
  const second = await status(project.dir, [], new Date());
  const at = (r: StatusReport, s: string) => r.checks.find((c) => c.symbol === s)!.checked_at!;
  assert.ok(at(second.report!, "NASDAQ:AAPL") > at(first.report!, "NASDAQ:AAPL"), "re-checked");
  assert.equal(at(second.report!, "NYSE:KO"), at(first.report!, "NYSE:KO"), "not re-checked");
  assert.equal(second.report!.runs.length, 2);
});

Deno.test("symbols never checked (a catalog from before the run log) are stale under --stale-after", async () => {
  await using project = await tempProject();
  await Deno.mkdir(`${project.dir}/data/lakehouse`, { recursive: true });
  await writeSyntheticCatalog(`${project.dir}/${CATALOG}`, { symbols: 5 });
  const answer = await status(project.dir, ["--stale-after", "7d"], new Date());
  assert.equal(answer.code, STALE_EXIT_CODE);
  assert.equal(answer.report!.never_checked, 5);
  assert.equal(answer.report!.stale, 5);
  assert.deepEqual(answer.report!.runs, []);
  assert.equal((await status(project.dir, [], new Date())).code, 0, "answered without a bound");
});

Deno.test("status on a missing or damaged catalog: exit 1, saying so", async () => {
  await using project = await tempProject();
  const missing = await status(project.dir, [], new Date());
  assert.equal(missing.code, 1);
  assert.match(
    missing.log.lines.join("\n"),
    /catalog not found: data\/lakehouse\/symbols\.parquet/,
  );

  await using mirror = startMirror();
  await runJob(ingest(["--base-url", mirror.url, "--symbols", "NASDAQ:AAPL,NYSE:KO"]), {
    log: memoryLogger(),
    root: project.dir,
  });
  const path = `${project.dir}/${CATALOG}`;
  const [{ sum }] = await query(
    `SELECT value::VARCHAR AS sum FROM parquet_kv_metadata('${path}') WHERE key::VARCHAR = 'meta_ingest_rows_checksum'`,
  );
  await query(
    `COPY (SELECT * REPLACE ('tampered' AS description) FROM read_parquet('${path}')) TO '${path}.new' (FORMAT parquet, KV_METADATA {meta_ingest_rows_checksum: '${sum}'})`,
  );
  await Deno.rename(`${path}.new`, path);
  const damaged = await status(project.dir, [], new Date());
  assert.equal(damaged.code, 1);
  assert.match(damaged.log.lines.join("\n"), /do not match the checksum/);
});

Deno.test("--stale-after takes a duration with a unit, and names the forms when it refuses one", () => {
  const ok = parseStatusCli(["--stale-after", "26h"]);
  assert.equal(ok.kind === "run" && ok.options.staleAfterMs, 26 * HOUR);
  for (const bad of ["26", "1y", "0h", "soon", "2 days"]) {
    assert.throws(() => parseStatusCli(["--stale-after", bad]), /90m, 26h, 7d or 1w/, bad);
  }
});

cliTest("status runs under the read-only permission set and writes nothing", async (cli: Cli) => {
  await using project = await tempProject();
  await using mirror = startMirror();
  const seed = await cli.run(["--symbols", "NASDAQ:AAPL", "--base-url", mirror.url], {
    cwd: project.dir,
  });
  assert.equal(seed.code, 0, seed.stderr);
  const before = await Deno.readFile(`${project.dir}/${CATALOG}`);
  const result = await cli.run(["status", "--stale-after", "1h"], {
    cwd: project.dir,
    set: "show",
  });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /1 active symbol, 1 row with history/);
  assert.match(result.stdout, /last run: .*exit 0, endpoint symbol/);
  assert.match(result.stdout, /fresh: every active symbol was checked within 60 min/);
  assert.deepEqual(await Deno.readFile(`${project.dir}/${CATALOG}`), before);
});
