/**
 * docs/as-of-joins.md: every query on that page, run against a catalog a
 * real run wrote, gives each event the version in force at its time.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { parseCli } from "../lib/input/cli.ts";
import { runJob } from "../lib/job.ts";
import { memoryLogger } from "../lib/report/log.ts";
import { REPO_ROOT } from "../tools/permissions.ts";
import { catalogRows } from "../testing/catalog.ts";
import { startMirror } from "../testing/mirror.ts";
import { tempProject } from "../testing/tmp.ts";

const doc = await Deno.readTextFile(join(REPO_ROOT, "docs/as-of-joins.md"));
const blocks = (lang: string) =>
  [...doc.matchAll(new RegExp("```" + lang + "\\n([\\s\\S]*?)```", "g"))].map((m) => m[1]);

/** A catalog where NASDAQ:AAPL changed its pricescale once; answers the change's instant. */
async function catalogWithHistory(root: string): Promise<{ path: string; changedAt: string }> {
  await using mirror = startMirror();
  const run = (args: string[]) => {
    const command = parseCli(["--base-url", mirror.url, ...args], {});
    assert.equal(command.kind, "run");
    return runJob(command.options, { log: memoryLogger(), root });
  };
  assert.equal((await run(["--symbols", "NASDAQ:AAPL,NYSE:KO"])).exit_code, 0);
  const body = { pricescale: 1000, minmov: 1, type: "stock", currency: "USD" };
  mirror.configure({ overrides: { "NASDAQ:AAPL": body } });
  assert.equal((await run(["--symbols", "NASDAQ:AAPL"])).changed, 1);
  const path = join(root, "data/lakehouse/symbols.parquet");
  const aapl = (await catalogRows(path)).filter((r) => r.symbol === "NASDAQ:AAPL");
  return { path, changedAt: aapl[1].vf as string };
}

/** Events around the change: before the catalog knew AAPL, under each version, and an unknown symbol. */
function eventsAround(changedAt: string, firstAt: string) {
  const at = (text: string, ms: number) =>
    new Date(Date.parse(`${text.replace(" ", "T")}Z`) + ms).toISOString();
  return [
    { symbol: "NASDAQ:AAPL", ts: at(firstAt, -60_000), expect: null },
    { symbol: "NASDAQ:AAPL", ts: at(firstAt, 0), expect: 0.01 },
    { symbol: "NASDAQ:AAPL", ts: at(changedAt, -1), expect: 0.01 },
    { symbol: "NASDAQ:AAPL", ts: at(changedAt, 0), expect: 0.001 },
    { symbol: "NASDAQ:AAPL", ts: at(changedAt, 3_600_000), expect: 0.001 },
    { symbol: "NASDAQ:NOSUCH", ts: at(changedAt, 0), expect: null },
  ];
}

Deno.test("the page has the queries this test runs", () => {
  assert.equal(blocks("sql").length, 2);
  assert.equal(blocks("python").length, 1);
});

Deno.test("docs/as-of-joins.md: each DuckDB query picks the version in force", async () => {
  await using project = await tempProject();
  const { path, changedAt } = await catalogWithHistory(project.dir);
  const firstAt = (await catalogRows(path)).find((r) => r.symbol === "NASDAQ:AAPL")!.vf as string;
  const events = eventsAround(changedAt, firstAt);
  const instance = await DuckDBInstance.create(":memory:");
  const connection = await instance.connect();
  try {
    await connection.run("CREATE TABLE events (symbol VARCHAR, ts TIMESTAMP, price DOUBLE)");
    for (const e of events) {
      await connection.run("INSERT INTO events VALUES ($1, $2::TIMESTAMP, 1.0)", [
        e.symbol,
        e.ts.replace("T", " ").replace("Z", ""), // UTC, as the catalog stores it
      ]);
    }
    for (const sql of blocks("sql")) {
      const query = sql.replaceAll("data/lakehouse/symbols.parquet", path);
      const rows = (await connection.runAndReadAll(query)).getRowObjectsJS();
      const got = rows.map((r) => r.tick_size === null ? null : Number(r.tick_size));
      const want = [...events].sort((a, b) =>
        a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : a.ts < b.ts ? -1 : 1
      ).map((e) => e.expect);
      assert.deepEqual(got, want, query);
    }
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
});

/** A python3 with pandas (Debian's python3-pandas lives under /usr/bin), or null. */
function pandasPython(): string | null {
  for (const python of ["python3", "/usr/bin/python3"]) {
    try {
      const out = new Deno.Command(python, { args: ["-c", "import pandas"], stderr: "null" })
        .outputSync();
      if (out.success) return python;
    } catch {
      // not installed
    }
  }
  return null;
}

const python = pandasPython();
const missing = python ? null : "pandas not installed (apt-get install python3-pandas)";
Deno.test({
  name: missing
    ? `docs/as-of-joins.md: the pandas merge_asof picks the version in force [skipped: ${missing}]`
    : "docs/as-of-joins.md: the pandas merge_asof picks the version in force",
  ignore: missing !== null,
  async fn() {
    await using project = await tempProject();
    const { path, changedAt } = await catalogWithHistory(project.dir);
    const firstAt = (await catalogRows(path)).find((r) => r.symbol === "NASDAQ:AAPL")!
      .vf as string;
    const events = eventsAround(changedAt, firstAt);
    // Debian's pandas has no Parquet engine: the same rows as CSV, read in its place.
    const csv = join(project.dir, "catalog.csv");
    const instance = await DuckDBInstance.create(":memory:");
    const connection = await instance.connect();
    await connection.run(
      `COPY (SELECT * FROM read_parquet('${path}')) TO '${csv}' (FORMAT csv, HEADER)`,
    );
    connection.closeSync();
    instance.closeSync();
    const code = blocks("python")[0].replace(
      'pd.read_parquet("data/lakehouse/symbols.parquet")',
      `pd.read_csv(${JSON.stringify(csv)})`,
    );
    const script = `${code}
import json, sys
events = pd.DataFrame(json.loads(sys.argv[1]))
out = with_metadata(events)
print(json.dumps([None if pd.isna(v) else float(v) for v in out["tick_size"]]))
`;
    const result = await new Deno.Command(python!, {
      args: [
        "-c",
        script,
        JSON.stringify(events.map(({ symbol, ts }) => ({ symbol, ts, price: 1 }))),
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(result.stderr);
    assert.ok(result.success, stderr);
    const want = [...events].sort((a, b) =>
      a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : a.ts < b.ts ? -1 : 1
    ).map((e) => e.expect);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(result.stdout)), want);
  },
});
