/**
 * Property: whatever JSON (or near-JSON) an upstream stage writes, reading
 * candidates never crashes; it answers targets or one IngestError.
 */
import assert from "node:assert/strict";
import { normalizeTargets, parseCandidatesJson } from "../lib/input/candidates.ts";
import { IngestError } from "../lib/core/errors.ts";
import { normalizeSymbol } from "../lib/record/symbols.ts";

function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = [
  "BINANCE",
  "nasdaq",
  ":",
  "BTC",
  "usdt",
  ".P",
  "1!",
  " ",
  "\t",
  "\u0000",
  "é",
  "\u2028",
  "💥",
  "",
  "-",
  "_",
];

function randomString(rand: () => number): string {
  let s = "";
  const n = Math.floor(rand() * 6);
  for (let i = 0; i < n; i++) s += PIECES[Math.floor(rand() * PIECES.length)];
  return s;
}

function randomValue(rand: () => number, depth: number): unknown {
  const r = rand();
  if (depth > 4 || r < 0.35) {
    const k = Math.floor(rand() * 6);
    return [null, true, rand() * 1e6 - 5e5, randomString(rand), "NASDAQ:AAPL", -0][k];
  }
  if (r < 0.6) {
    return Array.from({ length: Math.floor(rand() * 5) }, () => randomValue(rand, depth + 1));
  }
  const obj: Record<string, unknown> = {};
  const keys = ["symbol", "data", "x", "__proto__", "constructor", randomString(rand)];
  for (let i = Math.floor(rand() * 4); i > 0; i--) {
    obj[keys[Math.floor(rand() * keys.length)]] = randomValue(rand, depth + 1);
  }
  return obj;
}

function check(text: string) {
  let entries: unknown[];
  try {
    entries = parseCandidatesJson(text, "candidates file fuzz.json");
  } catch (err) {
    assert.ok(err instanceof IngestError, `non-IngestError for ${text.slice(0, 100)}: ${err}`);
    assert.ok(!err.message.includes("\n"), "error is one line");
    return;
  }
  const targets = normalizeTargets(entries, { defaultExchange: "BINANCE" });
  assert.equal(targets.requested, entries.length);
  assert.ok(targets.valid.length + targets.invalid.length <= entries.length);
  assert.deepEqual(targets.valid, [...new Set(targets.valid)].sort());
  for (const symbol of targets.valid) {
    assert.deepEqual(normalizeSymbol(symbol), { ok: true, symbol });
  }
  for (const entry of targets.invalid) {
    assert.ok(entry.input.length <= 80 && entry.reason.length > 0);
  }
}

Deno.test("random JSON documents never crash the parser", () => {
  const rand = prng(20261125);
  for (let i = 0; i < 3000; i++) {
    const value = rand() < 0.5
      ? Array.from({ length: Math.floor(rand() * 8) }, () => randomValue(rand, 0))
      : randomValue(rand, 0);
    check(JSON.stringify(value));
    check(JSON.stringify({ data: value }));
  }
});

Deno.test("random byte-level damage never crashes the parser", () => {
  const rand = prng(7);
  const base = JSON.stringify({
    data: ["NASDAQ:AAPL", { symbol: "binance:btcusdt.p" }, null, [1, { a: "b" }]],
  });
  for (let i = 0; i < 3000; i++) {
    const chars = [...base];
    for (let e = Math.floor(rand() * 4); e >= 0; e--) {
      const at = Math.floor(rand() * (chars.length + 1));
      const ch = String.fromCharCode(Math.floor(rand() * 128));
      if (rand() < 0.5) chars.splice(at, 1);
      else chars.splice(at, 0, ch);
    }
    check(chars.join(""));
  }
});

Deno.test("pathological nesting and sizes never crash the parser", () => {
  check("[".repeat(200_000) + "]".repeat(200_000));
  check("[".repeat(200_000));
  check(JSON.stringify({ data: [{ symbol: { symbol: { symbol: "A:B" } } }] }));
  check(JSON.stringify(Array.from({ length: 50_000 }, (_, i) => `EX:T${i}`)));
  check('"' + "x".repeat(1_000_000) + '"');
  check('["' + "x".repeat(15_000_000));
});
