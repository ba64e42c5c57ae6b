/**
 * The catalog's history rules (SCD Type 2), each as its own test, on real
 * DuckDB and real Parquet files.
 */
import assert from "node:assert/strict";
import { DuckDBAppender, DuckDBConnection } from "@duckdb/node-api";
import { Catalog } from "../lib/catalog/catalog.ts";
import { IngestError } from "../lib/core/errors.ts";
import {
  catalogRows,
  currentRows,
  fetched,
  mergeOnce,
  query,
  writeMerge,
} from "../testing/catalog.ts";
import { tempProject } from "../testing/tmp.ts";

const T1 = new Date("2026-11-01T00:00:00Z");
const T2 = new Date("2026-11-02T00:00:00Z");
const T3 = new Date("2026-11-03T00:00:00Z");

async function catalogIn(dir: string) {
  await Deno.mkdir(`${dir}/data/lakehouse`, { recursive: true });
  return `${dir}/data/lakehouse/symbols.parquet`;
}

Deno.test("a new symbol gets one current row", async () => {
  await using project = await tempProject();
  const path = await catalogIn(project.dir);
  const { plan } = await mergeOnce(path, [fetched("NASDAQ:AAPL"), fetched("BINANCE:BTCUSDT")], {
    now: T1,
  });
  assert.deepEqual([plan.new, plan.changed, plan.unchanged], [2, 0, 0]);
  const rows = await catalogRows(path);
  assert.equal(rows.length, 2);
  for (const row of rows) {
    assert.equal(row.vf, "2026-11-01 00:00:00");
    assert.equal(row.vu, null);
    assert.equal(row.active, true);
  }
  assert.equal(rows[0].symbol, "BINANCE:BTCUSDT");
  assert.equal(rows[0].timezone, "UTC");
  assert.equal(rows[0].tick_size, 1 / (rows[0].pricescale as number));
});

Deno.test("a meaningful change closes the current row and opens one at the same instant", async () => {
  await using project = await tempProject();
  const path = await catalogIn(project.dir);
  await mergeOnce(path, [fetched("NASDAQ:AAPL")], { now: T1 });
  const { plan } = await mergeOnce(path, [
    fetched("NASDAQ:AAPL", { description: "Apple Inc. (new)" }),
  ], {
    now: T2,
  });
  assert.deepEqual([plan.new, plan.changed], [0, 1]);
  assert.deepEqual(plan.changes, [{
    symbol: "NASDAQ:AAPL",
    action: "changed",
    fields: [{ field: "description", old: "Apple Inc.", new: "Apple Inc. (new)" }],
  }]);
  const rows = await catalogRows(path);
  assert.deepEqual(rows.map((r) => [r.description, r.vf, r.vu]), [
    ["Apple Inc.", "2026-11-01 00:00:00", "2026-11-02 00:00:00"],
    ["Apple Inc. (new)", "2026-11-02 00:00:00", null],
  ]);
});

Deno.test("unchanged symbols: no new row and no rewrite (bytes and mtime kept)", async () => {
  await using project = await tempProject();
  const path = await catalogIn(project.dir);
  await mergeOnce(path, [fetched("NASDAQ:AAPL"), fetched("NYSE:KO")], { now: T1 });
  const bytes = await Deno.readFile(path);
  const mtime = (await Deno.stat(path)).mtime;
  await new Promise((resolve) => setTimeout(resolve, 20));
  const { plan, wrote } = await mergeOnce(path, [fetched("NASDAQ:AAPL"), fetched("NYSE:KO")], {
    now: T2,
  });
  assert.deepEqual([plan.new, plan.changed, plan.unchanged, wrote], [0, 0, 2, false]);
  assert.deepEqual(await Deno.readFile(path), bytes);
  assert.deepEqual((await Deno.stat(path)).mtime, mtime);
});

Deno.test("null equals null, and numbers equal within 1e-12 are unchanged", async () => {
  await using project = await tempProject();
  const path = await catalogIn(project.dir);
  await mergeOnce(path, [fetched("NASDAQ:AAPL", { lot_size: 0.1, sector: null })], { now: T1 });
  const { plan } = await mergeOnce(path, [
    fetched("NASDAQ:AAPL", { lot_size: 0.1 + 1e-14, sector: null }),
  ], {
    now: T2,
  });
  assert.deepEqual([plan.changed, plan.unchanged], [0, 1]);
  const moved = await mergeOnce(path, [
    fetched("NASDAQ:AAPL", { lot_size: 0.1 + 1e-9, sector: null }),
  ], {
    now: T3,
  });
  assert.equal(moved.plan.changed, 1);
  assert.deepEqual(moved.plan.changes[0].fields.map((f) => f.field), ["lot_size"]);
});

Deno.test("a null from the API never erases a known value", async () => {
  await using project = await tempProject();
  const path = await catalogIn(project.dir);
  await mergeOnce(path, [
    fetched("NASDAQ:AAPL", { sector: "Electronic Technology", session: "0930-1600" }),
  ], {
    now: T1,
  });
  const { plan } = await mergeOnce(
    path,
    [fetched("NASDAQ:AAPL", { sector: null, session: null })],
    { now: T2 },
  );
  assert.deepEqual([plan.changed, plan.unchanged], [0, 1]);
  const current = (await currentRows(path)).get("NASDAQ:AAPL")!;
  assert.equal(current.sector, "Electronic Technology");
  // The built-in default ("Unknown") does not override what the catalog knows either.
  assert.equal(current.session, "0930-1600");
});

Deno.test("defaults fill a new symbol's nulls, and a real value later replaces them", async () => {
  await using project = await tempProject();
  const path = await catalogIn(project.dir);
  await mergeOnce(path, [fetched("OKX:BTCUSDT")], { now: T1 }); // the mirror leaves timezone/session null on OKX
  assert.deepEqual(
    (({ timezone, session }) => ({ timezone, session }))(
      (await currentRows(path)).get("OKX:BTCUSDT")!,
    ),
    { timezone: "UTC", session: "24x7" },
  );
  const { plan } = await mergeOnce(path, [fetched("OKX:BTCUSDT", { timezone: "Asia/Hong_Kong" })], {
    now: T2,
  });
  assert.equal(plan.changed, 1);
  assert.equal((await currentRows(path)).get("OKX:BTCUSDT")!.timezone, "Asia/Hong_Kong");
});

Deno.test("symbols not in this run are untouched, whatever their history", async () => {
  await using project = await tempProject();
  const path = await catalogIn(project.dir);
  await mergeOnce(path, [fetched("NASDAQ:AAPL"), fetched("NYSE:KO")], { now: T1 });
  await mergeOnce(path, [fetched("NYSE:KO", { description: "KO v2" })], { now: T2 });
  const before = (await catalogRows(path)).filter((r) => r.symbol === "NYSE:KO");
  await mergeOnce(path, [
    fetched("NASDAQ:AAPL", { description: "AAPL v2" }),
    fetched("NASDAQ:MSFT"),
  ], { now: T3 });
  const after = (await catalogRows(path)).filter((r) => r.symbol === "NYSE:KO");
  assert.deepEqual(after, before);
  assert.equal(before.length, 2);
});

Deno.test("history is preserved across many runs", async () => {
  await using project = await tempProject();
  const path = await catalogIn(project.dir);
  const symbols = ["NASDAQ:AAPL", "NYSE:KO", "BINANCE:ETHUSDT"];
  for (let run = 0; run < 12; run++) {
    const now = new Date(Date.UTC(2026, 0, 1 + run));
    // Each run changes one symbol (round robin) and leaves the others as they are.
    const records = symbols.map((s, i) =>
      fetched(s, { description: `${s} v${Math.floor((run + 2 - i) / 3)}` })
    );
    await mergeOnce(path, records, { now });
  }
  const rows = await catalogRows(path);
  for (const symbol of symbols) {
    const history = rows.filter((r) => r.symbol === symbol);
    assert.equal(history.filter((r) => r.vu === null).length, 1, `${symbol}: one current row`);
    for (let i = 1; i < history.length; i++) {
      assert.equal(history[i - 1].vu, history[i].vf, `${symbol}: intervals meet`);
    }
    assert.ok(history.length >= 4, `${symbol}: ${history.length} versions`);
  }
});

Deno.test("--retire-not-found: a definite not-found gets a new inactive current row", async () => {
  await using project = await tempProject();
  const path = await catalogIn(project.dir);
  await mergeOnce(path, [fetched("NASDAQ:AAPL"), fetched("NYSE:KO")], { now: T1 });
  const kept = await mergeOnce(path, [], { notFound: ["NYSE:KO"], retireNotFound: false, now: T2 });
  assert.equal(kept.wrote, false);
  const { plan } = await mergeOnce(path, [], {
    notFound: ["NYSE:KO", "NYSE:NEVER"],
    retireNotFound: true,
    now: T2,
  });
  assert.equal(plan.retired, 1);
  const ko = (await catalogRows(path)).filter((r) => r.symbol === "NYSE:KO");
  assert.deepEqual(ko.map((r) => [r.active, r.vu]), [[true, "2026-11-02 00:00:00"], [false, null]]);
  assert.equal((await catalogRows(path)).some((r) => r.symbol === "NYSE:NEVER"), false);
  // Found again later: active once more, history kept.
  await mergeOnce(path, [fetched("NYSE:KO")], { now: T3 });
  const again = (await catalogRows(path)).filter((r) => r.symbol === "NYSE:KO");
  assert.deepEqual(again.map((r) => r.active), [true, false, true]);
});

Deno.test("--from-catalog targets are symbols whose current row is active", async () => {
  await using project = await tempProject();
  const path = await catalogIn(project.dir);
  await mergeOnce(path, [fetched("NASDAQ:AAPL"), fetched("NYSE:KO"), fetched("NASDAQ:MSFT")], {
    now: T1,
  });
  await mergeOnce(path, [], { notFound: ["NYSE:KO"], retireNotFound: true, now: T2 });
  await using catalog = await Catalog.open(path);
  await catalog.load();
  assert.deepEqual(await catalog.activeSymbols(), ["NASDAQ:AAPL", "NASDAQ:MSFT"]);
});

Deno.test("exchanges.parquet upserts each exchange seen, and only when it changes", async () => {
  await using project = await tempProject();
  const path = await catalogIn(project.dir);
  const exchanges = `${project.dir}/data/lakehouse/exchanges.parquet`;
  await mergeOnce(path, [fetched("NASDAQ:AAPL"), fetched("BINANCE:BTCUSDT")], { now: T1 });
  const first = await query(
    "SELECT exchange, country, timezone, is_crypto FROM read_parquet($1) ORDER BY 1",
    [exchanges],
  );
  assert.deepEqual(first, [
    { exchange: "BINANCE", country: "Global", timezone: "UTC", is_crypto: true },
    {
      exchange: "NASDAQ",
      country: "United States",
      timezone: "America/New_York",
      is_crypto: false,
    },
  ]);
  await mergeOnce(path, [fetched("NASDAQ:MSFT"), fetched("CME_MINI:ES1!")], { now: T2 });
  const second = await query(
    "SELECT exchange, CAST(updated_at AS VARCHAR) AS u FROM read_parquet($1) ORDER BY 1",
    [exchanges],
  );
  assert.deepEqual(second, [
    { exchange: "BINANCE", u: "2026-11-01 00:00:00" },
    { exchange: "CME_MINI", u: "2026-11-02 00:00:00" },
    { exchange: "NASDAQ", u: "2026-11-01 00:00:00" },
  ]);
  // Only known exchanges this time: symbols.parquet changes, exchanges.parquet does not.
  const bytes = await Deno.readFile(exchanges);
  const mtime = (await Deno.stat(exchanges)).mtime;
  const { wrote } = await mergeOnce(path, [fetched("NASDAQ:MSFT", { description: "x" })], {
    now: T3,
  });
  assert.equal(wrote, true);
  assert.deepEqual(await Deno.readFile(exchanges), bytes);
  assert.deepEqual((await Deno.stat(exchanges)).mtime, mtime);
});

Deno.test("the replaced version is kept as symbols.parquet.bak", async () => {
  await using project = await tempProject();
  const path = await catalogIn(project.dir);
  await mergeOnce(path, [fetched("NASDAQ:AAPL")], { now: T1 });
  const v1 = await Deno.readFile(path);
  await mergeOnce(path, [fetched("NASDAQ:MSFT")], { now: T2 });
  assert.deepEqual(await Deno.readFile(`${path}.bak`), v1);
});

Deno.test("a clock behind the catalog: the skewed symbol is left alone, nothing else shifts", async () => {
  await using project = await tempProject();
  const path = await catalogIn(project.dir);
  await mergeOnce(path, [fetched("NASDAQ:AAPL"), fetched("NYSE:KO")], { now: T2 });
  await mergeOnce(path, [fetched("NYSE:KO", { description: "KO v2" })], { now: T3 });
  // This run's clock says T1: AAPL's and KO's current versions start later.
  const { plan } = await mergeOnce(path, [
    fetched("NASDAQ:AAPL", { description: "later" }),
    fetched("NYSE:KO", { description: "KO v3" }),
    fetched("NASDAQ:MSFT"),
  ], { now: T1 });
  assert.deepEqual(plan.skewed, [
    { symbol: "NASDAQ:AAPL", validFrom: "2026-11-02 00:00:00" },
    { symbol: "NYSE:KO", validFrom: "2026-11-03 00:00:00" },
  ]);
  assert.deepEqual([plan.new, plan.changed, plan.unchanged], [1, 0, 0]);
  assert.equal(plan.runAt, "2026-11-01 00:00:00.000");
  const rows = await catalogRows(path);
  assert.deepEqual(rows.map((r) => [r.symbol, r.vf, r.vu]), [
    ["NASDAQ:AAPL", "2026-11-02 00:00:00", null],
    ["NASDAQ:MSFT", "2026-11-01 00:00:00", null], // the run's own timestamp
    ["NYSE:KO", "2026-11-02 00:00:00", "2026-11-03 00:00:00"],
    ["NYSE:KO", "2026-11-03 00:00:00", null],
  ]);
  assert.ok(rows.every((r) => r.vu === null || (r.vu as string) >= (r.vf as string)));
});

Deno.test("a pandas/pyarrow catalog is read and its extra columns kept", async () => {
  await using project = await tempProject();
  const path = await catalogIn(project.dir);
  // As the Python pipeline wrote it: TIMESTAMP_NS, DOUBLE pricescale and
  // lot_size (NaN for missing), no SCD2 columns, no profile or active, an
  // extra column.
  await query(
    `COPY (SELECT * FROM (VALUES
       ('NASDAQ:AAPL', 'NASDAQ', 'stock', 100.0::DOUBLE, 1.0::DOUBLE, 0.01::DOUBLE, 'NaN'::DOUBLE, 'America/New_York', TIMESTAMP_NS '2025-06-01 12:00:00.123456789', 'keep-me-1'),
       ('NYSE:KO', 'NYSE', 'stock', 'NaN'::DOUBLE, 1.0::DOUBLE, NULL, 'NaN'::DOUBLE, NULL, TIMESTAMP_NS '2025-06-01 12:00:00', 'keep-me-2'))
       AS t(symbol, exchange, type, pricescale, minmov, tick_size, lot_size, timezone, updated_at, source_note))
     TO '${path}' (FORMAT parquet)`,
  );
  await using catalog = await Catalog.open(path);
  const counts = await catalog.load();
  assert.deepEqual([counts.rows, counts.current, counts.exists], [2, 2, true]);
  assert.deepEqual(await catalog.activeSymbols(), ["NASDAQ:AAPL", "NYSE:KO"]);
  const plan = await catalog.plan([fetched("NASDAQ:AAPL"), fetched("NASDAQ:MSFT")], [], {
    retireNotFound: false,
  });
  assert.deepEqual([plan.new, plan.changed], [1, 1]);
  // A NaN and a missing `active` are not changes in themselves.
  const aapl = plan.changes.find((c) => c.symbol === "NASDAQ:AAPL")!;
  assert.ok(
    !aapl.fields.some((f) => f.field === "lot_size" || f.field === "active"),
    JSON.stringify(aapl),
  );
  await writeMerge(catalog, T3);
  const rows = await catalogRows(path);
  assert.deepEqual(rows.map((r) => [r.symbol, r.source_note, r.pricescale, r.lot_size, r.vu]), [
    ["NASDAQ:AAPL", "keep-me-1", 100, null, "2026-11-03 00:00:00"],
    ["NASDAQ:AAPL", "keep-me-1", 100, null, null], // extra columns carried forward
    ["NASDAQ:MSFT", null, 100, null, null],
    ["NYSE:KO", "keep-me-2", null, null, null],
  ]);
  const types = await query(
    "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet($1))",
    [path],
  );
  assert.deepEqual(types.slice(0, 27).map((t) => `${t.column_name} ${t.column_type}`), [
    "symbol VARCHAR",
    "exchange VARCHAR",
    "base VARCHAR",
    "quote VARCHAR",
    "type VARCHAR",
    "subtype VARCHAR",
    "profile VARCHAR",
    "description VARCHAR",
    "sector VARCHAR",
    "industry VARCHAR",
    "country VARCHAR",
    "pricescale BIGINT",
    "minmov BIGINT",
    "tick_size DOUBLE",
    "lot_size DOUBLE",
    "contract_size DOUBLE",
    "timezone VARCHAR",
    "session VARCHAR",
    "minmove2 BIGINT",
    "fractional BOOLEAN",
    "root VARCHAR",
    "expiration VARCHAR",
    "contract_type VARCHAR",
    "active BOOLEAN",
    "updated_at TIMESTAMP",
    "valid_from TIMESTAMP",
    "valid_until TIMESTAMP",
  ]);
  assert.deepEqual(types.slice(27).map((t) => t.column_name), ["source_note"]);
});

Deno.test("a legacy catalog without `active` or with NaNs is stable across reruns", async () => {
  await using project = await tempProject();
  const path = await catalogIn(project.dir);
  await mergeOnce(path, [fetched("NASDAQ:AAPL")], { now: T1 });
  // Rewrite it as a legacy file: no active column, NaN lot_size.
  await query(
    `COPY (SELECT * EXCLUDE (active) REPLACE ('NaN'::DOUBLE AS lot_size) FROM read_parquet('${path}')) TO '${path}.legacy' (FORMAT parquet)`,
  );
  await Deno.rename(`${path}.legacy`, path);
  const { plan, wrote } = await mergeOnce(path, [fetched("NASDAQ:AAPL")], { now: T2 });
  assert.deepEqual([plan.changed, plan.unchanged, wrote], [0, 1, false]);
});

Deno.test("a corrupt catalog is an error naming the file, and it stays byte-for-byte", async () => {
  await using project = await tempProject();
  const path = await catalogIn(project.dir);
  const garbage = new TextEncoder().encode("PAR1 this is not a parquet file PAR1");
  await Deno.writeFile(path, garbage);
  await using catalog = await Catalog.open(path);
  await assert.rejects(
    () => catalog.load(),
    (err) => err instanceof IngestError && err.kind === "catalog" && err.message.includes(path),
  );
  assert.deepEqual(await Deno.readFile(path), garbage);
});

Deno.test("a Parquet file without a symbol column is refused", async () => {
  await using project = await tempProject();
  const path = await catalogIn(project.dir);
  await query(`COPY (SELECT 1 AS x) TO '${path}' (FORMAT parquet)`);
  await using catalog = await Catalog.open(path);
  await assert.rejects(() => catalog.load(), /no 'symbol' column/);
});

Deno.test("an appender failing half-way is closed all the same", async () => {
  await using project = await tempProject();
  const path = await catalogIn(project.dir);
  await using catalog = await Catalog.open(path);
  await catalog.load();
  const good = fetched("NASDAQ:AAPL");
  // A value the BIGINT column cannot take makes the appender throw mid-row.
  const broken = { ...good, record: { ...good.record, pricescale: 1.5 } };
  let open = 0;
  const create = DuckDBConnection.prototype.createAppender;
  const close = DuckDBAppender.prototype.closeSync;
  DuckDBConnection.prototype.createAppender = async function (
    this: DuckDBConnection,
    ...args: Parameters<typeof create>
  ) {
    const appender = await create.apply(this, args);
    open++;
    return appender;
  };
  DuckDBAppender.prototype.closeSync = function (this: DuckDBAppender) {
    open--;
    return close.call(this);
  };
  try {
    await assert.rejects(
      catalog.plan([fetched("NYSE:KO"), broken], [], { retireNotFound: false }),
      RangeError,
    );
  } finally {
    DuckDBConnection.prototype.createAppender = create;
    DuckDBAppender.prototype.closeSync = close;
  }
  assert.equal(open, 0, "every appender created was closed");
});

Deno.test("an old catalog without the kept futures columns reads and merges as before", async () => {
  await using project = await tempProject();
  const path = await catalogIn(project.dir);
  await mergeOnce(path, [fetched("CME_MINI:ESH2026"), fetched("NASDAQ:AAPL")], { now: T1 });
  // As a catalog written before these columns were kept.
  await query(
    `COPY (SELECT * EXCLUDE (minmove2, fractional, root, expiration, contract_type) FROM read_parquet('${path}')) TO '${path}.old' (FORMAT parquet)`,
  );
  await Deno.rename(`${path}.old`, path);
  const bytes = await Deno.readFile(path);
  const same = await mergeOnce(path, [fetched("CME_MINI:ESH2026"), fetched("NASDAQ:AAPL")], {
    now: T2,
  });
  assert.deepEqual([same.plan.changed, same.plan.unchanged, same.wrote], [0, 2, false]);
  assert.deepEqual(await Deno.readFile(path), bytes);
  // A real change opens a version that carries the new columns too.
  const { plan } = await mergeOnce(path, [fetched("CME_MINI:ESH2026", { description: "new" })], {
    now: T3,
  });
  // The learned values ride along and are listed as what is written (null -> value).
  assert.deepEqual(plan.changes[0].fields.map((f) => f.field), [
    "contract_type",
    "description",
    "expiration",
    "minmove2",
    "root",
  ]);
  assert.deepEqual(
    plan.changes[0].fields.filter((f) => f.field !== "description").map((f) => f.old),
    [null, null, null, null],
  );
  const es = (await currentRows(path)).get("CME_MINI:ESH2026")!;
  assert.deepEqual([es.root, es.contract_type, es.minmove2], ["ES", "single", 0]);
  // And the next run, on the file that now has the columns, is idle again.
  const idle = await mergeOnce(path, [fetched("CME_MINI:ESH2026", { description: "new" })]);
  assert.deepEqual([idle.plan.changed, idle.wrote], [0, false]);
});

Deno.test("a timezone alias or a subtype's case in the catalog is never a change", async () => {
  await using project = await tempProject();
  const path = await catalogIn(project.dir);
  await mergeOnce(path, [fetched("BINANCE:BTCUSDT"), fetched("NASDAQ:QQQ")], { now: T1 });
  // As stored by an older version: the API's spelling, not normalised.
  await query(
    `COPY (SELECT * REPLACE (CASE WHEN timezone = 'UTC' THEN 'Etc/UTC' ELSE timezone END AS timezone, upper(subtype) AS subtype) FROM read_parquet('${path}')) TO '${path}.old' (FORMAT parquet)`,
  );
  await Deno.rename(`${path}.old`, path);
  assert.equal((await currentRows(path)).get("BINANCE:BTCUSDT")!.timezone, "Etc/UTC");
  const { plan, wrote } = await mergeOnce(path, [
    fetched("BINANCE:BTCUSDT"),
    fetched("NASDAQ:QQQ"),
  ], { now: T2 });
  assert.deepEqual([plan.changed, plan.unchanged, wrote], [0, 2, false]);
});
