/**
 * The fields the Python original keeps: `pointvalue` (the contract
 * multiplier) and `continuous` (a continuous futures contract), from
 * `/symbol`. Old catalogs read and merge as before (values where they held
 * null are learned, not changes), and the v1 checksums they carry still
 * verify while new writes carry v2.
 */
import assert from "node:assert/strict";
import { parseCli, type RunOptions } from "../lib/input/cli.ts";
import { runJob } from "../lib/job.ts";
import { memoryLogger } from "../lib/report/log.ts";
import { CHECKSUM_V2_COLUMNS, RECORD_SCHEMA } from "../lib/catalog/sql.ts";
import { currentRows, query } from "../testing/catalog.ts";
import { startMirror } from "../testing/mirror.ts";
import { tempProject } from "../testing/tmp.ts";

const CATALOG = "data/lakehouse/symbols.parquet";

function options(args: string[]): RunOptions {
  const command = parseCli(args, {});
  assert.equal(command.kind, "run");
  return command.options;
}

const kv = async (path: string) =>
  Object.fromEntries(
    (await query(
      `SELECT key::VARCHAR AS k, value::VARCHAR AS v FROM parquet_kv_metadata('${path}')`,
    )).map((r) => [r.k, r.v]),
  );

Deno.test("pointvalue and continuous come from /symbol; v2 covers them", async () => {
  await using project = await tempProject();
  await using mirror = startMirror();
  const report = await runJob(
    options(["--base-url", mirror.url, "--symbols", "CME_MINI:ES1!,CME_MINI:ESH2026,NASDAQ:AAPL"]),
    { log: memoryLogger(), root: project.dir },
  );
  assert.equal(report.exit_code, 0, report.error ?? "");
  const rows = await currentRows(`${project.dir}/${CATALOG}`);
  assert.deepEqual(
    [...rows.values()].map((r) => [r.symbol, r.pointvalue, r.continuous]),
    [["CME_MINI:ES1!", 50, true], ["CME_MINI:ESH2026", 50, false], ["NASDAQ:AAPL", 1, false]],
  );
  assert.match((await kv(`${project.dir}/${CATALOG}`)).meta_ingest_rows_checksum, /^v2:/);
  for (const column of ["pointvalue", "continuous"]) {
    assert.ok(CHECKSUM_V2_COLUMNS.includes(column));
    assert.ok(RECORD_SCHEMA.some((c) => c.name === column));
  }
});

Deno.test("an old catalog (no pointvalue, a v1 checksum) verifies, and learns the new values without a change", async () => {
  await using project = await tempProject();
  await using mirror = startMirror();
  const path = `${project.dir}/${CATALOG}`;
  const symbols = "CME_MINI:ES1!,NASDAQ:AAPL";
  assert.equal(
    (await runJob(options(["--base-url", mirror.url, "--symbols", symbols]), {
      log: memoryLogger(),
      root: project.dir,
    })).exit_code,
    0,
  );
  // As the previous version wrote it: no new columns, a v1 checksum of its rows.
  const { fileChecksumSql } = await import("../lib/catalog/sql.ts");
  await query(
    `COPY (SELECT * EXCLUDE (pointvalue, continuous) FROM read_parquet('${path}')) TO '${path}.old' (FORMAT parquet)`,
  );
  const [{ checksum }] = await query(fileChecksumSql("v1:"), [`${path}.old`]);
  const engine = (await kv(path)).meta_ingest_checksum_engine;
  await query(
    `COPY (SELECT * FROM read_parquet('${path}.old')) TO '${path}' (FORMAT parquet, KV_METADATA {meta_ingest_rows_checksum: '${checksum}', meta_ingest_checksum_engine: '${engine}'})`,
  );
  await Deno.remove(`${path}.old`);
  const bytes = await Deno.readFile(path);
  const report = await runJob(
    options(["--base-url", mirror.url, "--symbols", symbols, "--endpoint", "symbol"]),
    { log: memoryLogger(), root: project.dir },
  );
  assert.equal(report.exit_code, 0, report.error ?? "");
  assert.deepEqual([report.changed, report.unchanged], [0, 2], "learned, not a change");
  assert.deepEqual(await Deno.readFile(path), bytes, "an idle run leaves it alone");
  // Damage to such a file is still caught by its v1 checksum.
  await query(
    `COPY (SELECT * REPLACE ('tampered' AS description) FROM read_parquet('${path}')) TO '${path}.bad' (FORMAT parquet, KV_METADATA {meta_ingest_rows_checksum: '${checksum}', meta_ingest_checksum_engine: '${engine}'})`,
  );
  await Deno.rename(`${path}.bad`, path);
  const damaged = await runJob(
    options(["--base-url", mirror.url, "--symbols", symbols]),
    { log: memoryLogger(), root: project.dir },
  );
  assert.equal(damaged.exit_code, 1);
  assert.match(damaged.error ?? "", /do not match the checksum/);
});
