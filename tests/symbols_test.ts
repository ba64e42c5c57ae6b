import assert from "node:assert/strict";
import { isExchangeCode, normalizeSymbol, splitSymbol } from "../lib/record/symbols.ts";

Deno.test("a symbol is trimmed and upper-cased", () => {
  assert.deepEqual(normalizeSymbol("  binance:btcusdt "), { ok: true, symbol: "BINANCE:BTCUSDT" });
});

Deno.test("TradingView ticker characters are accepted", () => {
  for (
    const raw of ["BINANCE:BTCUSDT.P", "CME_MINI:ES1!", "NYSE:BRK.B", "FX_IDC:EURUSD", "X:A-B&C/D"]
  ) {
    assert.deepEqual(normalizeSymbol(raw), { ok: true, symbol: raw }, raw);
  }
});

Deno.test("a bare ticker takes the default exchange or is refused", () => {
  assert.deepEqual(normalizeSymbol("btcusdt", "BYBIT"), { ok: true, symbol: "BYBIT:BTCUSDT" });
  const bare = normalizeSymbol("BTCUSDT");
  assert.equal(bare.ok, false);
  assert.match(!bare.ok ? bare.reason : "", /no exchange prefix/);
});

Deno.test("malformed symbols are refused with a reason", () => {
  const cases: [string, RegExp][] = [
    ["", /empty symbol/],
    ["   ", /empty symbol/],
    [":BTC", /empty exchange/],
    ["BINANCE:", /empty ticker/],
    ["BIN ANCE:BTC", /exchange may only/],
    ["BINANCE:BTC USDT", /ticker may only/],
    ["BINANCE:.BTC", /ticker may only/],
    ["BINANCE:A:B", /ticker may only/],
    ["BINANCE:BTC\u0000", /control characters/],
    ["BINANCE:\tBTC", /control characters/],
    ["BINANCE:BTC\u2028", /control characters/],
    ["BINANCE:ÄPFEL", /ticker may only/],
    [`${"X".repeat(33)}:BTC`, /exchange longer/],
    [`BINANCE:${"X".repeat(49)}`, /ticker longer/],
  ];
  for (const [raw, reason] of cases) {
    const result = normalizeSymbol(raw);
    assert.equal(result.ok, false, JSON.stringify(raw));
    assert.match(!result.ok ? result.reason : "", reason, JSON.stringify(raw));
  }
});

Deno.test("exchange codes are A-Z, 0-9 and _", () => {
  assert.equal(isExchangeCode("CME_MINI"), true);
  assert.equal(isExchangeCode("cme"), false);
  assert.equal(isExchangeCode(""), false);
  assert.equal(isExchangeCode("A-B"), false);
});

Deno.test("splitSymbol separates exchange and ticker", () => {
  assert.deepEqual(splitSymbol("NASDAQ:AAPL"), { exchange: "NASDAQ", ticker: "AAPL" });
});

Deno.test("non-ASCII letters are refused before upper-casing (ß never becomes SS)", () => {
  for (const raw of ["NASDAQ:ß", "nasdaq:straße", "NASDAQ:ıbm", "ﬀ:X", "NASDAQ:\u202eLPAA"]) {
    const result = normalizeSymbol(raw);
    assert.equal(result.ok, false, raw);
    assert.match((result as { reason: string }).reason, /non-ASCII/, raw);
  }
  assert.equal(normalizeSymbol("ß", "NASDAQ").ok, false);
});
