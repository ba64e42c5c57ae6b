/**
 * `meta-ingest show`: what the catalog knew, and when. Real catalogs written
 * by real merges, read by the real command (in-process for the edge cases,
 * as a child process under the `show` permission set for the contract).
 */
import assert from "node:assert/strict";
import { CatalogReader, type VersionRow } from "../lib/catalog/reader.ts";
import { join } from "node:path";
import { permissionFlags, readPermissionSet, readTask, REPO_ROOT } from "../tools/permissions.ts";
import { CATALOG_SCHEMA } from "../lib/catalog/sql.ts";
import { IngestError } from "../lib/core/errors.ts";
import { fetched, mergeOnce, query } from "../testing/catalog.ts";
import { cliTest } from "../testing/cli.ts";
import { mirrorSymbols } from "../testing/mirror.ts";
import { showInProcess } from "../testing/show.ts";
import { tempProject } from "../testing/tmp.ts";

const T1 = new Date("2026-01-01T00:00:00Z");
const T2 = new Date("2026-02-01T00:00:00Z");
const T3 = new Date("2026-03-01T00:00:00Z");
const CATALOG = "data/lakehouse/symbols.parquet";

async function catalogIn(dir: string): Promise<string> {
  await Deno.mkdir(`${dir}/data/lakehouse`, { recursive: true });
  return `${dir}/${CATALOG}`;
}

/** AAPL in three versions (T1, T2: pricescale, T3: description), KO from T2, MSFT retired at T3. */
async function threeVersions(dir: string): Promise<string> {
  const path = await catalogIn(dir);
  await mergeOnce(path, [fetched("NASDAQ:AAPL"), fetched("NASDAQ:MSFT")], { now: T1 });
  await mergeOnce(path, [fetched("NASDAQ:AAPL", { pricescale: 1000 }), fetched("NYSE:KO")], {
    now: T2,
  });
  await mergeOnce(path, [fetched("NASDAQ:AAPL", { pricescale: 1000, description: "Apple v3" })], {
    notFound: ["NASDAQ:MSFT"],
    retireNotFound: true,
    now: T3,
  });
  return path;
}

const show = (root: string, args: string[]) => showInProcess(root, args);

// deno-lint-ignore no-explicit-any
async function showJson(root: string, args: string[]): Promise<any> {
  const result = await show(root, [...args, "--json"]);
  assert.equal(result.code, 0, result.log.join("\n"));
  return JSON.parse(result.out);
}

Deno.test("as-of exactly at a valid_from and exactly at a valid_until: the later version", async () => {
  await using project = await tempProject();
  await threeVersions(project.dir);
  // T2 closes version 1 (valid_until = T2) and opens version 2 (valid_from = T2).
  const at = await showJson(project.dir, ["NASDAQ:AAPL", "--as-of", "2026-02-01T00:00:00Z"]);
  assert.equal(at.as_of, "2026-02-01T00:00:00Z");
  assert.deepEqual(
    at.rows.map((r: Record<string, unknown>) => [r.pricescale, r.valid_from, r.valid_until]),
    [[1000, "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"]],
  );
  // One microsecond earlier, version 1 is still valid.
  const before = await showJson(project.dir, [
    "NASDAQ:AAPL",
    "--as-of",
    "2026-01-31T23:59:59.999999Z",
  ]);
  assert.deepEqual(before.rows.map((r: Record<string, unknown>) => r.pricescale), [100]);
  // A date means midnight UTC; an offset is converted.
  const date = await showJson(project.dir, ["nasdaq:aapl", "--as-of", "2026-03-01"]);
  assert.deepEqual(date.rows.map((r: Record<string, unknown>) => r.description), ["Apple v3"]);
  const offset = await showJson(project.dir, ["NASDAQ:AAPL", "--as-of", "2026-03-01T00:30+01:00"]);
  assert.equal(offset.as_of, "2026-02-28T23:30:00Z");
  assert.deepEqual(offset.rows.map((r: Record<string, unknown>) => r.pricescale), [1000]);
  assert.equal(offset.rows[0].description, "Apple Inc.");
});

Deno.test("before a symbol's first version it is listed as unknown at that time", async () => {
  await using project = await tempProject();
  await threeVersions(project.dir);
  const answer = await showJson(project.dir, [
    "NYSE:KO",
    "NASDAQ:AAPL",
    "NYSE:NEVER",
    "--as-of",
    "2026-01-15",
  ]);
  assert.deepEqual(answer.rows.map((r: Record<string, unknown>) => r.symbol), ["NASDAQ:AAPL"]);
  assert.deepEqual(answer.unknown, ["NYSE:KO", "NYSE:NEVER"]);
  const table = await show(project.dir, ["NYSE:KO", "--as-of", "2026-01-15"]);
  assert.equal(table.code, 0);
  assert.equal(table.out, "unknown at 2026-01-15T00:00:00Z: NYSE:KO\n");
  // --all as of then: only what was known then.
  const all = await showJson(project.dir, ["--all", "--as-of", "2026-01-15"]);
  assert.deepEqual(all.rows.map((r: Record<string, unknown>) => r.symbol), [
    "NASDAQ:AAPL",
    "NASDAQ:MSFT",
  ]);
});

Deno.test("a retired symbol: active before, inactive after, and listed with --changed-since", async () => {
  await using project = await tempProject();
  await threeVersions(project.dir);
  const now = await showJson(project.dir, ["NASDAQ:MSFT"]);
  assert.deepEqual(now.rows.map((r: Record<string, unknown>) => [r.active, r.valid_from]), [
    [false, "2026-03-01T00:00:00Z"],
  ]);
  const then = await showJson(project.dir, ["NASDAQ:MSFT", "--as-of", "2026-02-15"]);
  assert.deepEqual(then.rows.map((r: Record<string, unknown>) => r.active), [true]);
  const changed = await showJson(project.dir, ["--changed-since", "2026-02-15"]);
  // History rows nest the catalog's columns under `row`, beside show's own keys.
  const msft = changed.rows.find((r: { row: Record<string, unknown> }) =>
    r.row.symbol === "NASDAQ:MSFT"
  );
  assert.deepEqual(msft.changes, [{ field: "active", old: true, new: false }]);
});

Deno.test("history across three versions: oldest first, with what changed", async () => {
  await using project = await tempProject();
  await threeVersions(project.dir);
  const answer = await showJson(project.dir, ["NASDAQ:AAPL", "--history"]);
  assert.equal(answer.mode, "history");
  assert.deepEqual(
    answer.rows.map((
      r: { row: Record<string, unknown>; first: boolean },
    ) => [r.row.valid_from, r.row.valid_until, r.first]),
    [
      ["2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z", true],
      ["2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z", false],
      ["2026-03-01T00:00:00Z", null, false],
    ],
  );
  assert.deepEqual(answer.rows.map((r: { changes: unknown[] }) => r.changes), [
    [],
    [
      { field: "pricescale", old: 100, new: 1000 },
      { field: "tick_size", old: 0.01, new: 0.001 },
    ],
    [{ field: "description", old: "Apple Inc.", new: "Apple v3" }],
  ]);
  const table = await show(project.dir, ["NASDAQ:AAPL", "--history"]);
  const lines = table.out.trimEnd().split("\n");
  assert.match(lines[0], /^symbol\s+valid_from\s+valid_until\s+active\s+changes$/);
  assert.match(lines[2], /2026-01-01T00:00:00Z\s+2026-02-01T00:00:00Z\s+true\s+first version$/);
  assert.match(lines[3], /pricescale: 100 → 1000; tick_size: 0\.01 → 0\.001$/);
  assert.match(lines[4], /description: "Apple Inc\." → "Apple v3"$/);
  // Aligned: every row starts its second column at the same place.
  const at = lines[0].indexOf("valid_from");
  for (const line of lines.slice(2)) assert.equal(line.indexOf("2026-"), at, line);
});

Deno.test("--changed-since after a refresh that changed 10% lists exactly those, with what changed", async () => {
  await using project = await tempProject();
  const path = await catalogIn(project.dir);
  const symbols = mirrorSymbols().filter((_, i) => i % 37 === 0).slice(0, 50);
  await mergeOnce(path, symbols.map((s) => fetched(s)), { now: T1 });
  const changed = symbols.filter((_, i) => i % 10 === 3);
  assert.equal(changed.length, 5);
  await mergeOnce(
    path,
    symbols.map((s) =>
      changed.includes(s) ? fetched(s, { description: `${s} renamed` }) : fetched(s)
    ),
    { now: T2 },
  );
  const answer = await showJson(project.dir, ["--changed-since", "2026-01-15"]);
  assert.equal(answer.changed_since, "2026-01-15T00:00:00Z");
  assert.deepEqual(
    answer.rows.map((r: { row: Record<string, unknown> }) => r.row.symbol),
    changed.toSorted(),
  );
  for (const row of answer.rows) {
    assert.equal(row.first, false);
    assert.deepEqual(row.changes.map((c: { field: string }) => c.field), ["description"]);
    assert.equal(row.changes[0].new, `${row.row.symbol} renamed`);
  }
  // Exactly at the refresh: that version is already valid, so nothing changed *after* it.
  const atRefresh = await showJson(project.dir, ["--changed-since", "2026-02-01T00:00:00Z"]);
  assert.deepEqual(atRefresh.rows, []);
  assert.equal(
    (await show(project.dir, ["--changed-since", "2026-02-01"])).out,
    "no symbol changed after 2026-02-01T00:00:00Z\n",
  );
  // Before the first run, everything is new.
  const early = await showJson(project.dir, ["--changed-since", "2025-12-31"]);
  assert.equal(early.rows.length, 50);
  assert.ok(early.rows.every((r: { first: boolean }) => r.first));
  // Named symbols narrow the feed; unchanged ones are simply not listed.
  const named = await showJson(project.dir, [
    changed[0],
    symbols[0],
    "--changed-since",
    "2026-01-15",
  ]);
  assert.deepEqual(named.rows.map((r: { row: Record<string, unknown> }) => r.row.symbol), [
    changed[0],
  ]);
  assert.deepEqual(named.unknown, []);
});

Deno.test("JSON is one document; CSV has a header, quoting, and rows for unknown symbols", async () => {
  await using project = await tempProject();
  await threeVersions(project.dir);
  const answer = await showJson(project.dir, ["NASDAQ:AAPL", "NYSE:KO", "NYSE:NOPE"]);
  assert.deepEqual(Object.keys(answer), ["catalog", "mode", "columns", "rows", "unknown"]);
  assert.equal(answer.catalog, CATALOG);
  assert.equal(answer.mode, "current");
  assert.equal(answer.columns.length, CATALOG_SCHEMA.length); // every column the catalog writes
  assert.deepEqual(Object.keys(answer.rows[0]), answer.columns);
  assert.deepEqual(answer.unknown, ["NYSE:NOPE"]);
  assert.equal(typeof answer.rows[0].pricescale, "number");
  assert.equal(typeof answer.rows[0].active, "boolean");

  const csv = await show(project.dir, [
    "NASDAQ:AAPL",
    "NYSE:NOPE",
    "--history",
    "--csv",
    "--columns",
    "description,pricescale",
  ]);
  assert.equal(csv.code, 0);
  assert.equal(
    csv.out,
    [
      "symbol,description,pricescale,changes",
      "NASDAQ:AAPL,Apple Inc.,100,first version",
      "NASDAQ:AAPL,Apple Inc.,1000,pricescale: 100 → 1000; tick_size: 0.01 → 0.001",
      'NASDAQ:AAPL,Apple v3,1000,"description: ""Apple Inc."" → ""Apple v3"""',
      "NYSE:NOPE,,,",
      "",
    ].join("\r\n"),
  );
  assert.match(csv.log.join("\n"), /not in the catalog: NYSE:NOPE/);
  const unknownColumn = await show(project.dir, ["NASDAQ:AAPL", "--columns", "pricescale,nope"]);
  assert.equal(unknownColumn.code, 2);
  assert.match(unknownColumn.log.join("\n"), /no column "nope".*its columns: symbol, exchange/);
});

Deno.test("a catalog as the Python original writes it: nanosecond timestamps, missing columns", async () => {
  await using project = await tempProject();
  const path = await catalogIn(project.dir);
  // pandas/pyarrow: TIMESTAMP_NS, DOUBLE pricescale (NaN when missing), no
  // active/profile/session/..., an extra column of its own.
  await query(
    `COPY (SELECT * FROM (VALUES
       ('NASDAQ:AAPL', 'stock', 'Apple', 100.0::DOUBLE, 1.0::DOUBLE, TIMESTAMP_NS '2025-01-01 00:00:00.123456789', TIMESTAMP_NS '2025-01-01 00:00:00.123456789', TIMESTAMP_NS '2025-06-01 12:00:00', 'py-1'),
       ('NASDAQ:AAPL', 'stock', 'Apple', 1000.0::DOUBLE, 1.0::DOUBLE, TIMESTAMP_NS '2025-06-01 12:00:00', TIMESTAMP_NS '2025-06-01 12:00:00', NULL, 'py-2'),
       ('NYSE:KO', 'stock', 'Coca-Cola', 'NaN'::DOUBLE, 1.0::DOUBLE, TIMESTAMP_NS '2025-01-01 00:00:00', TIMESTAMP_NS '2025-01-01 00:00:00', NULL, 'py-3'),
       ('NYSE:PEP', 'stock', 'PepsiCo', 100.0::DOUBLE, 1.0::DOUBLE, TIMESTAMP_NS '2025-01-01 00:00:00', TIMESTAMP_NS '2025-01-01 00:00:00', TIMESTAMP_NS '2025-06-01 12:00:00', 'py-4'))
       AS t(symbol, type, description, pricescale, minmov, updated_at, valid_from, valid_until, source_note))
     TO '${path}' (FORMAT parquet)`,
  );
  const current = await showJson(project.dir, ["NASDAQ:AAPL", "NYSE:KO"]);
  assert.equal(current.columns.at(-1), "source_note");
  assert.deepEqual(
    current.rows.map((
      r: Record<string, unknown>,
    ) => [r.symbol, r.pricescale, r.active, r.profile, r.source_note]),
    [["NASDAQ:AAPL", 1000, true, null, "py-2"], ["NYSE:KO", null, true, null, "py-3"]],
  );
  const then = await showJson(project.dir, ["NASDAQ:AAPL", "--as-of", "2025-03-01"]);
  assert.deepEqual(
    then.rows.map((r: Record<string, unknown>) => [r.pricescale, r.valid_from, r.valid_until]),
    [[100, "2025-01-01T00:00:00.123456Z", "2025-06-01T12:00:00Z"]],
  );
  const edge = await showJson(project.dir, [
    "NASDAQ:AAPL",
    "NYSE:PEP",
    "--as-of",
    "2025-06-01T12:00:00Z",
  ]);
  assert.deepEqual(edge.rows.map((r: Record<string, unknown>) => r.pricescale), [1000]);
  // A row whose valid_until is exactly the instant (and no successor): not valid then.
  assert.deepEqual(edge.unknown, ["NYSE:PEP"]);
  const justBefore = await showJson(project.dir, [
    "NYSE:PEP",
    "--as-of",
    "2025-06-01T11:59:59.999999Z",
  ]);
  assert.deepEqual(justBefore.rows.map((r: Record<string, unknown>) => r.source_note), ["py-4"]);
  const history = await showJson(project.dir, ["NASDAQ:AAPL", "--history"]);
  assert.deepEqual(history.rows[1].changes, [{ field: "pricescale", old: 100, new: 1000 }]);
  const csv = await show(project.dir, ["NYSE:KO", "--csv", "--columns", "source_note,pricescale"]);
  assert.equal(csv.out, "symbol,source_note,pricescale\r\nNYSE:KO,py-3,\r\n");

  // Older still: no history columns at all. Rows count as valid from the start.
  await query(
    `COPY (SELECT 'NASDAQ:AAPL' AS symbol, 'stock' AS type, TIMESTAMP_NS '2025-06-01 12:00:00.5' AS updated_at)
     TO '${path}' (FORMAT parquet)`,
  );
  const old = await showJson(project.dir, ["NASDAQ:AAPL", "--as-of", "2020-01-01"]);
  assert.deepEqual(
    old.rows.map((r: Record<string, unknown>) => [r.symbol, r.updated_at, r.valid_from]),
    [["NASDAQ:AAPL", "2025-06-01T12:00:00.500Z", null]],
  );
});

Deno.test("an unreadable or missing catalog exits 1 and names the file", async () => {
  await using project = await tempProject();
  const path = await catalogIn(project.dir);
  const missing = await show(project.dir, ["NASDAQ:AAPL"]);
  assert.equal(missing.code, 1);
  assert.match(missing.log.join("\n"), /catalog path not found: data\/lakehouse\/symbols\.parquet/);
  await Deno.writeTextFile(path, "PAR1 not parquet PAR1");
  const corrupt = await show(project.dir, ["NASDAQ:AAPL"]);
  assert.equal(corrupt.code, 1);
  assert.match(corrupt.log.join("\n"), /cannot read catalog .*symbols\.parquet/);
  assert.equal(corrupt.out, "");
});

Deno.test("a catalog path DuckDB would read as a glob is refused, not expanded", async () => {
  await using project = await tempProject();
  await threeVersions(project.dir);
  await Deno.copyFile(`${project.dir}/${CATALOG}`, `${project.dir}/data/lakehouse/s[1].parquet`);
  const result = await show(project.dir, [
    "NASDAQ:AAPL",
    "--catalog-path",
    "data/lakehouse/s[1].parquet",
  ]);
  assert.equal(result.code, 1);
  assert.match(result.log.join("\n"), /contains a glob character/);
});

Deno.test("the show permission set: the project root read-only, its private folder, an S3 store, DuckDB's addon", async () => {
  const set = await readPermissionSet("show");
  const ingest = await readPermissionSet("ingest");
  // Writes only into .meta-ingest (private copies of an S3 catalog); the
  // network only on loopback (a local S3 store) and the AWS variables.
  assert.deepEqual(set, {
    read: ["."],
    write: [".meta-ingest"],
    net: ["127.0.0.1", "localhost"],
    env: ingest.env?.filter((name) => name.startsWith("AWS_")),
    ffi: ingest.ffi,
  });
  assert.equal(
    (await readTask("show")).command,
    "deno run -q --no-prompt --no-remote --cached-only --frozen -P=show main.ts show",
  );
});

Deno.test("Deno itself refuses writes, hosts, variables and subprocesses under the show set", async () => {
  await using project = await tempProject();
  await project.write("inside.json", "[]");
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-q",
      "--no-prompt",
      ...(await permissionFlags("show", "run")),
      join(REPO_ROOT, "testing/probe.ts"),
      JSON.stringify({
        "read:inside": "inside.json",
        "read:etc": "/etc/hostname",
        "write:inside": "out.txt",
        "net:remote": "scanner.tradingview.com",
        "env:ours": "META_INGEST_BASE_URL",
        "run:sh": "sh",
        "sys:release": "osRelease",
      }),
    ],
    cwd: project.dir,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  assert.deepEqual(JSON.parse(new TextDecoder().decode(output.stdout)), {
    "read:inside": "allowed",
    "read:etc": "refused",
    "write:inside": "refused",
    "net:remote": "refused",
    "env:ours": "refused",
    "run:sh": "refused",
    "sys:release": "refused",
  });
});

cliTest("show under its own permission set: table, exit codes, no writes", async (cli) => {
  await using project = await tempProject();
  await threeVersions(project.dir);
  const before = await Array.fromAsync(Deno.readDir(`${project.dir}/data/lakehouse`));
  const ok = await cli.run(["show", "nasdaq:aapl", "NYSE:KO"], { cwd: project.dir, set: "show" });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stderr, "");
  const lines = ok.stdout.trimEnd().split("\n");
  assert.match(lines[0], /^symbol\s+type\s+description\s+pricescale/);
  assert.match(lines[2], /^NASDAQ:AAPL\s+stock\s+Apple v3\s+1000\s/);
  assert.match(lines[3], /^NYSE:KO\s/);
  const badTime = await cli.run(["show", "NASDAQ:AAPL", "--as-of", "yesterday"], {
    cwd: project.dir,
    set: "show",
  });
  assert.equal(badTime.code, 2);
  assert.match(
    badTime.stderr,
    /--as-of "yesterday" is not a time; use YYYY-MM-DD .*Z or an offset/,
  );
  assert.equal(badTime.stderr.trim().split("\n").length, 1);
  const history = await cli.run(["show", "NASDAQ:AAPL", "--history", "--json"], {
    cwd: project.dir,
    set: "show",
  });
  assert.equal(history.code, 0, history.stderr);
  assert.equal(JSON.parse(history.stdout).rows.length, 3);
  await using other = await tempProject();
  const outside = await cli.run(["show", "--all", "--catalog-path", `${other.dir}/x.parquet`], {
    cwd: project.dir,
    set: "show",
  });
  assert.equal(outside.code, 2, "a path outside the root is a usage error");
  assert.match(outside.stderr, /outside the project root/);
  assert.doesNotMatch(outside.stderr, /NotCapable|Uncaught/);
  const after = await Array.fromAsync(Deno.readDir(`${project.dir}/data/lakehouse`));
  assert.deepEqual(after.map((e) => e.name).sort(), before.map((e) => e.name).sort());
});

cliTest("show reads one consistent file while ingests replace it", async (cli) => {
  await using project = await tempProject();
  const path = await catalogIn(project.dir);
  const symbols = mirrorSymbols().slice(0, 300);
  const round = (n: number) => symbols.map((s) => fetched(s, { description: `round ${n}` }));
  await mergeOnce(path, round(0), { now: new Date(Date.UTC(2026, 0, 1)) });
  // Writer: a new version of every row, again and again, by the real merge
  // and atomic replace, while show runs as a child process. Back to back,
  // with a longer pause after every third write: on a busy machine a read
  // (which verifies the checksum, reading every row) can take longer than a
  // merge, and a reader must get a quiet moment within its tries; one that
  // mixed versions or never settled still fails below.
  let writes = 0;
  let stop = false;
  const writer = (async () => {
    for (let n = 1; !stop; n++) {
      await mergeOnce(path, round(n), { now: new Date(Date.UTC(2026, 0, 1, 0, n)) });
      writes++;
      if (writes % 3 === 0) await new Promise((resolve) => setTimeout(resolve, 500));
    }
  })();
  const seen = new Set<string>();
  try {
    for (let i = 0; i < 6; i++) {
      const result = await cli.run(
        ["show", "--all", "--csv", "--columns", "description"],
        { cwd: project.dir, set: "show" },
      );
      assert.equal(result.code, 0, result.stderr);
      const rows = result.stdout.trimEnd().split("\r\n").slice(1);
      assert.equal(rows.length, symbols.length);
      const versions = new Set(rows.map((r) => r.split(",")[1]));
      assert.equal(versions.size, 1, `one version per read, got ${[...versions].join(" / ")}`);
      seen.add([...versions][0]);
    }
  } finally {
    stop = true;
    await writer;
  }
  assert.ok(writes >= 3, `the catalog was replaced ${writes} times during the reads`);
});

Deno.test("an attempt that fails while the file is replaced is made again, not reported", async () => {
  await using project = await tempProject();
  const path = await catalogIn(project.dir);
  await query(
    `COPY (SELECT 'NASDAQ:AAPL' AS symbol, 'old' AS description) TO '${path}' (FORMAT parquet)`,
  );
  await query(
    `COPY (SELECT 'NASDAQ:AAPL' AS symbol, 'new' AS description) TO '${path}.b' (FORMAT parquet)`,
  );
  await using reader = await CatalogReader.open(path);
  let passes = 0;
  // What a read that met a swap half-way sees: an error from DuckDB, worded
  // as an unreadable catalog, while another version has taken the path.
  const answer = await reader.read({ symbols: [], all: true, mode: { kind: "current" } }, {
    prepass: async () => {
      if (passes++ > 0) return;
      await Deno.rename(`${path}.b`, path);
      throw new IngestError("catalog", `cannot read catalog ${path}: TProtocolException`, "retry");
    },
  });
  const rows: VersionRow[] = [];
  for await (const item of answer.items) if (item.kind === "row") rows.push(item.row);
  assert.equal(answer.attempts, 2);
  assert.deepEqual(rows.map((r) => r.values[answer.columns.indexOf("description")]), ["new"]);
  // The same error from a file nobody replaced is the file's own, and is reported.
  await assert.rejects(
    reader.read({ symbols: [], all: true, mode: { kind: "current" } }, {
      prepass: () => Promise.reject(new IngestError("catalog", "unreadable (simulated)", "retry")),
    }),
    /unreadable \(simulated\)/,
  );
});

Deno.test("a read never mixes two versions of the file, even when its layout changes under it", async () => {
  await using project = await tempProject();
  const path = await catalogIn(project.dir);
  // Two versions with different layouts: an old Python one (no history
  // columns) and ours. A read that took its column list from one and its
  // rows from the other would show "modern" rows without valid_from.
  const symbols = mirrorSymbols().slice(0, 200);
  const values = symbols.map((s) => `('${s}')`).join(", ");
  await query(
    `COPY (SELECT s AS symbol, 'legacy' AS description FROM (VALUES ${values}) t(s)) TO '${path}.a' (FORMAT parquet)`,
  );
  await query(
    `COPY (SELECT s AS symbol, 'modern' AS description, TIMESTAMP '2026-01-01' AS valid_from,
            NULL::TIMESTAMP AS valid_until, true AS active FROM (VALUES ${values}) t(s))
     TO '${path}.b' (FORMAT parquet)`,
  );
  await Deno.copyFile(`${path}.a`, path);
  let stop = false;
  let swaps = 0;
  const swapper = (async () => {
    while (!stop) {
      for (const source of [`${path}.b`, `${path}.a`]) {
        await Deno.copyFile(source, `${path}.tmp`);
        await Deno.rename(`${path}.tmp`, path);
        swaps++;
        // About as often as a read takes, so many reads overlap a swap; every
        // third pause (after either version, in turn) is a second, so a read
        // made again after a swap can finish even on a busy machine (a reader
        // that mixed versions or never settled would still fail below).
        await new Promise((resolve) => setTimeout(resolve, swaps % 3 === 0 ? 1000 : 50));
      }
    }
  })();
  const seen = new Set<string>();
  let retried = 0;
  try {
    await using reader = await CatalogReader.open(path);
    for (let i = 0; i < 40; i++) {
      const answer = await reader.read({ symbols: [], all: true, mode: { kind: "current" } });
      if (answer.attempts > 1) retried++;
      const [description, validFrom] = ["description", "valid_from"].map((c) =>
        answer.columns.indexOf(c)
      );
      const rows: VersionRow[] = [];
      for await (const item of answer.items) if (item.kind === "row") rows.push(item.row);
      const kinds = new Set(
        rows.map((r) => `${r.values[description]} ${r.values[validFrom] === null ? "-" : "ts"}`),
      );
      assert.equal(rows.length, symbols.length);
      assert.deepEqual(kinds.size, 1, [...kinds].join(" / "));
      const [kind] = kinds;
      assert.ok(kind === "legacy -" || kind === "modern ts", kind);
      seen.add(kind);
    }
  } finally {
    stop = true;
    await swapper;
  }
  assert.ok(swaps >= 6, `${swaps} swaps during 40 reads`);
  assert.ok(retried > 0, "some reads met a swap and were made again");
  assert.equal(seen.size, 2, "both versions were read");
});

Deno.test("the table escapes outside text from the catalog (issue 13: nothing reaches the terminal raw)", async () => {
  await using project = await tempProject();
  const path = await catalogIn(project.dir);
  const evil = "Apple\x1b]0;pwned\x07\r\u009b2J\u202eevil";
  await mergeOnce(path, [fetched("NASDAQ:AAPL", { description: evil })], { now: T1 });
  const table = await show(project.dir, ["NASDAQ:AAPL", "--columns", "description"]);
  assert.equal(table.code, 0, table.log.join("\n"));
  assert.match(table.out, /Apple\\x1b\]0;pwned\\x07\\x0d\\x9b2J\\u202eevil/);
  // deno-lint-ignore no-control-regex
  assert.doesNotMatch(table.out, /[\x1b\x07\r\u009b\u202e]/);
  // JSON keeps the exact value (JSON escapes it).
  assert.equal((await showJson(project.dir, ["NASDAQ:AAPL"])).rows[0].description, evil);
});
