/**
 * DuckDB's addon bypasses Deno's permissions, so DuckDB sandboxes itself.
 */
import assert from "node:assert/strict";
import { DuckDBInstance } from "@duckdb/node-api";
import { openSandboxedDb } from "../lib/catalog/duckdb.ts";
import { tempProject } from "../testing/tmp.ts";

async function refused(
  db: Awaited<ReturnType<typeof openSandboxedDb>>,
  sql: string,
  pattern: RegExp,
) {
  await assert.rejects(() => db.connection.run(sql), pattern, sql);
}

Deno.test("the sandbox refuses /etc/passwd and files outside the catalog folder", async () => {
  await using project = await tempProject();
  await using other = await tempProject();
  await Deno.mkdir(`${project.dir}/data`);
  await Deno.writeTextFile(`${other.dir}/secret.csv`, "a,b\n1,2\n");
  await using db = await openSandboxedDb(`${project.dir}/data`);
  const denied = /Permission Error|disabled by configuration/;
  await refused(db, "SELECT * FROM read_csv('/etc/passwd')", denied);
  await refused(db, `SELECT * FROM read_csv('${other.dir}/secret.csv')`, denied);
  await refused(
    db,
    `SELECT * FROM read_csv('${project.dir}/data/../../${other.dir.split("/").pop()}/secret.csv')`,
    denied,
  );
  await refused(db, `COPY (SELECT 1) TO '${other.dir}/out.parquet' (FORMAT parquet)`, denied);
  await refused(db, `COPY (SELECT 1) TO '${project.dir}/out.parquet' (FORMAT parquet)`, denied);
  assert.equal(await Deno.stat(`${other.dir}/out.parquet`).catch(() => null), null);
  assert.equal(await Deno.stat(`${project.dir}/out.parquet`).catch(() => null), null);
});

Deno.test("a sibling folder sharing the name prefix is outside too", async () => {
  await using project = await tempProject();
  await Deno.mkdir(`${project.dir}/data`);
  await Deno.mkdir(`${project.dir}/data2`);
  await using db = await openSandboxedDb(`${project.dir}/data`);
  await refused(
    db,
    `COPY (SELECT 1) TO '${project.dir}/data2/x.parquet' (FORMAT parquet)`,
    /Permission Error/,
  );
});

Deno.test("inside the catalog folder, Parquet reads and writes work", async () => {
  await using project = await tempProject();
  await Deno.mkdir(`${project.dir}/data`);
  await using db = await openSandboxedDb(`${project.dir}/data`);
  await db.connection.run("COPY (SELECT 42 AS x) TO $1 (FORMAT parquet)", [
    `${project.dir}/data/x.parquet`,
  ]);
  const reader = await db.connection.runAndReadAll("SELECT x FROM read_parquet($1)", [
    `${project.dir}/data/x.parquet`,
  ]);
  assert.deepEqual(reader.getRowObjectsJS(), [{ x: 42 }]);
});

Deno.test("the sandbox cannot be undone, and extensions cannot be fetched", async () => {
  await using project = await tempProject();
  await using db = await openSandboxedDb(project.dir);
  await refused(db, "SET enable_external_access = true", /configuration has been locked/);
  await refused(db, "SET allowed_directories = ['/']", /configuration has been locked/);
  await refused(db, "RESET lock_configuration", /locked|Cannot/);
  await refused(db, "INSTALL httpfs", /Permission Error|disabled/);
});

Deno.test("settings: UTC, bounded threads and memory, no spilling, no file cache", async () => {
  await using project = await tempProject();
  await using db = await openSandboxedDb(project.dir);
  const reader = await db.connection.runAndReadAll(
    `SELECT current_setting('TimeZone') AS tz, current_setting('threads') AS threads,
            current_setting('memory_limit') AS memory, current_setting('temp_directory') AS temp,
            current_setting('enable_external_access') AS external,
            current_setting('enable_external_file_cache') AS file_cache`,
  );
  const [row] = reader.getRowObjectsJS();
  assert.equal(row.tz, "UTC");
  assert.equal(Number(row.threads), 2);
  assert.match(String(row.memory), /^(1\.0 GiB|953\.6 MiB|1000\.0 MB)$/);
  assert.equal(row.temp, "");
  assert.equal(row.external, false);
  // DuckDB's in-memory cache of file bytes served parts of a replaced
  // version to the retry of a read (tools/read_race.ts: 3 failures in
  // 1,000 reads under load with it, none without).
  assert.equal(row.file_cache, false);
});

Deno.test("the instance is closed when connect() throws", async () => {
  let closed = 0;
  const connect = DuckDBInstance.prototype.connect;
  const closeSync = DuckDBInstance.prototype.closeSync;
  DuckDBInstance.prototype.connect = () => Promise.reject(new Error("injected connect failure"));
  DuckDBInstance.prototype.closeSync = function (this: DuckDBInstance) {
    closed++;
    return closeSync.call(this);
  };
  try {
    await assert.rejects(openSandboxedDb("/tmp"), /injected connect failure/);
  } finally {
    DuckDBInstance.prototype.connect = connect;
    DuckDBInstance.prototype.closeSync = closeSync;
  }
  assert.equal(closed, 1);
});
