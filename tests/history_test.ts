/**
 * History that stays true (issue 13 items 6-8), through real CLI runs:
 * a clock behind the catalog, duplicate current rows, and damage that still
 * reads as Parquet.
 */
import assert from "node:assert/strict";
import { catalogRows, query } from "../testing/catalog.ts";
import { type Cli, cliTest } from "../testing/cli.ts";
import { tempProject } from "../testing/tmp.ts";
import { startMirror } from "../testing/mirror.ts";

const CATALOG = "data/lakehouse/symbols.parquet";

/** Rewrites a catalog file with `sql` applied (test-side DuckDB, no checksum kept). */
async function rewrite(path: string, select: string): Promise<void> {
  await query(
    `COPY (${
      select.replaceAll("$FILE", `read_parquet('${path}')`)
    }) TO '${path}.new' (FORMAT parquet)`,
  );
  await Deno.rename(`${path}.new`, path);
}

cliTest(
  "a catalog from the future: those symbols fail naming clock skew, the rest at the run's time, exit 3",
  async (cli: Cli) => {
    await using project = await tempProject();
    await using mirror = startMirror();
    const path = `${project.dir}/${CATALOG}`;
    const base = ["--base-url", mirror.url, "--json"];
    const first = await cli.run(["--symbols", "NASDAQ:AAPL,NYSE:KO,NASDAQ:MSFT", ...base], {
      cwd: project.dir,
    });
    assert.equal(first.code, 0, first.stderr);
    // A writer with a clock in 2030 left AAPL's and KO's current versions there.
    await rewrite(
      path,
      `SELECT * REPLACE (CASE WHEN symbol IN ('NASDAQ:AAPL', 'NYSE:KO')
       THEN TIMESTAMP '2030-01-01 00:00:00' ELSE valid_from END AS valid_from) FROM $FILE`,
    );
    mirror.configure({ revision: 7 }); // changes about one symbol in ten per step
    const started = Date.now();
    const run = await cli.run(
      ["--symbols", "NASDAQ:AAPL,NYSE:KO,NASDAQ:MSFT,NASDAQ:NVDA", ...base],
      { cwd: project.dir },
    );
    assert.equal(run.code, 3, run.stderr);
    const report = JSON.parse(run.stdout);
    assert.deepEqual(report.failed.map((f: { symbol: string }) => f.symbol), [
      "NASDAQ:AAPL",
      "NYSE:KO",
    ]);
    for (const f of report.failed) {
      assert.match(f.reason, /^clock skew: its current version starts at 2030-01-01 00:00:00 UTC/);
    }
    assert.equal(report.fetched, 2);
    assert.equal(report.exit_code, 3);
    assert.match(run.stderr, /NASDAQ:AAPL[^\n]*: clock skew/);
    const rows = await catalogRows(path);
    for (const row of rows) {
      assert.ok(row.vu === null || (row.vu as string) >= (row.vf as string), JSON.stringify(row));
    }
    const bySymbol = (s: string) => rows.filter((r) => r.symbol === s);
    assert.deepEqual(bySymbol("NASDAQ:AAPL").map((r) => [r.vf, r.vu]), [[
      "2030-01-01 00:00:00",
      null,
    ]]);
    assert.deepEqual(bySymbol("NYSE:KO").map((r) => [r.vf, r.vu]), [["2030-01-01 00:00:00", null]]);
    // NVDA is new: it starts at this run's own time, not after 2030.
    const [nvda] = bySymbol("NASDAQ:NVDA");
    const startedAt = Date.parse(`${nvda.vf}Z`.replace(" ", "T"));
    assert.ok(Math.abs(startedAt - started) < 60_000, `NVDA starts at ${nvda.vf}`);
  },
);

cliTest(
  "duplicate current rows are closed but the newest, reported as repaired, counted once",
  async (cli: Cli) => {
    await using project = await tempProject();
    await using mirror = startMirror();
    const path = `${project.dir}/${CATALOG}`;
    const base = ["--base-url", mirror.url, "--json"];
    assert.equal(
      (await cli.run(["--symbols", "NASDAQ:AAPL,NYSE:KO", ...base], { cwd: project.dir })).code,
      0,
    );
    // A buggy older writer left a second, older current row for AAPL.
    await rewrite(
      path,
      `SELECT * FROM $FILE UNION ALL
     SELECT * REPLACE ('Apple (stale)' AS description, valid_from - INTERVAL 1 DAY AS valid_from)
     FROM $FILE WHERE symbol = 'NASDAQ:AAPL'`,
    );
    const dry = await cli.run(["--symbols", "NYSE:KO", "--dry-run", ...base], { cwd: project.dir });
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual(JSON.parse(dry.stdout).repaired, ["NASDAQ:AAPL"]);
    assert.deepEqual(JSON.parse(dry.stdout).catalog, { path: CATALOG, rows: 3, current: 2 });
    assert.match(
      dry.stderr,
      /repaired \(1\): would close duplicate current rows of\n {2}- NASDAQ:AAPL/,
    );

    const run = await cli.run(["--symbols", "NYSE:KO", ...base], { cwd: project.dir });
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout);
    assert.deepEqual(report.repaired, ["NASDAQ:AAPL"]);
    assert.deepEqual(report.catalog, { path: CATALOG, rows: 3, current: 2 });
    const aapl = (await catalogRows(path)).filter((r) => r.symbol === "NASDAQ:AAPL");
    assert.equal(aapl.length, 2);
    assert.equal(aapl[0].description, "Apple (stale)");
    assert.equal(aapl[0].vu, aapl[1].vf, "the older one ends where the newest starts");
    assert.equal(aapl[1].vu, null);
    assert.notEqual(aapl[1].description, "Apple (stale)");

    const again = await cli.run(["--symbols", "NYSE:KO", ...base], { cwd: project.dir });
    assert.deepEqual(JSON.parse(again.stdout).repaired, [], "nothing left to repair");
  },
);

cliTest(
  "rows that no longer match the catalog's checksum: exit 1, bytes untouched, the unreadable error",
  async (cli: Cli) => {
    await using project = await tempProject();
    await using mirror = startMirror();
    const path = `${project.dir}/${CATALOG}`;
    const base = ["--base-url", mirror.url, "--json"];
    assert.equal(
      (await cli.run(["--symbols", "NASDAQ:AAPL,NYSE:KO", ...base], { cwd: project.dir })).code,
      0,
    );
    const [{ checksum }] = await query(
      "SELECT value::VARCHAR AS checksum FROM parquet_kv_metadata($1) WHERE key::VARCHAR = 'meta_ingest_rows_checksum'",
      [path],
    );
    assert.match(String(checksum), /^v2:2:\d+$/);
    // Damage that still reads as Parquet: one value changed, the old checksum kept.
    await query(
      `COPY (SELECT * REPLACE (CASE WHEN symbol = 'NYSE:KO' THEN 'NYSE:KX' ELSE symbol END AS symbol)
       FROM read_parquet('${path}')) TO '${path}.new' (FORMAT parquet, KV_METADATA {meta_ingest_rows_checksum: '${checksum}'})`,
    );
    await Deno.rename(`${path}.new`, path);
    const bytes = await Deno.readFile(path);
    const run = await cli.run(["--symbols", "NASDAQ:MSFT", ...base], { cwd: project.dir });
    assert.equal(run.code, 1, run.stderr);
    assert.match(
      run.stderr,
      /cannot read catalog .*symbols\.parquet: its rows do not match the checksum .*left untouched; move it away .*: there is no symbols\.parquet\.bak/,
    );
    assert.deepEqual(await Deno.readFile(path), bytes);
  },
);

cliTest(
  "a catalog without a checksum (older, or another tool's) is accepted and gets one",
  async (cli: Cli) => {
    await using project = await tempProject();
    await using mirror = startMirror();
    const path = `${project.dir}/${CATALOG}`;
    const base = ["--base-url", mirror.url, "--json"];
    assert.equal(
      (await cli.run(["--symbols", "NASDAQ:AAPL", ...base], { cwd: project.dir })).code,
      0,
    );
    await rewrite(path, "SELECT * FROM $FILE");
    const kv = () =>
      query(
        "SELECT key::VARCHAR AS k FROM parquet_kv_metadata($1) WHERE key::VARCHAR = 'meta_ingest_rows_checksum'",
        [path],
      );
    assert.equal((await kv()).length, 0);
    const run = await cli.run(["--symbols", "NYSE:KO", ...base], { cwd: project.dir });
    assert.equal(run.code, 0, run.stderr);
    assert.equal((await kv()).length, 1);
  },
);

Deno.test("the v1 checksum covers a frozen column list, so catalogs stay verifiable as the schema grows", async () => {
  const { CHECKSUM_V1_COLUMNS, fileChecksumSql } = await import("../lib/catalog/sql.ts");
  // A new catalog column goes into a new checksum version, never into v1:
  // otherwise every catalog written before it would read as corrupt.
  assert.deepEqual(CHECKSUM_V1_COLUMNS, [
    "symbol",
    "exchange",
    "base",
    "quote",
    "type",
    "subtype",
    "profile",
    "description",
    "sector",
    "industry",
    "country",
    "pricescale",
    "minmov",
    "tick_size",
    "lot_size",
    "contract_size",
    "timezone",
    "session",
    "minmove2",
    "fractional",
    "root",
    "expiration",
    "contract_type",
    "active",
    "updated_at",
    "valid_from",
    "valid_until",
  ]);
  for (const column of CHECKSUM_V1_COLUMNS) {
    assert.ok(fileChecksumSql("v1:").includes(`"${column}"`), column);
  }
});

cliTest(
  "a checksum from another DuckDB version cannot be checked: accepted, then replaced on the next write",
  async (cli: Cli) => {
    // DuckDB's hash() changes between its versions (duckdb/duckdb#17596), so
    // an upgrade must not turn every catalog into a "corrupt" one.
    await using project = await tempProject();
    await using mirror = startMirror();
    const path = `${project.dir}/${CATALOG}`;
    const base = ["--base-url", mirror.url, "--json"];
    assert.equal(
      (await cli.run(["--symbols", "NASDAQ:AAPL,NYSE:KO", ...base], { cwd: project.dir })).code,
      0,
    );
    const kv = async () =>
      Object.fromEntries(
        (await query(
          "SELECT key::VARCHAR AS k, value::VARCHAR AS v FROM parquet_kv_metadata($1)",
          [path],
        )).map((r) => [r.k, r.v]),
      );
    const written = await kv();
    const [{ engine }] = await query("SELECT version() AS engine");
    assert.equal(written.meta_ingest_checksum_engine, engine);
    const damage = async (engineVersion: string) => {
      await query(
        `COPY (SELECT * REPLACE (CASE WHEN symbol = 'NYSE:KO' THEN 'NYSE:KX' ELSE symbol END AS symbol)
         FROM read_parquet('${path}')) TO '${path}.new' (FORMAT parquet, KV_METADATA {
           meta_ingest_rows_checksum: '${written.meta_ingest_rows_checksum}',
           meta_ingest_checksum_engine: '${engineVersion}'})`,
      );
      await Deno.rename(`${path}.new`, path);
    };
    // The same engine: a mismatch is damage.
    await damage(String(engine));
    const refused = await cli.run(["--symbols", "NASDAQ:MSFT", ...base], { cwd: project.dir });
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /its rows do not match the checksum/);
    // Another engine: not checkable, accepted, and the write brings a checksum of this one.
    await damage("v0.0.1");
    const accepted = await cli.run(["--symbols", "NASDAQ:MSFT", ...base], { cwd: project.dir });
    assert.equal(accepted.code, 0, accepted.stderr);
    const after = await kv();
    assert.equal(after.meta_ingest_checksum_engine, engine);
    assert.notEqual(after.meta_ingest_rows_checksum, written.meta_ingest_rows_checksum);
  },
);
