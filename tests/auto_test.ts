/**
 * `--endpoint auto`, the default: batches for symbols the catalog knows,
 * `/symbol` for new ones, and a spot check of `/scan` against `/symbol` on
 * every run that falls back when they disagree. Requests are counted at the
 * mirror, never timed.
 */
import assert from "node:assert/strict";
import { parseCli, type RunOptions } from "../lib/input/cli.ts";
import { runJob } from "../lib/job.ts";
import { memoryLogger } from "../lib/report/log.ts";
import { catalogRows, currentRows } from "../testing/catalog.ts";
import { mirrorSymbols, startMirror } from "../testing/mirror.ts";
import { tempProject } from "../testing/tmp.ts";

const CATALOG = "data/lakehouse/symbols.parquet";

function options(args: string[]): RunOptions {
  const command = parseCli(args, {});
  assert.equal(command.kind, "run");
  return command.options;
}

/** 50 symbols across crypto and equities, as a pipeline's candidates are. */
const FIFTY = [
  ...mirrorSymbols(["BINANCE"]).slice(0, 20),
  ...mirrorSymbols(["NASDAQ", "NYSE"]).slice(0, 30),
];

Deno.test("auto: 50 new candidates cost one /symbol request each, with their real sessions", async () => {
  await using project = await tempProject();
  await using mirror = startMirror();
  const report = await runJob(
    options(["--base-url", mirror.url, "--symbols", FIFTY.join(",")]),
    { log: memoryLogger(), root: project.dir },
  );
  assert.equal(report.exit_code, 0, report.error ?? "");
  assert.equal(report.new, 50);
  assert.deepEqual(mirror.stats.byEndpoint, { symbol: 50, scan: 0 });
  assert.deepEqual(report.endpoints.served, { symbol: 50, scan: 0 });
  const current = await currentRows(`${project.dir}/${CATALOG}`);
  const stock = current.get("NASDAQ:AAPL")!;
  assert.notEqual(stock.session, "Unknown", "the real session, not the exchange default");
});

Deno.test("auto: 50 known candidates in at most 5 requests, spot-checked, recording no change", async () => {
  await using project = await tempProject();
  await using mirror = startMirror();
  // A catalog built in symbol mode, the proven path.
  const seed = await runJob(
    options(["--base-url", mirror.url, "--symbols", FIFTY.join(","), "--endpoint", "symbol"]),
    { log: memoryLogger(), root: project.dir },
  );
  assert.equal(seed.exit_code, 0);
  const bytes = await Deno.readFile(`${project.dir}/${CATALOG}`);
  mirror.resetStats();
  const report = await runJob(options(["--base-url", mirror.url, "--symbols", FIFTY.join(",")]), {
    log: memoryLogger(),
    root: project.dir,
  });
  assert.equal(report.exit_code, 0, report.error ?? "");
  assert.ok(mirror.stats.requests <= 5, `${mirror.stats.requests} requests`);
  assert.equal(mirror.stats.byEndpoint.symbol, 3, "the spot check: --verify 3");
  assert.equal(report.endpoints.verified, 3);
  assert.deepEqual(report.endpoints.disagreements, []);
  assert.deepEqual(report.endpoints.fallbacks, []);
  assert.deepEqual(report.endpoints.served, { symbol: 3, scan: 47 });
  assert.deepEqual([report.new, report.changed, report.unchanged], [0, 0, 50]);
  assert.deepEqual(await Deno.readFile(`${project.dir}/${CATALOG}`), bytes, "no change recorded");
});

Deno.test("auto: a 1,130-symbol refresh in at most 8 requests", async () => {
  await using project = await tempProject();
  await using mirror = startMirror();
  const symbols = mirrorSymbols().slice(0, 1130);
  const seed = await runJob(
    options(["--base-url", mirror.url, "--symbols", symbols.join(","), "--endpoint", "scan"]),
    { log: memoryLogger(), root: project.dir },
  );
  assert.equal(seed.exit_code, 0, seed.error ?? "");
  mirror.resetStats();
  mirror.configure({ revision: 2 });
  const report = await runJob(options(["--base-url", mirror.url, "--from-catalog"]), {
    log: memoryLogger(),
    root: project.dir,
  });
  assert.equal(report.exit_code, 0, report.error ?? "");
  assert.equal(report.fetched, 1130);
  assert.ok(report.changed > 0, "the revision changed some");
  assert.ok(mirror.stats.requests <= 8, `${mirror.stats.requests} requests`);
});

Deno.test("auto: /scan skewed on one field is noticed by the spot check; the /symbol values land", async () => {
  await using project = await tempProject();
  await using mirror = startMirror();
  const symbols = mirrorSymbols(["NASDAQ", "NYSE"]).slice(0, 20);
  const args = ["--base-url", mirror.url, "--symbols", symbols.join(",")];
  assert.equal(
    (await runJob(options(args), { log: memoryLogger(), root: project.dir })).exit_code,
    0,
  );
  const before = await catalogRows(`${project.dir}/${CATALOG}`);
  mirror.configure({ scanSkew: "pricescale" });
  mirror.resetStats();
  const log = memoryLogger();
  const report = await runJob(options(args), { log, root: project.dir });
  assert.equal(report.exit_code, 0, report.error ?? "");
  assert.ok(report.endpoints.disagreements.length > 0);
  const [first] = report.endpoints.disagreements;
  assert.equal(first.field, "pricescale");
  assert.equal(first.scan, (first.symbol_value as number) * 10, "both values are named");
  assert.equal(report.endpoints.fallbacks.length, 1);
  assert.match(report.endpoints.fallbacks[0].reason, /disagreed with \/symbol on pricescale/);
  assert.ok(
    log.lines.some((l) => /falling back to \/symbol for 17 symbols/.test(l)),
    log.lines.join("\n"),
  );
  assert.equal(report.endpoints.served.symbol, 20, "every symbol's values came from /symbol");
  assert.deepEqual([report.changed, report.unchanged], [0, 20], "no skewed value landed");
  assert.deepEqual(await catalogRows(`${project.dir}/${CATALOG}`), before);
});

Deno.test("auto: a batch /scan refuses falls back to /symbol for its symbols", async () => {
  await using project = await tempProject();
  await using mirror = startMirror();
  const symbols = mirrorSymbols(["NASDAQ", "NYSE"]).slice(0, 10);
  const args = ["--base-url", mirror.url, "--symbols", symbols.join(",")];
  assert.equal(
    (await runJob(options(args), { log: memoryLogger(), root: project.dir })).exit_code,
    0,
  );
  mirror.configure({
    fault: (ctx) => ctx.endpoint === "scan" ? { kind: "status", status: 400 } : undefined,
  });
  const report = await runJob(options(args), { log: memoryLogger(), root: project.dir });
  assert.equal(report.exit_code, 0, report.error ?? "");
  assert.equal(report.fetched, 10);
  assert.equal(report.endpoints.served.symbol, 10);
  assert.match(report.endpoints.fallbacks[0]?.reason ?? "", /\/scan did not serve them \(HTTP 400/);
});

Deno.test("a column /scan no longer knows: scan exits 3 naming it and refreshes the rest; auto loses nothing", async () => {
  await using project = await tempProject();
  await using mirror = startMirror();
  const symbols = mirrorSymbols(["NASDAQ", "NYSE"]).slice(0, 20);
  const path = `${project.dir}/${CATALOG}`;
  const args = ["--base-url", mirror.url, "--symbols", symbols.join(",")];
  assert.equal(
    (await runJob(options(args), { log: memoryLogger(), root: project.dir })).exit_code,
    0,
  );
  // Overnight the scanner drops `sector`, and some descriptions change.
  mirror.configure({ scanUnknown: ["sector"], revision: 4 });
  const log = memoryLogger();
  const scan = await runJob(options([...args, "--endpoint", "scan"]), { log, root: project.dir });
  assert.equal(scan.exit_code, 3, scan.error ?? "");
  assert.deepEqual(scan.scan.dropped_columns, ["sector"]);
  assert.ok(
    log.lines.some((l) => /refused the column sector \(HTTP 400.*Unknown field "sector"/.test(l)),
  );
  assert.equal(scan.fetched, 20, "the rest is refreshed");
  assert.ok(scan.changed > 0, "the new descriptions landed");
  for (const row of (await currentRows(path)).values()) {
    assert.notEqual(row.sector, null, `${row.symbol}: the catalog's sector carried forward`);
  }
  // auto: the same scanner, nothing lost.
  mirror.configure({ revision: 5 });
  const auto = await runJob(options(args), { log: memoryLogger(), root: project.dir });
  assert.equal(auto.exit_code, 0, auto.error ?? "");
  assert.deepEqual(auto.scan.dropped_columns, ["sector"]);
  assert.equal(auto.endpoints.served.symbol, 20, "fetched through /symbol");
  assert.match(auto.endpoints.fallbacks[0].reason, /\/scan does not know sector/);
});
