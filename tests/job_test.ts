/**
 * The run, in process (for what a child process cannot show quickly): the
 * retire guard's edges, catalogs refreshed in chunks, and catalogs larger
 * than the candidates cap.
 */
import assert from "node:assert/strict";
import { DuckDBInstance } from "@duckdb/node-api";
import { MAX_ENTRIES } from "../lib/input/candidates.ts";
import { parseCli, type RunOptions } from "../lib/input/cli.ts";
import { maxRetirable, RETIRE_MIN_TARGETS } from "../lib/catalog/retire.ts";
import { runJob } from "../lib/job.ts";
import { memoryLogger } from "../lib/report/log.ts";
import { catalogRows } from "../testing/catalog.ts";
import { mirrorSymbols, startMirror } from "../testing/mirror.ts";
import { writeSyntheticCatalog } from "../testing/synthetic_catalog.ts";
import { tempProject } from "../testing/tmp.ts";

const CATALOG = "data/lakehouse/symbols.parquet";

function options(args: string[]): RunOptions {
  const command = parseCli(args, {});
  assert.equal(command.kind, "run");
  return command.options;
}

Deno.test("the retire guard: none of fewer than 4 targets, then at most 25%, rounded down", () => {
  assert.equal(RETIRE_MIN_TARGETS, 4);
  const cases: [number, number][] = [
    [0, 0],
    [1, 0],
    [2, 0],
    [3, 0],
    [4, 1],
    [7, 1],
    [8, 2],
    [11, 2],
    [12, 3],
    [100, 25],
    [101, 25],
  ];
  for (const [targets, most] of cases) assert.equal(maxRetirable(targets), most, `${targets}`);
});

Deno.test("--retire-not-found: 1 of 3 is not retired, 1 of 4 is, 2 of 4 is not", async () => {
  await using mirror = startMirror();
  const symbols = mirrorSymbols(["NASDAQ"]).slice(0, 4);
  const cases: [string[], string[], number][] = [
    [symbols.slice(0, 3), symbols.slice(0, 1), 0],
    [symbols, symbols.slice(0, 1), 1],
    [symbols, symbols.slice(0, 2), 0],
  ];
  for (const [targets, missing, retired] of cases) {
    await using project = await tempProject();
    const base = ["--base-url", mirror.url, "--symbols", targets.join(",")];
    mirror.configure({ overrides: {} });
    await runJob(options(base), { log: memoryLogger(), root: project.dir });
    mirror.configure({ overrides: Object.fromEntries(missing.map((s) => [s, "not-found"])) });
    const log = memoryLogger();
    const report = await runJob(options([...base, "--retire-not-found"]), {
      log,
      root: project.dir,
    });
    const label = `${missing.length} of ${targets.length}`;
    assert.equal(report.retired, retired, label);
    assert.equal(report.exit_code, 3, label);
    const inactive = (await catalogRows(`${project.dir}/${CATALOG}`)).filter((r) => !r.active);
    assert.equal(inactive.length, retired, label);
    if (!retired) assert.ok(log.lines.some((l) => /not retiring/.test(l)), label);
  }
});

Deno.test("--from-catalog refreshes in chunks, each merged, one report for all", async () => {
  await using project = await tempProject();
  await using mirror = startMirror();
  const symbols = mirrorSymbols(["NASDAQ", "NYSE"]).slice(0, 10);
  const root = project.dir;
  const seed = options(["--symbols", symbols.join(","), "--base-url", mirror.url]);
  assert.equal((await runJob(seed, { log: memoryLogger(), root })).exit_code, 0);
  mirror.configure({ revision: 10 }); // every symbol changes
  const log = memoryLogger();
  const report = await runJob(options(["--from-catalog", "--base-url", mirror.url]), {
    log,
    root,
    chunkSize: 4,
  });
  assert.equal(report.exit_code, 0, report.error ?? "");
  assert.ok(log.lines.some((l) => /in 3 chunks of up to 4/.test(l)), log.lines.join("\n"));
  assert.deepEqual([report.requested, report.fetched, report.changed], [10, 10, 10]);
  assert.deepEqual(report.changes.map((c) => c.symbol), [...symbols].sort());
  assert.deepEqual(report.catalog.rows, 20);
  assert.deepEqual(report.catalog.current, 10);
  const rows = await catalogRows(`${project.dir}/${CATALOG}`);
  assert.equal(rows.length, 20);
});

Deno.test("--from-catalog takes a catalog above the candidates cap (no 'split the list')", async () => {
  await using project = await tempProject();
  await using mirror = startMirror();
  await Deno.mkdir(`${project.dir}/data/lakehouse`, { recursive: true });
  await writeSyntheticCatalog(`${project.dir}/${CATALOG}`, { symbols: MAX_ENTRIES + 1 });
  // Fetching 100,001 symbols takes a while: stop once the fetch is under way.
  const stop = new AbortController();
  const watch = setInterval(() => {
    if (mirror.stats.requests >= 20) stop.abort("SIGINT");
  }, 5);
  try {
    const report = await runJob(options(["--from-catalog", "--base-url", mirror.url]), {
      log: memoryLogger(),
      root: project.dir,
      signal: stop.signal,
    });
    assert.equal(report.error, "interrupted by SIGINT; nothing written");
    assert.equal(report.exit_code, 130);
    assert.equal(report.valid, MAX_ENTRIES + 1);
    assert.equal(report.catalog.rows, MAX_ENTRIES + 1);
  } finally {
    clearInterval(watch);
  }
});

Deno.test("--from-catalog opens one DuckDB instance per run, and closes it", async () => {
  await using project = await tempProject();
  await using mirror = startMirror();
  const root = project.dir;
  const symbols = mirrorSymbols(["NASDAQ"]).slice(0, 3);
  const seed = options(["--symbols", symbols.join(","), "--base-url", mirror.url]);
  assert.equal((await runJob(seed, { log: memoryLogger(), root })).exit_code, 0);
  let created = 0;
  let closed = 0;
  const create = DuckDBInstance.create;
  const closeSync = DuckDBInstance.prototype.closeSync;
  DuckDBInstance.create = (...args: Parameters<typeof create>) => {
    created++;
    return create.apply(DuckDBInstance, args);
  };
  DuckDBInstance.prototype.closeSync = function (this: DuckDBInstance) {
    closed++;
    return closeSync.call(this);
  };
  try {
    mirror.configure({ revision: 10 });
    const report = await runJob(options(["--from-catalog", "--base-url", mirror.url]), {
      log: memoryLogger(),
      root,
    });
    assert.equal(report.exit_code, 0, report.error ?? "");
    assert.equal(report.changed, 3);
  } finally {
    DuckDBInstance.create = create;
    DuckDBInstance.prototype.closeSync = closeSync;
  }
  assert.deepEqual([created, closed], [1, 1]);
});

Deno.test("a chunked run on a new catalog merges every chunk (the catalog is loaded once per chunk)", async () => {
  await using project = await tempProject();
  await using mirror = startMirror();
  const symbols = mirrorSymbols(["NASDAQ", "NYSE"]).slice(0, 10);
  const report = await runJob(options(["--symbols", symbols.join(","), "--base-url", mirror.url]), {
    log: memoryLogger(),
    root: project.dir,
    chunkSize: 4,
  });
  assert.equal(report.exit_code, 0, report.error ?? "");
  assert.deepEqual([report.fetched, report.new], [10, 10]);
  assert.equal((await catalogRows(`${project.dir}/${CATALOG}`)).length, 10);
});

Deno.test("--from-catalog with the catalog but no exchanges.parquet refreshes it", async () => {
  await using project = await tempProject();
  await using mirror = startMirror();
  const symbols = mirrorSymbols(["NASDAQ"]).slice(0, 5);
  const root = project.dir;
  const seed = options(["--symbols", symbols.join(","), "--base-url", mirror.url]);
  assert.equal((await runJob(seed, { log: memoryLogger(), root })).exit_code, 0);
  await Deno.remove(`${project.dir}/data/lakehouse/exchanges.parquet`);
  for (const extra of [["--dry-run"], []]) {
    const report = await runJob(options(["--from-catalog", "--base-url", mirror.url, ...extra]), {
      log: memoryLogger(),
      root,
    });
    assert.equal(report.exit_code, 0, `${extra.join(" ")}: ${report.error}`);
    assert.equal(report.fetched, 5);
  }
  assert.ok((await Deno.stat(`${project.dir}/data/lakehouse/exchanges.parquet`)).isFile);
});
