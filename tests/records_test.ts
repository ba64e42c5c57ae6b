import assert from "node:assert/strict";
import { applyDefaults, isEmptyResponse, profileOf, toRecord } from "../lib/record/tradingview.ts";
import { exchangeDefaults } from "../lib/record/exchanges.ts";
import { canonicalTimezone, TIMEZONE_ALIASES } from "../lib/record/timezones.ts";

const crypto = { pricescale: 100, minmov: 1, type: "spot", currency: "USDT", base_currency: "BTC" };

/** The record as a new catalog row would show it (defaults applied). */
function record(symbol: string, body: Record<string, unknown>) {
  const result = toRecord(symbol, body);
  if (!result.ok) throw new Error(result.reason);
  return applyDefaults(result.record, result.defaults);
}

function reason(symbol: string, body: unknown): string {
  const result = toRecord(symbol, body);
  assert.equal(result.ok, false);
  return result.ok ? "" : result.reason;
}

Deno.test("a response maps to a catalog record with tick_size = minmov / pricescale", () => {
  assert.deepEqual(record("BINANCE:BTCUSDT", { ...crypto, description: "Bitcoin / TetherUS" }), {
    symbol: "BINANCE:BTCUSDT",
    exchange: "BINANCE",
    base: "BTC",
    quote: "USDT",
    type: "spot",
    subtype: null,
    profile: "CRYPTO",
    description: "Bitcoin / TetherUS",
    sector: null,
    industry: null,
    country: "Global",
    pricescale: 100,
    minmov: 1,
    tick_size: 0.01,
    lot_size: null,
    contract_size: null,
    timezone: "UTC",
    session: "24x7",
    minmove2: null,
    pointvalue: null,
    continuous: null,
    fractional: null,
    root: null,
    expiration: null,
    contract_type: null,
    active: true,
  });
  assert.equal(
    record("CME_MINI:ES1!", { pricescale: 100, minmov: 25, type: "futures" }).tick_size,
    0.25,
  );
});

Deno.test("numeric strings are accepted for pricescale and minmov", () => {
  const r = record("NASDAQ:AAPL", { pricescale: "100", minmov: " 1 ", type: "stock" });
  assert.deepEqual([r.pricescale, r.minmov, r.tick_size], [100, 1, 0.01]);
  assert.equal(
    record("NASDAQ:AAPL", { pricescale: "100.0", minmov: 1, type: "stock" }).pricescale,
    100,
  );
});

Deno.test("pricescale and minmov must be positive whole numbers", () => {
  for (const bad of [0, -100, 1.5, "1e2", "abc", "", null, true, Number.NaN, 2 ** 60]) {
    assert.match(
      reason("NASDAQ:AAPL", { pricescale: bad, minmov: 1, type: "stock" }),
      /pricescale/,
      String(bad),
    );
  }
  assert.match(reason("NASDAQ:AAPL", { pricescale: 100, type: "stock" }), /minmov is missing/);
  assert.match(
    reason("NASDAQ:AAPL", { pricescale: 100, minmov: 0, type: "stock" }),
    /minmov must be a positive/,
  );
});

Deno.test("type is required", () => {
  assert.match(reason("NASDAQ:AAPL", { pricescale: 100, minmov: 1 }), /type is missing/);
  assert.match(
    reason("NASDAQ:AAPL", { pricescale: 100, minmov: 1, type: "  " }),
    /type is missing/,
  );
});

Deno.test("the record keeps the API's nulls; defaults travel beside it", () => {
  const result = toRecord("BINANCE:BTCUSDT", {
    pricescale: 100,
    minmov: 1,
    type: "spot",
    currency: "USDT",
  });
  assert.ok(result.ok);
  assert.deepEqual(
    [result.record.base, result.record.timezone, result.record.session, result.record.country],
    [null, null, null, null],
  );
  assert.deepEqual(result.defaults, {
    base: "BTC",
    country: "Global",
    timezone: "UTC",
    session: "24x7",
  });
});

Deno.test("API values are authoritative; defaults fill only nulls", () => {
  const given = record("BINANCE:BTCUSDT", {
    ...crypto,
    timezone: "Etc/UTC",
    session: "0000-2400",
    country: "MT",
  });
  assert.deepEqual([given.timezone, given.session, given.country], ["UTC", "0000-2400", "MT"]);
  const filled = record("NYSE:KO", {
    pricescale: 100,
    minmov: 1,
    type: "stock",
    timezone: null,
    country: "",
  });
  assert.deepEqual([filled.timezone, filled.country, filled.session], [
    "America/New_York",
    "United States",
    "Unknown",
  ]);
  const unknown = record("XETR:SAP", { pricescale: 100, minmov: 1, type: "stock" });
  assert.deepEqual([unknown.timezone, unknown.country, unknown.profile], [null, null, "EQUITY"]);
});

Deno.test("the exchange table covers the documented exchanges", () => {
  const tz = (symbol: string) => record(symbol, { pricescale: 1, minmov: 1, type: "x" }).timezone;
  assert.equal(tz("OKX:A"), "UTC");
  assert.equal(tz("AMEX:A"), "America/New_York");
  for (const ex of ["CME", "CME_MINI", "CBOT", "COMEX", "NYMEX"]) {
    assert.equal(tz(`${ex}:A`), "America/Chicago");
  }
  assert.equal(tz("ICE:A"), "America/New_York");
  assert.equal(tz("ICEUS:A"), "America/New_York");
  assert.equal(tz("EUREX:A"), "Europe/Berlin");
  assert.equal(tz("OANDA:A"), "America/New_York");
  assert.equal(tz("FX_IDC:A"), "UTC");
  assert.equal(tz("FOREX:A"), "America/New_York");
});

Deno.test("session defaults to 24x7 for crypto spot and swap only", () => {
  assert.equal(record("BYBIT:BTCUSDT.P", { ...crypto, type: "swap" }).session, "24x7");
  assert.equal(record("BYBIT:BTCUSDT", { ...crypto, type: "index" }).session, "Unknown");
  assert.equal(
    record("NASDAQ:AAPL", { pricescale: 1, minmov: 1, type: "stock" }).session,
    "Unknown",
  );
});

Deno.test("profile: from type, else the exchange's default, else UNKNOWN", () => {
  const cases: [string, string, string][] = [
    ["spot", "X", "CRYPTO"],
    ["swap", "X", "CRYPTO"],
    ["crypto", "X", "CRYPTO"],
    ["stock", "X", "EQUITY"],
    ["fund", "X", "EQUITY"],
    ["dr", "X", "EQUITY"],
    ["index", "X", "EQUITY"],
    ["futures", "X", "FUTURES"],
    ["commodity", "X", "FUTURES"],
    ["forex", "X", "FOREX"],
    ["fx", "X", "FOREX"],
    ["Stock", "X", "EQUITY"],
    ["bond", "CME", "FUTURES"],
    ["bond", "OANDA", "FOREX"],
    ["bond", "X", "UNKNOWN"],
    ["constructor", "X", "UNKNOWN"],
  ];
  for (const [type, exchange, profile] of cases) {
    assert.equal(profileOf(type, exchange), profile, type);
  }
});

Deno.test("crypto base is derived from the ticker when the API leaves it null", () => {
  const r = record("BYBIT:ETHUSDT.P", {
    pricescale: 100,
    minmov: 1,
    type: "swap",
    currency: "USDT",
  });
  assert.equal(r.base, "ETH");
  const stock = record("NASDAQ:AAPL", {
    pricescale: 100,
    minmov: 1,
    type: "stock",
    currency: "USD",
  });
  assert.equal(stock.base, null);
});

Deno.test("a non-object body is a validation failure", () => {
  for (const body of [null, [], "x", 3]) assert.match(reason("A:B", body), /invalid response/);
});

Deno.test("empty objects (all nulls) mean not found", () => {
  assert.equal(isEmptyResponse({}), true);
  assert.equal(isEmptyResponse({ pricescale: null, type: null }), true);
  assert.equal(isEmptyResponse({ pricescale: 1 }), false);
  assert.equal(isEmptyResponse([]), false);
});

Deno.test("a timezone has one spelling: aliases from the API and the defaults agree", () => {
  for (const alias of ["Etc/UTC", "UTC", "Etc/UCT", "Zulu"]) {
    assert.equal(record("BINANCE:BTCUSDT", { ...crypto, timezone: alias }).timezone, "UTC", alias);
  }
  assert.equal(
    record("NYSE:KO", { pricescale: 100, minmov: 1, type: "stock", timezone: "US/Eastern" })
      .timezone,
    "America/New_York",
  );
  // The built-in defaults are in the same spelling as normalised data.
  for (const exchange of ["BINANCE", "OKX", "FX_IDC", "NASDAQ", "CME", "EUREX"]) {
    const zone = exchangeDefaults(exchange)!.timezone;
    assert.equal(canonicalTimezone(zone), zone, exchange);
  }
  // Every alias maps to a spelling that is not itself an alias.
  for (const canonical of Object.values(TIMEZONE_ALIASES)) {
    assert.equal(canonicalTimezone(canonical), canonical);
  }
});

Deno.test("subtype is lower-cased, as type is", () => {
  const r = record("NASDAQ:QQQ", { pricescale: 100, minmov: 1, type: "Fund", subtype: "ETF" });
  assert.deepEqual([r.type, r.subtype], ["fund", "etf"]);
});

Deno.test("futures fields are kept: minmove2, fractional, root, expiration, contract_type", () => {
  const r = record("CBOT:ZNH2026", {
    pricescale: 640,
    minmov: 1,
    type: "futures",
    minmove2: 5,
    fractional: true,
    root: "ZN",
    expiration: 20260319,
    contract_type: "single",
  });
  assert.deepEqual(
    [r.minmove2, r.fractional, r.root, r.expiration, r.contract_type],
    [5, true, "ZN", "20260319", "single"],
  );
  // Odd values are dropped, never a reason to refuse the symbol.
  const odd = record("CBOT:ZN1!", {
    pricescale: 640,
    minmov: 1,
    type: "futures",
    minmove2: -1,
    fractional: "maybe",
  });
  assert.deepEqual([odd.minmove2, odd.fractional], [null, null]);
  assert.equal(
    record("CBOT:ZN1!", { pricescale: 640, minmov: 1, type: "futures", fractional: "false" })
      .fractional,
    false,
  );
});
