/**
 * `meta-ingest show` keeps the catalog's rules: one notion of a change
 * (normalised as the merge normalises), every read verified against the
 * row checksum, hostile values and colliding column names handled, exact
 * numbers and times. Real catalogs on real files, read in-process.
 */
import assert from "node:assert/strict";
import { CATALOG_SCHEMA, quoteIdent, readSql } from "../lib/catalog/sql.ts";
import { parseShowCli, parseTime } from "../lib/input/show_cli.ts";
import { fetched, mergeOnce, query } from "../testing/catalog.ts";
import { showInProcess, showJsonInProcess } from "../testing/show.ts";
import { tempProject } from "../testing/tmp.ts";

const CATALOG = "data/lakehouse/symbols.parquet";

async function catalogIn(dir: string): Promise<string> {
  await Deno.mkdir(`${dir}/data/lakehouse`, { recursive: true });
  return `${dir}/${CATALOG}`;
}

Deno.test("history and --changed-since compare normalised values: a spelling alone is no change", async () => {
  await using project = await tempProject();
  const path = await catalogIn(project.dir);
  // An old catalog: v1 spells the zone Etc/UTC and the subtype Common; v2
  // only respells them (as the merge would store them now); v3 changes the
  // description. The merge never records a respelling as a version, so show
  // must not list one as a change either.
  await query(
    `COPY (SELECT * FROM (VALUES
       ('NASDAQ:AAPL', 'Common', 'Etc/UTC', 'Apple', TIMESTAMP '2025-01-01', TIMESTAMP '2025-02-01'),
       ('NASDAQ:AAPL', 'common', 'UTC', 'Apple', TIMESTAMP '2025-02-01', TIMESTAMP '2025-03-01'),
       ('NASDAQ:AAPL', 'common', 'UTC', 'Apple v3', TIMESTAMP '2025-03-01', NULL))
       AS t(symbol, subtype, timezone, description, valid_from, valid_until))
     TO '${path}' (FORMAT parquet)`,
  );
  const history = await showJsonInProcess(project.dir, ["NASDAQ:AAPL", "--history"]);
  assert.deepEqual(history.rows.map((r: { changes: unknown[] }) => r.changes), [
    [],
    [],
    [{ field: "description", old: "Apple", new: "Apple v3" }],
  ]);
  const since = await showJsonInProcess(project.dir, ["--changed-since", "2025-01-15"]);
  assert.deepEqual(since.rows.map((r: { changes: unknown[] }) => r.changes), [
    [{ field: "description", old: "Apple", new: "Apple v3" }],
  ]);
  // A real change of zone is still one (and shows the stored spellings).
  await query(
    `COPY (SELECT * FROM (VALUES
       ('NASDAQ:AAPL', 'Etc/UTC', TIMESTAMP '2025-01-01', TIMESTAMP '2025-02-01'),
       ('NASDAQ:AAPL', 'US/Eastern', TIMESTAMP '2025-02-01', NULL))
       AS t(symbol, timezone, valid_from, valid_until))
     TO '${path}' (FORMAT parquet)`,
  );
  const moved = await showInProcess(project.dir, ["NASDAQ:AAPL", "--history"]);
  assert.match(moved.out, /timezone: "Etc\/UTC" → "US\/Eastern"/);
});

const T1 = new Date("2026-01-01T00:00:00Z");
const T2 = new Date("2026-02-01T00:00:00Z");

/** A catalog written by real merges: AAPL in two versions (T1, T2), KO once. */
async function merged(dir: string): Promise<string> {
  const path = await catalogIn(dir);
  await mergeOnce(path, [fetched("NASDAQ:AAPL"), fetched("NYSE:KO")], { now: T1 });
  await mergeOnce(path, [fetched("NASDAQ:AAPL", { pricescale: 1000 })], { now: T2 });
  return path;
}

async function storedChecksum(path: string): Promise<string> {
  const [{ sum }] = await query(
    `SELECT value::VARCHAR AS sum FROM parquet_kv_metadata('${path}') WHERE key::VARCHAR = 'meta_ingest_rows_checksum'`,
  );
  return String(sum);
}

Deno.test("show verifies the row checksum: damage that still parses exits 1 before any output, the file untouched", async () => {
  await using project = await tempProject();
  const path = await merged(project.dir);
  const sum = await storedChecksum(path);
  assert.match(sum, /^v2:3:/);
  // The same rows rewritten uncompressed, with their checksum: still good.
  await query(
    `COPY (SELECT * FROM read_parquet('${path}')) TO '${path}.plain'
     (FORMAT parquet, COMPRESSION uncompressed, KV_METADATA {meta_ingest_rows_checksum: '${sum}'})`,
  );
  await Deno.rename(`${path}.plain`, path);
  assert.equal((await showInProcess(project.dir, ["--all"])).code, 0);
  // Flip bytes inside a data page: "Apple" -> "Bpple" wherever it is stored.
  const bytes = await Deno.readFile(path);
  const needle = new TextEncoder().encode("Apple");
  let flipped = 0;
  for (let i = 0; i + needle.length <= bytes.length; i++) {
    if (needle.every((b, j) => bytes[i + j] === b)) {
      bytes[i] = "B".charCodeAt(0);
      flipped++;
    }
  }
  assert.ok(flipped > 0, "the description is stored as plain bytes");
  await Deno.writeFile(path, bytes);
  // It still parses: without the check the damaged value would be printed.
  const unchecked = await showInProcess(project.dir, ["NASDAQ:AAPL", "--no-verify", "--csv"]);
  assert.equal(unchecked.code, 0, unchecked.log.join("\n"));
  assert.match(unchecked.out, /Bpple/);
  for (const args of [["--all"], ["--all", "--csv"], ["NASDAQ:AAPL", "--history", "--json"]]) {
    const refused = await showInProcess(project.dir, args);
    assert.equal(refused.code, 1, args.join(" "));
    assert.equal(refused.out, "", "nothing is written before the check");
    assert.match(
      refused.log.join("\n"),
      /cannot read catalog .*symbols\.parquet: its rows do not match the checksum written with them/,
    );
  }
  assert.deepEqual(await Deno.readFile(path), bytes, "the catalog is untouched");
});

Deno.test("a changed value under the old checksum: show refuses it like ingest, and advises the .bak only when there is one", async () => {
  await using project = await tempProject();
  const path = await merged(project.dir); // two writes: symbols.parquet.bak exists
  const sum = await storedChecksum(path);
  await query(
    `COPY (SELECT * REPLACE (CASE WHEN symbol = 'NYSE:KO' THEN 'tampered' ELSE description END AS description)
     FROM read_parquet('${path}')) TO '${path}.new' (FORMAT parquet, KV_METADATA {meta_ingest_rows_checksum: '${sum}'})`,
  );
  await Deno.rename(`${path}.new`, path);
  const before = await Deno.readFile(path);
  const withBackup = await showInProcess(project.dir, ["NYSE:KO"]);
  assert.equal(withBackup.code, 1);
  assert.equal(withBackup.out, "");
  assert.match(
    withBackup.log.join("\n"),
    /do not match the checksum.*restore symbols\.parquet\.bak/,
  );
  await Deno.remove(`${path}.bak`);
  const without = await showInProcess(project.dir, ["NYSE:KO"]);
  assert.equal(without.code, 1);
  assert.doesNotMatch(without.log.join("\n"), /restore symbols\.parquet\.bak/);
  assert.match(without.log.join("\n"), /there is no symbols\.parquet\.bak/);
  assert.deepEqual(await Deno.readFile(path), before);
  // --no-verify is a choice, never the default: it prints what is there.
  const raw = await showJsonInProcess(project.dir, ["NYSE:KO", "--no-verify"]);
  assert.equal(raw.rows[0].description, "tampered");
});

/** A catalog in the old layout with the given extra text columns (all rows "x" unless set). */
async function hostile(dir: string): Promise<string> {
  const path = await catalogIn(dir);
  await query(
    `COPY (SELECT * FROM (VALUES
       ('NASDAQ:AAPL', '@SUM(1+1)*cmd|'' /C calc''!A0', '=HYPERLINK("http://x","y")', '+1+2', '-cmd',
        e'\\tTab', e'\\rCR', -0.5::DOUBLE, -100::BIGINT, '-5', '=1+1', TIMESTAMP '2026-01-01', NULL),
       ('NYSE:KO', 'Coca-Cola', 'Drinks', '-1.5e3', '+7', 'ok', 'ok', 0.01::DOUBLE, 100::BIGINT, '1', 'x',
        TIMESTAMP '2026-01-01', NULL))
       AS t(symbol, description, sector, industry, country, session, timezone, tick_size, pricescale,
            "note", "=evil", valid_from, valid_until))
     TO '${path}' (FORMAT parquet)`,
  );
  return path;
}

Deno.test("CSV is safe to open in a spreadsheet by default, exact with --csv-raw; numbers stay numbers", async () => {
  await using project = await tempProject();
  await hostile(project.dir);
  const columns =
    "description,sector,industry,country,session,timezone,tick_size,pricescale,note,=evil";
  const safe = await showInProcess(project.dir, ["--all", "--csv", "--columns", columns]);
  assert.equal(safe.code, 0, safe.log.join("\n"));
  const lines = safe.out.split("\r\n");
  assert.equal(lines[0], `symbol,${columns.replace("=evil", "'=evil")}`);
  assert.equal(
    lines[1],
    `NASDAQ:AAPL,'@SUM(1+1)*cmd|' /C calc'!A0,"'=HYPERLINK(""http://x"",""y"")",'+1+2,'-cmd,'\tTab,"'\rCR",-0.5,-100,-5,'=1+1`,
  );
  // Text that is a plain number is not a formula: "-1.5e3" and "+7" stay as they are.
  assert.equal(lines[2], "NYSE:KO,Coca-Cola,Drinks,-1.5e3,+7,ok,ok,0.01,100,1,x");
  const raw = await showInProcess(project.dir, ["--all", "--csv-raw", "--columns", columns]);
  assert.equal(raw.code, 0, raw.log.join("\n"));
  const rawLines = raw.out.split("\r\n");
  assert.equal(rawLines[0], `symbol,${columns}`);
  assert.equal(
    rawLines[1],
    `NASDAQ:AAPL,@SUM(1+1)*cmd|' /C calc'!A0,"=HYPERLINK(""http://x"",""y"")",+1+2,-cmd,\tTab,"\rCR",-0.5,-100,-5,=1+1`,
  );
  // JSON and NDJSON keep exact values, and numbers as numbers.
  const json = await showJsonInProcess(project.dir, ["NASDAQ:AAPL"]);
  assert.equal(json.rows[0].sector, '=HYPERLINK("http://x","y")');
  assert.equal(json.rows[0].tick_size, -0.5);
  assert.equal(json.rows[0].pricescale, -100);
  assert.throws(() => parseShowCli(["--all", "--csv-raw", "--json"]), /give only one of --json/);
});

Deno.test('JSON keeps columns named like show\'s own keys: history rows nest the columns under "row"', async () => {
  await using project = await tempProject();
  const path = await catalogIn(project.dir);
  await query(
    `COPY (SELECT * FROM (VALUES
       ('NASDAQ:AAPL', 'Apple', 'mine', 'also mine', 'and this', TIMESTAMP '2026-01-01', TIMESTAMP '2026-02-01'),
       ('NASDAQ:AAPL', 'Apple v2', 'mine 2', 'also mine 2', 'and this 2', TIMESTAMP '2026-02-01', NULL))
       AS t(symbol, description, changes, first, "row", valid_from, valid_until))
     TO '${path}' (FORMAT parquet)`,
  );
  const history = await showJsonInProcess(project.dir, ["NASDAQ:AAPL", "--history"]);
  assert.deepEqual(history.columns.slice(-3), ["changes", "first", "row"]);
  assert.deepEqual(
    history.rows.map((r: { row: Record<string, unknown> }) => [
      r.row.changes,
      r.row.first,
      r.row.row,
    ]),
    [["mine", "also mine", "and this"], ["mine 2", "also mine 2", "and this 2"]],
  );
  assert.deepEqual(history.rows.map((r: { first: boolean }) => r.first), [true, false]);
  assert.deepEqual(history.rows[1].changes, [
    { field: "description", old: "Apple", new: "Apple v2" },
  ]);
  for (const row of history.rows) {
    assert.deepEqual(Object.keys(row), ["row", "first", "changes"]);
    assert.deepEqual(Object.keys(row.row), history.columns);
  }
  const since = await showJsonInProcess(project.dir, ["--changed-since", "2026-01-15"]);
  assert.equal(since.rows[0].row.changes, "mine 2");
  assert.equal(since.rows[0].first, false);
  // Current rows carry no key of show's own: every column as it is.
  const current = await showJsonInProcess(project.dir, ["NASDAQ:AAPL"]);
  assert.equal(current.rows[0].changes, "mine 2");
  assert.equal(current.rows[0].first, "also mine 2");
  // NDJSON: the same objects, one per line.
  const nd = await showInProcess(project.dir, [
    "NASDAQ:AAPL",
    "NYSE:NOPE",
    "--history",
    "--ndjson",
  ]);
  const docs = nd.out.trimEnd().split("\n").map((line) => JSON.parse(line));
  assert.deepEqual(docs, history.rows);
  assert.deepEqual(nd.log, ["warning: not in the catalog: NYSE:NOPE"]);
  // CSV and the table name show's column apart from the catalog's.
  const csv = await showInProcess(project.dir, [
    "NASDAQ:AAPL",
    "--history",
    "--csv",
    "--columns",
    "changes",
  ]);
  assert.match(csv.out, /^symbol,changes,changes \(show\)\r\n/);
});

Deno.test("no internal name can meet a user's column: a catalog with extra columns named like every helper reads the same", async () => {
  // Every name the read statements introduce (CTEs, aliases, window and
  // lambda names), the old ones (__show_row, which reversed --history), and
  // the struct the rows travel in.
  const names = new Set(["__show_row", "__show_row_id", "__show_first", "row", "prev"]);
  for (const selection of ["current", "as-of", "history", "changed-since"] as const) {
    for (const all of [true, false]) {
      const sql = readSql(selection, all, []);
      for (
        const pattern of [
          /\bAS\s+(\w+)/gi,
          /(\w+)\s+AS\s*\(/gi,
          /WINDOW\s+(\w+)/gi,
          /(\w+)\s+AS\s+MATERIALIZED\s*\(/gi,
          /lambda\s+(\w+)/gi,
          /\bt\((\w+)\)/g,
        ]
      ) {
        for (const match of sql.matchAll(pattern)) names.add(match[1]);
      }
    }
  }
  names.add("t");
  for (const c of CATALOG_SCHEMA) names.delete(c.name);
  for (
    const expected of ["h0", "h5", "row", "rank", "several", "picked", "wanted", "w", "c", "s"]
  ) {
    assert.ok(names.has(expected), `${expected} is among the names tried`);
  }

  await using project = await tempProject();
  const path = await catalogIn(project.dir);
  // History with a respelling, a real change and a retirement, and a
  // damaged symbol with two current rows (the newest-row order decides).
  await query(
    `COPY (SELECT * FROM (VALUES
       ('NASDAQ:AAPL', 'Apple', 'Etc/UTC', true, TIMESTAMP '2026-01-01', TIMESTAMP '2026-02-01'),
       ('NASDAQ:AAPL', 'Apple', 'UTC', true, TIMESTAMP '2026-02-01', TIMESTAMP '2026-03-01'),
       ('NASDAQ:AAPL', 'Apple v3', 'UTC', true, TIMESTAMP '2026-03-01', NULL),
       ('NYSE:KO', 'Coke (older)', 'UTC', true, TIMESTAMP '2026-01-01', NULL),
       ('NYSE:KO', 'Coke (newest)', 'UTC', true, TIMESTAMP '2026-02-15', NULL),
       ('NASDAQ:MSFT', 'Microsoft', 'UTC', true, TIMESTAMP '2026-01-01', TIMESTAMP '2026-03-01'),
       ('NASDAQ:MSFT', 'Microsoft', 'UTC', false, TIMESTAMP '2026-03-01', NULL))
       AS t(symbol, description, timezone, active, valid_from, valid_until))
     TO '${path}.base' (FORMAT parquet)`,
  );
  const extras = [...names].map((n) => `description || '/' || '${n}' AS ${quoteIdent(n)}`);
  await query(
    `COPY (SELECT *, ${
      extras.join(", ")
    } FROM read_parquet('${path}.base')) TO '${path}' (FORMAT parquet)`,
  );
  await Deno.copyFile(`${path}.base`, `${project.dir}/base.parquet`);
  const forms = [
    ["--all"],
    ["NASDAQ:AAPL", "NYSE:KO", "NYSE:NOPE"],
    ["--all", "--as-of", "2026-02-20"],
    ["NASDAQ:AAPL", "NYSE:NOPE", "--as-of", "2026-02-20"],
    ["--all", "--history"],
    ["NASDAQ:AAPL", "NYSE:NOPE", "--history"],
    ["--changed-since", "2026-01-15"],
    ["NASDAQ:MSFT", "NYSE:NOPE", "--changed-since", "2026-01-15"],
  ];
  for (const form of forms) {
    const plain = await showJsonInProcess(project.dir, [...form, "--catalog-path", "base.parquet"]);
    const crowded = await showJsonInProcess(project.dir, form);
    // History and changed-since rows nest the columns under "row"; the others are the columns.
    const nested = form.includes("--history") || form.includes("--changed-since");
    const columnsOf = (r: { row: Record<string, unknown> }): Record<string, unknown> =>
      nested ? r.row : r;
    const ours = (rows: { row: Record<string, unknown> }[]) =>
      rows.map((r) => {
        const kept = Object.fromEntries(CATALOG_SCHEMA.map((c) => [c.name, columnsOf(r)[c.name]]));
        return nested ? { ...r, row: kept } : kept;
      });
    assert.deepEqual(ours(crowded.rows), ours(plain.rows), form.join(" "));
    assert.deepEqual(crowded.unknown, plain.unknown, form.join(" "));
    assert.ok(crowded.rows.length > 0, form.join(" "));
    // Each extra column kept its own value, from its own row.
    for (const r of crowded.rows) {
      const values = columnsOf(r);
      for (const n of names) assert.equal(values[n], `${values.description}/${n}`, n);
    }
  }
  const history = await showJsonInProcess(project.dir, ["NASDAQ:AAPL", "--history"]);
  assert.deepEqual(history.rows.map((r: { row: { valid_from: string } }) => r.row.valid_from), [
    "2026-01-01T00:00:00Z",
    "2026-02-01T00:00:00Z",
    "2026-03-01T00:00:00Z",
  ]);
  assert.deepEqual(history.rows.map((r: { changes: unknown[] }) => r.changes.length), [0, 0, 1]);
  const ko = await showJsonInProcess(project.dir, ["NYSE:KO"]);
  assert.deepEqual(ko.rows.map((r: { description: string }) => r.description), ["Coke (newest)"]);
});

Deno.test("BIGINTs beyond 2^53 keep every digit, in every form", async () => {
  await using project = await tempProject();
  const path = await catalogIn(project.dir);
  await query(
    `COPY (SELECT * FROM (VALUES
       ('NASDAQ:AAPL', 9007199254740993::BIGINT, TIMESTAMP '2026-01-01', TIMESTAMP '2026-02-01'),
       ('NASDAQ:AAPL', CAST('-9223372036854775808' AS BIGINT), TIMESTAMP '2026-02-01', NULL))
       AS t(symbol, pricescale, valid_from, valid_until))
     TO '${path}' (FORMAT parquet)`,
  );
  const json = await showInProcess(project.dir, ["NASDAQ:AAPL", "--history", "--json"]);
  assert.match(json.out, /"pricescale":9007199254740993\b/);
  assert.match(
    json.out,
    /"changes":\[\{"field":"pricescale","old":9007199254740993,"new":-9223372036854775808\}\]/,
  );
  const csv = await showInProcess(project.dir, [
    "NASDAQ:AAPL",
    "--as-of",
    "2026-01-15",
    "--csv",
    "--columns",
    "pricescale",
  ]);
  assert.equal(csv.out, "symbol,pricescale\r\nNASDAQ:AAPL,9007199254740993\r\n");
  const table = await showInProcess(project.dir, ["NASDAQ:AAPL", "--history"]);
  assert.match(table.out, /pricescale: 9007199254740993 → -9223372036854775808/);
  const current = await showInProcess(project.dir, ["NASDAQ:AAPL", "--ndjson"]);
  assert.match(current.out, /"pricescale":-9223372036854775808,/);
});

Deno.test("--as-of takes every year from 0001 to 9999 as written", async () => {
  assert.equal(parseTime("0001-01-01"), "0001-01-01T00:00:00Z");
  assert.equal(parseTime("0099-12-31T23:59:59.5Z"), "0099-12-31T23:59:59.500Z");
  assert.equal(parseTime("0050-06-15T12:00:00+02:00"), "0050-06-15T10:00:00Z");
  assert.equal(parseTime("9999-12-31T23:59:59.999999Z"), "9999-12-31T23:59:59.999999Z");
  assert.equal(parseTime("0000-01-01"), null);
  assert.equal(parseTime("0001-01-01T00:30+01:00"), null, "before year 1 in UTC");
  assert.equal(parseTime("0099-02-29"), null, "99 is not a leap year (1999 is not either)");
  assert.equal(parseTime("0096-02-29"), "0096-02-29T00:00:00Z");
  await using project = await tempProject();
  await merged(project.dir);
  const answer = await showJsonInProcess(project.dir, ["NASDAQ:AAPL", "--as-of", "0001-01-01"]);
  assert.equal(answer.as_of, "0001-01-01T00:00:00Z");
  assert.deepEqual(answer.unknown, ["NASDAQ:AAPL"]);
});
