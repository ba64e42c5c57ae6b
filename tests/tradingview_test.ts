import assert from "node:assert/strict";
import { fetchAll, parseRetryAfter, TradingViewClient, USER_AGENT } from "../lib/fetch/client.ts";
import { VERSION } from "../lib/core/version.ts";
import { ScaledClock } from "../testing/clock.ts";
import { type Fault, mirrorSymbols, startMirror } from "../testing/mirror.ts";
import { ClientTracer } from "../testing/trace.ts";

// The timeout only stops a hung request: a loaded machine may take seconds to answer.
const fast = { backoffBaseMs: 10, backoffCapMs: 50, timeoutMs: 20_000 };

Deno.test("Retry-After: delay-seconds and HTTP-date", () => {
  const now = Date.parse("2026-11-25T12:00:00Z");
  assert.equal(parseRetryAfter("3", now), 3000);
  assert.equal(parseRetryAfter(" 0 ", now), 0);
  assert.equal(parseRetryAfter("Wed, 25 Nov 2026 12:00:07 GMT", now), 7000);
  assert.equal(parseRetryAfter("Wed, 25 Nov 2026 11:00:00 GMT", now), 0);
  assert.equal(parseRetryAfter(null, now), null);
  assert.equal(parseRetryAfter("soon", now), null);
  assert.equal(parseRetryAfter("-5", now), null);
});

Deno.test("the request: /symbol, encoded query, requested fields, a User-Agent naming the tool", async () => {
  let seen: { url: string; userAgent: string | null } | undefined;
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    seen = { url: req.url, userAgent: req.headers.get("user-agent") };
    return Response.json({ pricescale: 100, minmov: 1, type: "futures" });
  });
  const client = new TradingViewClient({
    baseUrl: `http://127.0.0.1:${server.addr.port}/`,
    ...fast,
  });
  const outcome = await client.fetchSymbol("CME_MINI:ES1!");
  assert.equal(outcome.kind, "fetched");
  const url = new URL(seen!.url);
  assert.equal(url.pathname, "/symbol");
  assert.match(url.search, /symbol=CME_MINI%3AES1%21&fields=pricescale%2Cminmov%2Cminmove2%2C/);
  assert.equal(url.searchParams.get("symbol"), "CME_MINI:ES1!");
  assert.deepEqual(url.searchParams.get("fields")?.split(","), [
    "pricescale",
    "minmov",
    "minmove2",
    "currency",
    "base_currency",
    "exchange",
    "type",
    "subtype",
    "description",
    "sector",
    "industry",
    "country",
    "root",
    "expiration",
    "contract_type",
    "fractional",
    "timezone",
    "session",
    "pointvalue",
    "typespecs",
  ]);
  assert.equal(seen!.userAgent, USER_AGENT);
  assert.match(USER_AGENT, new RegExp(`^meta-ingest/${VERSION.replaceAll(".", "\\.")} `));
});

Deno.test("a fetched symbol is validated and mapped", async () => {
  await using mirror = startMirror();
  const client = new TradingViewClient({ baseUrl: mirror.url, ...fast });
  const outcome = await client.fetchSymbol("NASDAQ:AAPL");
  assert.equal(outcome.kind, "fetched");
  if (outcome.kind !== "fetched") return;
  assert.equal(outcome.record.description, "Apple Inc.");
  assert.equal(outcome.record.tick_size, 0.01);
  assert.deepEqual(client.stats, { requests: 1, retries: 0, status429: 0 });
});

Deno.test("not found (404 or an empty object) is a failure, not retried", async () => {
  await using mirror = startMirror({
    fault: ({ symbol }) => (symbol === "BINANCE:EMPTY" ? { kind: "body", body: {} } : undefined),
  });
  const client = new TradingViewClient({ baseUrl: mirror.url, ...fast });
  for (const symbol of ["BINANCE:NOPE", "BINANCE:EMPTY"]) {
    const outcome = await client.fetchSymbol(symbol);
    assert.equal(outcome.kind, "not-found", symbol);
    assert.equal(outcome.kind === "not-found" && outcome.reason, "not found on TradingView");
    assert.equal(mirror.stats.perSymbol[symbol], 1);
  }
  assert.equal(client.stats.retries, 0);
});

Deno.test("403, 5xx, malformed bodies and hangs are retried and then succeed", async () => {
  const first: Record<string, Fault> = {
    "NASDAQ:AAPL": { kind: "status", status: 403 },
    "NASDAQ:MSFT": { kind: "status", status: 503 },
    "NASDAQ:NVDA": { kind: "malformed" },
    "NASDAQ:TSLA": { kind: "hang" },
    "NASDAQ:META": { kind: "status", status: 500 },
  };
  await using mirror = startMirror({
    fault: ({ symbol, attempt }) => (attempt === 1 ? first[symbol] : undefined),
  });
  // The hang ends by the timeout; answers take a few ms, well under it even on a busy machine.
  const client = new TradingViewClient({ baseUrl: mirror.url, ...fast, timeoutMs: 1_000 });
  const outcomes = await fetchAll(client, Object.keys(first), 3);
  assert.deepEqual(outcomes.map((o) => [o.symbol, o.kind, o.attempts]), [
    ["NASDAQ:AAPL", "fetched", 2],
    ["NASDAQ:MSFT", "fetched", 2],
    ["NASDAQ:NVDA", "fetched", 2],
    ["NASDAQ:TSLA", "fetched", 2],
    ["NASDAQ:META", "fetched", 2],
  ]);
  assert.deepEqual(client.stats, { requests: 10, retries: 5, status429: 0 });
  assert.equal(mirror.stats.hangs, 1);
});

Deno.test("retries are bounded by maxRetries and the reason says what failed", async () => {
  const faults: Record<string, Fault> = {
    "NASDAQ:AAPL": { kind: "status", status: 502 },
    "NASDAQ:MSFT": { kind: "hang" },
    "NASDAQ:NVDA": { kind: "malformed" },
    "NASDAQ:TSLA": { kind: "status", status: 403 },
  };
  await using mirror = startMirror({ fault: ({ symbol }) => faults[symbol] });
  const client = new TradingViewClient({
    baseUrl: mirror.url,
    ...fast,
    // 1 s: the other answers come in ms, but share the test's thread with
    // the mirror; a shorter timeout could catch one on a stalled machine.
    timeoutMs: 1_000,
    maxRetries: 2,
  });
  const outcomes = await fetchAll(client, Object.keys(faults), 4);
  const reasons = outcomes.map((o) => (o.kind === "failed" ? o.reason : o.kind));
  assert.deepEqual(reasons, [
    "HTTP 502 (gave up after 3 attempts)",
    "timed out after 1000 ms (gave up after 3 attempts)",
    "malformed response body (not JSON) (gave up after 3 attempts)",
    "HTTP 403 (gave up after 3 attempts)",
  ]);
  for (const symbol of Object.keys(faults)) assert.equal(mirror.stats.perSymbol[symbol], 3, symbol);
  assert.deepEqual(client.stats, { requests: 12, retries: 8, status429: 0 });
});

Deno.test("other 4xx answers and validation failures are not retried", async () => {
  await using mirror = startMirror({
    overrides: { "NASDAQ:BAD": { pricescale: 0, minmov: 1, type: "stock" } },
    fault: ({ symbol }) => (symbol === "NASDAQ:GONE" ? { kind: "status", status: 410 } : undefined),
  });
  const client = new TradingViewClient({ baseUrl: mirror.url, ...fast });
  const bad = await client.fetchSymbol("NASDAQ:BAD");
  assert.equal(
    bad.kind === "failed" && bad.reason,
    "invalid response: pricescale must be a positive whole number, got 0",
  );
  const gone = await client.fetchSymbol("NASDAQ:GONE");
  assert.match(gone.kind === "failed" ? gone.reason : "", /^HTTP 410 \(not retried\)/);
  assert.equal(client.stats.requests, 2);
});

Deno.test("network errors are retried and reported", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const client = new TradingViewClient({
    baseUrl: `http://127.0.0.1:${port}`,
    ...fast,
    maxRetries: 1,
  });
  const outcome = await client.fetchSymbol("NASDAQ:AAPL");
  assert.equal(outcome.kind, "failed");
  assert.match(
    outcome.kind === "failed" ? outcome.reason : "",
    /^network error: .*gave up after 2 attempts/,
  );
});

for (const style of ["seconds", "date"] as const) {
  Deno.test(`a 429 with Retry-After (${style}) pauses every worker until the cooldown ends`, async () => {
    // Client and mirror share a clock 20 times faster than the wall's.
    const clock = new ScaledClock(20);
    // When the cooldown ends, as the mirror means it: 2 s from its answer,
    // or the HTTP date it sends (whole seconds: 2 to 3 s ahead).
    let cooldownEnd = Infinity;
    await using mirror = startMirror({
      latencyMs: 20,
      clock,
      fault: ({ request }) => {
        if (request !== 2) return undefined;
        const date = new Date(clock.now() + 3000).toUTCString();
        cooldownEnd = style === "seconds" ? clock.now() + 2000 : Date.parse(date);
        return { kind: "status", status: 429, retryAfter: style === "seconds" ? "2" : date };
      },
    });
    const trace = new ClientTracer();
    const client = new TradingViewClient({
      baseUrl: mirror.url,
      ...fast,
      clock,
      onTrace: trace.record,
    });
    const symbols = mirrorSymbols(["NASDAQ"]).slice(0, 9);
    const outcomes = await fetchAll(client, symbols, 3);
    assert.ok(outcomes.every((o) => o.kind === "fetched"));
    assert.equal(client.stats.status429, 1);
    const pauses = trace.pauses();
    assert.equal(pauses.length, 1, JSON.stringify(pauses));
    // The pause ends no sooner than the server said. Not its length: for a
    // date, that is the date minus the moment the client reads it, which a
    // busy machine delays (times 20 on this clock).
    assert.ok(
      pauses[0].until >= cooldownEnd - 1,
      `the pause ends at ${pauses[0].until}, the cooldown at ${cooldownEnd}`,
    );
    assert.deepEqual(trace.sendsDuringPauses(), [], "no worker sends during the cooldown");
    assert.ok(trace.sends().some((s) => s.at >= pauses[0].until), "and they resume after it");
  });
}

Deno.test("Retry-After is capped", async () => {
  const clock = new ScaledClock(20);
  await using mirror = startMirror({
    clock,
    fault: (
      { attempt },
    ) => (attempt === 1 ? { kind: "status", status: 429, retryAfter: "3600" } : undefined),
  });
  const trace = new ClientTracer();
  const client = new TradingViewClient({
    baseUrl: mirror.url,
    ...fast,
    clock,
    retryAfterCapMs: 1_500,
    onTrace: trace.record,
  });
  const outcome = await client.fetchSymbol("NASDAQ:AAPL");
  assert.equal(outcome.kind, "fetched");
  assert.deepEqual(trace.pauses().map((p) => p.ms), [1_500], "one pause, of the cap");
});

Deno.test("a 429 storm with Retry-After ends with every symbol fetched", async () => {
  // The mirror refuses everything for 1.5 s from the first request on (of a
  // clock 5 times faster than the wall's: 300 ms of it), then lets requests in.
  const clock = new ScaledClock(5);
  let t0: number | null = null;
  await using mirror = startMirror({
    latencyMs: 10,
    clock,
    fault: () => {
      t0 ??= clock.now();
      return clock.now() - t0 < 1500 ? { kind: "status", status: 429, retryAfter: "1" } : undefined;
    },
  });
  const client = new TradingViewClient({ baseUrl: mirror.url, ...fast, clock });
  const symbols = mirrorSymbols(["BINANCE"]).slice(0, 30);
  const outcomes = await fetchAll(client, symbols, 3);
  assert.deepEqual(outcomes.filter((o) => o.kind !== "fetched"), []);
  assert.ok(client.stats.status429 >= 3, `${client.stats.status429} x 429`);
  // The pool backed off as a whole: far fewer 429s than a hammering client.
  assert.ok(mirror.stats.status429 <= 12, `${mirror.stats.status429} x 429`);
});

Deno.test("a stingy server (token bucket) is paced, not hammered", async () => {
  const clock = new ScaledClock(20);
  await using mirror = startMirror({ rate: 10, latencyMs: 20, clock });
  const client = new TradingViewClient({ baseUrl: mirror.url, ...fast, maxRetries: 6, clock });
  const symbols = mirrorSymbols(["OKX"]).slice(0, 40);
  const outcomes = await fetchAll(client, symbols, 3);
  assert.deepEqual(outcomes.filter((o) => o.kind !== "fetched"), []);
  // Unpaced, three workers would draw a 429 on most cooldown cycles.
  assert.ok(mirror.stats.status429 <= 6, `${mirror.stats.status429} x 429 for 40 symbols`);
});

Deno.test("fetchAll never has more than `workers` requests in flight", async () => {
  await using mirror = startMirror({ latencyMs: 15, jitterMs: 10 });
  for (const workers of [1, 3, 5]) {
    mirror.resetStats();
    const client = new TradingViewClient({ baseUrl: mirror.url, ...fast });
    const outcomes = await fetchAll(client, mirrorSymbols(["NYSE"]).slice(0, 30), workers);
    assert.equal(outcomes.length, 30);
    assert.equal(mirror.stats.peakInFlight, workers);
  }
});

Deno.test("cancelling stops waiting and reports cancelled", async () => {
  await using mirror = startMirror({ fault: () => ({ kind: "hang" }) });
  const controller = new AbortController();
  const client = new TradingViewClient({ baseUrl: mirror.url, ...fast, signal: controller.signal });
  setTimeout(() => controller.abort(), 100);
  const outcome = await client.fetchSymbol("NASDAQ:AAPL");
  assert.equal(outcome.kind === "failed" && outcome.reason, "cancelled");
});

Deno.test("an oversized body is malformed: retried, then the symbol fails", async () => {
  const huge = JSON.stringify({
    pricescale: 100,
    minmov: 1,
    type: "stock",
    description: "x".repeat(2 * 1024 * 1024),
  });
  let served = 0;
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () => {
    served++;
    return new Response(huge, { headers: { "content-type": "application/json" } });
  });
  const client = new TradingViewClient({
    baseUrl: `http://127.0.0.1:${server.addr.port}`,
    ...fast,
    maxRetries: 1,
  });
  const outcome = await client.fetchSymbol("NASDAQ:AAPL");
  assert.equal(outcome.kind, "failed");
  assert.match(
    outcome.kind === "failed" ? outcome.reason : "",
    /larger than 1048576 bytes.*gave up after 2 attempts/,
  );
  assert.equal(served, 2);
});
