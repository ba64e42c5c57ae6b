/**
 * Batch fetching through /scan against the local mirror: grouping by
 * market, batches of at most 500 with an explicit range, rows joined by
 * ticker, the missing-ticker path, throttles and faults; and the mirror's
 * /scan itself.
 */
import assert from "node:assert/strict";
import { TradingViewClient } from "../lib/fetch/client.ts";
import { fetchAllScan } from "../lib/fetch/scan.ts";
import { parseScanAnswer, SCAN_COLUMNS, scanRecord, scanRequest } from "../lib/record/scan.ts";
import { toRecord } from "../lib/record/tradingview.ts";
import { parseCli } from "../lib/input/cli.ts";
import { runJob } from "../lib/job.ts";
import { memoryLogger } from "../lib/report/log.ts";
import { listing, tempProject } from "../testing/tmp.ts";
import { type Fault, mirrorBody, mirrorSymbols, startMirror } from "../testing/mirror.ts";

// The timeout only stops a hung request: a loaded machine may take seconds to answer.
const fast = { backoffBaseMs: 10, backoffCapMs: 50, timeoutMs: 20_000 };

async function post(url: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url, { method: "POST", body: JSON.stringify(body) });
  return { status: response.status, body: await response.json() };
}

Deno.test("a /scan row is validated with the /symbol rules and matches the /symbol record", () => {
  for (const symbol of ["NASDAQ:AAPL", "BINANCE:BTCUSDT", "CBOT:ZNH2026", "FX_IDC:EURUSD"]) {
    const body = mirrorBody(symbol)!;
    const viaScan = scanRecord(symbol, SCAN_COLUMNS.map((c) => body[c] ?? null));
    const viaSymbol = toRecord(symbol, body);
    assert.ok(viaScan.ok && viaSymbol.ok, symbol);
    // Everything but what /scan does not serve is the same.
    const {
      timezone: _t,
      session: _s,
      contract_type: _c,
      base: _b,
      pointvalue: _p,
      continuous: _n,
      ...scanned
    } = viaScan.record;
    const {
      timezone: _t2,
      session: _s2,
      contract_type: _c2,
      base: _b2,
      pointvalue: _p2,
      continuous: _n2,
      ...symboled
    } = viaSymbol.record;
    assert.deepEqual(scanned, symboled, symbol);
    assert.deepEqual(
      [
        viaScan.record.timezone,
        viaScan.record.session,
        viaScan.record.contract_type,
        viaScan.record.pointvalue,
        viaScan.record.continuous,
      ],
      [null, null, null, null, null],
    );
    assert.deepEqual(viaScan.defaults, viaSymbol.defaults);
  }
  const values = SCAN_COLUMNS.map((c) => c === "pricescale" ? 0 : c === "type" ? "stock" : 1);
  const bad = scanRecord("NASDAQ:AAPL", values);
  assert.deepEqual(bad, {
    ok: false,
    reason: "invalid response: pricescale must be a positive whole number, got 0",
  });
  assert.equal(scanRecord("NASDAQ:AAPL", [1, 2]).ok, false, "a short row is refused");
  assert.deepEqual(parseScanAnswer({ totalCount: 0, error: 'Unknown field "x"', data: null }), {
    ok: false,
    reason: '/scan answered no data: Unknown field "x"',
  });
  assert.deepEqual(parseScanAnswer({ data: "nope" }), {
    ok: false,
    reason: 'malformed /scan answer: data is text: "nope", not what /scan sends',
  });
  assert.deepEqual(scanRequest(["A:B", "C:D"]).range, [0, 2]);
});

Deno.test("a malformed /scan row fails only itself, and says which field", () => {
  const good = ["stock", 100];
  const parsed = parseScanAnswer({
    data: [
      { s: 1, d: good },
      { s: "NASDAQ:AAPL", d: good },
      { s: "NASDAQ:MSFT" },
      { s: "NASDAQ:NVDA", d: "x" },
      "junk",
    ],
  }, ["type", "pricescale"]);
  assert.ok(parsed.ok);
  assert.deepEqual([...parsed.rows], [["NASDAQ:AAPL", good]], "the good row of the batch stays");
  assert.deepEqual([...parsed.invalid], [
    ["NASDAQ:MSFT", "invalid /scan row: d is missing, not a list"],
    ["NASDAQ:NVDA", 'invalid /scan row: d is text: "x", not a list'],
  ]);
  assert.deepEqual(parsed.unattributed, [
    "row 0: s is a number: 1, not a ticker",
    'row 4: is text: "junk", not an object',
  ]);
  // The values of a row are checked with the /symbol rules, naming the field.
  const row = SCAN_COLUMNS.map((c) => c === "type" ? "stock" : c === "description" ? {} : 1);
  assert.deepEqual(scanRecord("NASDAQ:AAPL", row), {
    ok: false,
    reason: "invalid response: description has the wrong type (an object)",
  });
});

Deno.test("rows of one ticker that contradict each other are never picked from; identical ones fold", () => {
  const parsed = parseScanAnswer({
    data: [
      { s: "NASDAQ:AAPL", d: ["stock", 10000, 1] },
      { s: "NASDAQ:MSFT", d: ["stock", 100, 1] },
      { s: "NASDAQ:AAPL", d: ["stock", 100, 1] },
      { s: "NASDAQ:MSFT", d: ["stock", 100, 1] },
    ],
  }, ["type", "pricescale", "minmov"]);
  assert.ok(parsed.ok);
  assert.deepEqual([...parsed.rows.keys()], ["NASDAQ:MSFT"], "the identical pair folds");
  assert.deepEqual([...parsed.conflicting], [[
    "NASDAQ:AAPL",
    "/scan answered rows that contradict each other (pricescale: 10000 vs 100); not merged: " +
    "rerun, or use --endpoint symbol",
  ]]);
});

Deno.test("the mirror's /scan: missing tickers left out, markets filtered, 404 on unknown markets", async () => {
  await using mirror = startMirror();
  const tickers = ["NASDAQ:AAPL", "BINANCE:BTCUSDT", "NASDAQ:NOSUCH", "CME_MINI:ES1!"];
  const global = await post(`${mirror.url}/global/scan`, scanRequest(tickers));
  assert.equal(global.status, 200);
  const rows = (global.body as { data: { s: string }[] }).data.map((r) => r.s);
  assert.deepEqual(rows, ["NASDAQ:AAPL", "CME_MINI:ES1!"], "/global serves no crypto");
  const crypto = await post(`${mirror.url}/crypto/scan`, scanRequest(tickers));
  assert.deepEqual((crypto.body as { data: { s: string }[] }).data.map((r) => r.s), [
    "BINANCE:BTCUSDT",
  ]);
  assert.equal((await post(`${mirror.url}/narnia/scan`, scanRequest(tickers))).status, 404);
  assert.deepEqual(mirror.stats.byEndpoint, { symbol: 0, scan: 2 });
});

Deno.test("the mirror's /scan: 400 on unknown columns unless ignore_unknown_fields; no timezone or session", async () => {
  await using mirror = startMirror();
  const request = scanRequest(["NASDAQ:AAPL"], ["type", "timezone"]);
  const refused = await post(`${mirror.url}/global/scan`, request);
  assert.deepEqual(refused, {
    status: 400,
    body: { totalCount: 0, error: 'Unknown field "timezone"', data: null },
  });
  const ignored = await post(`${mirror.url}/global/scan`, {
    ...request,
    ignore_unknown_fields: true,
  });
  assert.deepEqual(ignored, {
    status: 200,
    body: { totalCount: 1, data: [{ s: "NASDAQ:AAPL", d: ["stock", null] }] },
  });
});

Deno.test("the mirror's /scan cuts an answer to 50 rows when range is absent", async () => {
  await using mirror = startMirror();
  const tickers = mirrorSymbols(["NASDAQ"]).slice(0, 120);
  const { range: _, ...withoutRange } = scanRequest(tickers);
  const cut = await post(`${mirror.url}/global/scan`, withoutRange);
  const body = cut.body as { totalCount: number; data: unknown[] };
  assert.deepEqual([body.totalCount, body.data.length], [120, 50]);
  const full = await post(`${mirror.url}/global/scan`, scanRequest(tickers));
  assert.equal((full.body as { data: unknown[] }).data.length, 120);
});

Deno.test("grouped by market, at most 500 per request, each with a range covering it", async () => {
  const seen: { path: string; tickers: number; range: unknown }[] = [];
  await using mirror = startMirror();
  const symbols = [
    ...mirrorSymbols(["NASDAQ", "NYSE", "AMEX"]).slice(0, 1100),
    ...mirrorSymbols(["BINANCE", "BYBIT"]).slice(0, 30),
  ];
  const spy = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const body = await req.json();
    seen.push({
      path: new URL(req.url).pathname,
      tickers: body.symbols.tickers.length,
      range: body.range,
    });
    return fetch(`${mirror.url}${new URL(req.url).pathname}`, {
      method: "POST",
      body: JSON.stringify(body),
    });
  });
  try {
    const client = new TradingViewClient({ baseUrl: `http://127.0.0.1:${spy.addr.port}`, ...fast });
    const outcomes = await fetchAllScan(client, symbols, 3);
    assert.equal(outcomes.length, symbols.length);
    assert.ok(outcomes.every((o, i) => o.kind === "fetched" && o.symbol === symbols[i]));
    seen.sort((a, b) => a.path.localeCompare(b.path) || b.tickers - a.tickers);
    assert.deepEqual(seen, [
      { path: "/crypto/scan", tickers: 30, range: [0, 30] },
      { path: "/global/scan", tickers: 500, range: [0, 500] },
      { path: "/global/scan", tickers: 500, range: [0, 500] },
      { path: "/global/scan", tickers: 100, range: [0, 100] },
    ]);
    assert.deepEqual(client.byEndpoint, { symbol: 0, scan: 4 });
  } finally {
    await spy.shutdown();
  }
});

Deno.test("rows are joined by ticker, never by position; rows not asked for are ignored", async () => {
  const d = (symbol: string, description: string) => {
    const body: Record<string, unknown> = { ...mirrorBody(symbol)!, description };
    return SCAN_COLUMNS.map((c) => body[c] ?? null);
  };
  await using mirror = startMirror({
    fault: ({ endpoint }) =>
      endpoint === "scan"
        ? {
          kind: "body",
          body: {
            totalCount: 3,
            data: [
              { s: "NYSE:KO", d: d("NYSE:KO", "Coke") },
              { s: "NASDAQ:EVIL", d: d("NASDAQ:AAPL", "not asked for") },
              { s: "NASDAQ:AAPL", d: d("NASDAQ:AAPL", "Apple") },
            ],
          },
        }
        : undefined,
  });
  const client = new TradingViewClient({ baseUrl: mirror.url, ...fast });
  const outcomes = await fetchAllScan(client, ["NASDAQ:AAPL", "NYSE:KO"], 3);
  assert.deepEqual(
    outcomes.map((o) => [o.symbol, o.kind === "fetched" ? o.record.description : o.kind]),
    [["NASDAQ:AAPL", "Apple"], ["NYSE:KO", "Coke"]],
  );
});

Deno.test("a missing ticker is retried on the other market, then confirmed by /symbol", async () => {
  await using mirror = startMirror({ overrides: { "BINANCE:GONE": "not-found" } });
  const client = new TradingViewClient({ baseUrl: mirror.url, ...fast });
  mirror.configure({
    overrides: {
      "BINANCE:GONE": "not-found",
      "XCRYPTO:BTCUSDT": { pricescale: 100, minmov: 1, type: "spot" },
    },
  });
  const outcomes = await fetchAllScan(
    client,
    ["BINANCE:BTCUSDT", "BINANCE:GONE", "NASDAQ:AAPL", "XCRYPTO:BTCUSDT"],
    3,
  );
  assert.deepEqual(outcomes.map((o) => [o.symbol, o.kind]), [
    ["BINANCE:BTCUSDT", "fetched"],
    ["BINANCE:GONE", "not-found"],
    ["NASDAQ:AAPL", "fetched"],
    ["XCRYPTO:BTCUSDT", "fetched"],
  ]);
  // XCRYPTO is not in the exchange table: asked on /global, found on /crypto.
  assert.equal(mirror.stats.perScanTicker["XCRYPTO:BTCUSDT"], 2);
  assert.equal(mirror.stats.perSymbol["XCRYPTO:BTCUSDT"], undefined);
  // BINANCE:GONE: /crypto, then /global, then one /symbol request.
  assert.equal(mirror.stats.perScanTicker["BINANCE:GONE"], 2);
  assert.equal(mirror.stats.perSymbol["BINANCE:GONE"], 1);
  assert.equal(mirror.stats.perSymbol["NASDAQ:AAPL"], undefined);
});

Deno.test("only a definite not-found from /symbol is 'not found'; a failing confirmation fails", async () => {
  await using mirror = startMirror({
    overrides: { "NASDAQ:GHOST": "not-found" },
    fault: ({ endpoint, symbol }) =>
      endpoint === "symbol" && symbol === "NASDAQ:FLAKY"
        ? { kind: "status", status: 503 }
        : undefined,
  });
  mirror.configure({
    overrides: { "NASDAQ:GHOST": "not-found", "NASDAQ:FLAKY": "not-found" },
  });
  const client = new TradingViewClient({ baseUrl: mirror.url, ...fast, maxRetries: 1 });
  const outcomes = await fetchAllScan(client, ["NASDAQ:FLAKY", "NASDAQ:GHOST"], 3);
  assert.deepEqual(outcomes.map((o) => [o.symbol, o.kind, o.kind === "fetched" ? "" : o.reason]), [
    ["NASDAQ:FLAKY", "failed", "HTTP 503 (gave up after 2 attempts)"],
    ["NASDAQ:GHOST", "not-found", "not found on TradingView"],
  ]);
});

Deno.test("a throttled /scan (429, or 200 with an empty body) is retried; a batch that gives up fails its symbols", async () => {
  const faults: Fault[] = [
    { kind: "status", status: 429, retryAfter: "0" },
    { kind: "empty" },
    { kind: "status", status: 502 },
  ];
  await using mirror = startMirror({
    fault: ({ endpoint, request }) =>
      endpoint === "scan" && request <= faults.length ? faults[request - 1] : undefined,
  });
  const client = new TradingViewClient({
    baseUrl: mirror.url,
    ...fast,
    breaker: { pauseBaseMs: 50, pauseCapMs: 100, minPauseMs: 50 },
    pacer: { resumeRate: 20, rateStep: 10 },
  });
  const symbols = mirrorSymbols(["NYSE"]).slice(0, 10);
  const outcomes = await fetchAllScan(client, symbols, 1);
  assert.ok(outcomes.every((o) => o.kind === "fetched" && o.attempts === 4));
  assert.deepEqual({ ...client.stats }, { requests: 4, retries: 3, status429: 1 });

  mirror.configure({ fault: () => ({ kind: "status", status: 503 }) });
  const stingy = new TradingViewClient({ baseUrl: mirror.url, ...fast, maxRetries: 1 });
  const failed = await fetchAllScan(stingy, symbols, 1);
  assert.ok(
    failed.every((o) => o.kind === "failed" && o.reason === "HTTP 503 (gave up after 2 attempts)"),
  );
  assert.deepEqual(
    stingy.byEndpoint,
    { symbol: 0, scan: 2 },
    "no /symbol fallback for a failed batch",
  );
});

Deno.test("a 400 naming an unknown column fails the batch without retries, in the server's words", async () => {
  await using mirror = startMirror();
  const client = new TradingViewClient({ baseUrl: mirror.url, ...fast });
  const result = await client.scanBatch("global", ["NASDAQ:AAPL"], ["type", "session"]);
  assert.deepEqual(result, {
    ok: false,
    reason: 'HTTP 400 (not retried): Unknown field "session" from /global/scan',
    attempts: 1,
    unknownColumn: "session",
  });
  mirror.configure({ fault: () => ({ kind: "status", status: 400 }) });
  const silent = await client.scanBatch("global", ["NASDAQ:AAPL"], ["type"]);
  assert.equal(silent.ok, false);
  assert.match(
    !silent.ok ? silent.reason : "",
    /^HTTP 400 \(not retried\).* from \/global\/scan \(the server refused the request: an unknown column\?\)$/,
  );
});

Deno.test("soft throttles on /scan pause the whole pool like /symbol's, then every batch lands", async () => {
  await using mirror = startMirror({
    latencyMs: 5,
    fault: ({ endpoint, request }) =>
      endpoint === "scan" && request <= 4 ? { kind: "empty" } : undefined,
  });
  const client = new TradingViewClient({
    baseUrl: mirror.url,
    ...fast,
    workers: 3,
    breaker: { pauseBaseMs: 100 },
    pacer: { resumeRate: 20, rateStep: 10 },
  });
  const symbols = [
    ...mirrorSymbols(["NASDAQ"]).slice(0, 30),
    ...mirrorSymbols(["BINANCE"]).slice(0, 30),
  ];
  const outcomes = await fetchAllScan(client, symbols, 3, undefined, { batchSize: 10 });
  assert.deepEqual(outcomes.filter((o) => o.kind !== "fetched"), []);
  const counts = client.counts();
  assert.equal(counts.empty_bodies, 4);
  assert.ok(counts.pauses >= 1, `${counts.pauses} pauses`);
  assert.deepEqual(client.byEndpoint, { symbol: 0, scan: 10 });
});

Deno.test("a blocked scan-mode run: exit 1, every symbol names the block, nothing retired", async () => {
  await using project = await tempProject();
  await using mirror = startMirror({ block403: true });
  const symbols = [
    ...mirrorSymbols(["NASDAQ"]).slice(0, 20),
    ...mirrorSymbols(["BYBIT"]).slice(0, 20),
  ].join(",");
  const command = parseCli(
    ["--symbols", symbols, "--endpoint", "scan", "--retire-not-found", "--base-url", mirror.url],
    {},
  );
  assert.equal(command.kind, "run");
  if (command.kind !== "run") return;
  const report = await runJob(command.options, {
    log: memoryLogger(),
    root: project.dir,
    client: { breaker: { pauseBaseMs: 50 }, pacer: { resumeRate: 20 }, backoffBaseMs: 10 },
  });
  assert.equal(report.exit_code, 1);
  assert.match(report.error ?? "", /^blocked: /);
  assert.equal(report.failed.length, 40);
  assert.ok(report.failed.every((f) => f.reason === report.error));
  assert.equal(report.retired, 0);
  assert.equal(report.http.by_endpoint?.symbol, 0, "a failed batch is not confirmed by /symbol");
  assert.ok(mirror.stats.requests <= 10, `${mirror.stats.requests} requests`);
  assert.deepEqual(await listing(project.dir), []);
});

Deno.test("one /scan batch is the whole pool: a soft throttle pauses it, then the batch lands", async () => {
  // The usual scan run is one request: the two-request rule (one broken
  // answer never pauses everyone) must not stop a lone batch from pausing.
  await using mirror = startMirror({
    latencyMs: 5,
    fault: ({ endpoint, request }) =>
      endpoint === "scan" && request <= 4 ? { kind: "empty" } : undefined,
  });
  const client = new TradingViewClient({
    baseUrl: mirror.url,
    ...fast,
    workers: 3,
    breaker: { pauseBaseMs: 100 },
    pacer: { resumeRate: 20, rateStep: 10 },
  });
  const symbols = mirrorSymbols(["NASDAQ"]).slice(0, 50);
  const outcomes = await fetchAllScan(client, symbols, 3);
  assert.deepEqual(outcomes.filter((o) => o.kind !== "fetched"), []);
  const counts = client.counts();
  assert.ok(counts.pauses >= 1, `${counts.pauses} pauses`);
  assert.equal(counts.empty_bodies, 4);
});

Deno.test("one blocked /scan batch: the run stops naming the 403 block", async () => {
  await using project = await tempProject();
  await using mirror = startMirror({ block403: true });
  const symbols = mirrorSymbols(["NASDAQ"]).slice(0, 50).join(",");
  const command = parseCli(
    ["--symbols", symbols, "--endpoint", "scan", "--base-url", mirror.url],
    {},
  );
  assert.equal(command.kind, "run");
  if (command.kind !== "run") return;
  const report = await runJob(command.options, {
    log: memoryLogger(),
    root: project.dir,
    client: { breaker: { pauseBaseMs: 50 }, pacer: { resumeRate: 20 }, backoffBaseMs: 10 },
  });
  assert.equal(report.exit_code, 1);
  assert.match(report.error ?? "", /^blocked: .*HTTP 403/);
  assert.ok(report.failed.every((f) => f.reason === report.error));
  assert.ok(mirror.stats.requests <= 10, `${mirror.stats.requests} requests`);
});

function scanRun(symbols: string[], url: string, extra: string[] = []) {
  const command = parseCli(
    ["--symbols", symbols.join(","), "--endpoint", "scan", "--base-url", url, ...extra],
    {},
  );
  if (command.kind !== "run") throw new Error("not a run");
  return command.options;
}

Deno.test("scan mode: rows that contradict each other fail the symbol, say why, and land nothing of it", async () => {
  await using project = await tempProject();
  const symbols = ["NASDAQ:AAPL", "NASDAQ:MSFT", "NYSE:KO"];
  const pricescale = SCAN_COLUMNS.indexOf("pricescale");
  await using mirror = startMirror({
    // A stale row first (pricescale 10000), the right one second.
    scanRows: (rows) =>
      rows.flatMap((row) =>
        row.s === "NASDAQ:AAPL" ? [{ s: row.s, d: row.d.with(pricescale, 10000) }, row] : [row]
      ),
  });
  const report = await runJob(scanRun(symbols, mirror.url), {
    log: memoryLogger(),
    root: project.dir,
  });
  assert.equal(report.exit_code, 3);
  assert.deepEqual(report.failed, [{
    symbol: "NASDAQ:AAPL",
    reason: "/scan answered rows that contradict each other (pricescale: 10000 vs 100); " +
      "not merged: rerun, or use --endpoint symbol",
  }]);
  assert.equal(report.new, 2);
  assert.deepEqual(report.changes.map((c) => c.symbol), ["NASDAQ:MSFT", "NYSE:KO"]);
  // The same answer twice is one answer.
  mirror.configure({ scanRows: (rows) => rows.flatMap((row) => [row, row]) });
  const again = await runJob(scanRun(symbols, mirror.url), {
    log: memoryLogger(),
    root: project.dir,
  });
  assert.equal(again.exit_code, 0, again.error ?? "");
  assert.equal(again.new, 1, "AAPL lands once its rows agree");
});

Deno.test("scan mode: an invalid or malformed row gets a /symbol fallback; a junk row spoils nothing else", async () => {
  const pricescale = SCAN_COLUMNS.indexOf("pricescale");
  await using mirror = startMirror({
    scanRows: (rows) => [
      { s: 42, d: rows[0].d }, // names no ticker
      ...rows.map((row) =>
        row.s === "NASDAQ:AAPL"
          ? { s: row.s, d: row.d.with(pricescale, 0) } // invalid values
          : row.s === "NASDAQ:MSFT"
          ? { s: row.s } // no d
          : row
      ),
    ],
  });
  const client = new TradingViewClient({ baseUrl: mirror.url, ...fast });
  const symbols = ["NASDAQ:AAPL", "NASDAQ:MSFT", "NASDAQ:NVDA", "NYSE:KO"];
  const outcomes = await fetchAllScan(client, symbols, 3);
  assert.deepEqual(outcomes.map((o) => [o.symbol, o.kind]), symbols.map((s) => [s, "fetched"]));
  assert.deepEqual(client.byEndpoint, { scan: 1, symbol: 2 }, "one batch, two fallbacks");
  assert.equal(mirror.stats.perSymbol["NASDAQ:AAPL"], 1);
  assert.equal(mirror.stats.perSymbol["NASDAQ:MSFT"], 1);
  // Without the /symbol confirmation (the probe), they fail with the row's reason.
  const probe = await fetchAllScan(client, symbols, 3, undefined, { confirm: false });
  assert.deepEqual(
    probe.map((o) => [o.symbol, o.kind === "fetched" ? "fetched" : o.reason]),
    [
      [
        "NASDAQ:AAPL",
        "invalid /scan row: invalid response: pricescale must be a positive whole number, got 0",
      ],
      ["NASDAQ:MSFT", "invalid /scan row: d is missing, not a list"],
      ["NASDAQ:NVDA", "fetched"],
      ["NYSE:KO", "fetched"],
    ],
  );
});
