/**
 * Throttle-aware fetching against the real mirror: soft throttles, 403
 * blocks, unreachable and silent hosts, the pause budget; the client on its
 * own, then whole runs (in-process with short pauses, and the CLI where the
 * default flags are fast enough).
 */
import assert from "node:assert/strict";
import { type ClientOptions, fetchAll, TradingViewClient } from "../lib/fetch/client.ts";
import { runJob } from "../lib/job.ts";
import { parseCli } from "../lib/input/cli.ts";
import { memoryLogger } from "../lib/report/log.ts";
import { type Cli, cliTest } from "../testing/cli.ts";
import { mirrorSymbols, startMirror } from "../testing/mirror.ts";
import { listing, tempProject } from "../testing/tmp.ts";

/**
 * Short pauses and backoffs: the benchmark's soft throttle (20 per 10 s,
 * 30 s penalty, 10 s first pause, 1/s slow start) with time divided by 20.
 */
const short = {
  backoffBaseMs: 10,
  backoffCapMs: 50,
  timeoutMs: 2000,
  breaker: { pauseBaseMs: 500 },
  pacer: { resumeRate: 20, rateStep: 10 },
} satisfies Partial<ClientOptions>;
const SOFT_THROTTLE = { limit: 20, windowMs: 500, penaltyMs: 1500 };

Deno.test("a soft throttle pauses the whole pool; every symbol lands with few empty answers", async () => {
  await using mirror = startMirror({ latencyMs: 5, softThrottle: SOFT_THROTTLE });
  const events: string[] = [];
  const client = new TradingViewClient({
    baseUrl: mirror.url,
    ...short,
    workers: 3,
    onEvent: (line) => events.push(line),
  });
  const symbols = mirrorSymbols(["NASDAQ"]).slice(0, 60);
  const outcomes = await fetchAll(client, symbols, 3);
  assert.deepEqual(outcomes.filter((o) => o.kind !== "fetched"), []);
  const counts = client.counts();
  assert.ok(counts.pauses >= 1, `${counts.pauses} pauses`);
  assert.equal(counts.empty_bodies, mirror.stats.empty);
  // Without the shared view each symbol spent its retries inside the penalty.
  assert.ok(mirror.stats.empty <= 12, `${mirror.stats.empty} empty answers`);
  assert.ok(
    events.some((e) => /is throttling us \(empty response body\): pausing all requests/.test(e)),
  );
  assert.ok(events.some((e) => /answers again: resuming slowly/.test(e)));
});

Deno.test("a pause sends nothing, ends with exactly one probe, then starts are paced", async () => {
  const t0 = performance.now();
  const arrivals: number[] = [];
  await using mirror = startMirror({
    latencyMs: 20,
    fault: ({ request }) => {
      const at = performance.now() - t0;
      arrivals.push(at);
      return request > 6 && at < 600 ? { kind: "empty" } : undefined;
    },
  });
  const pauses: { at: number; ms: number }[] = [];
  let resumedAt = 0;
  const client = new TradingViewClient({
    baseUrl: mirror.url,
    ...short,
    breaker: { pauseBaseMs: 300 },
    pacer: { resumeRate: 10, rateStep: 0.001 },
    onEvent: (line) => {
      const pause = /pausing all requests for ([\d.]+) s/.exec(line);
      if (pause) pauses.push({ at: performance.now() - t0, ms: Number(pause[1]) * 1000 });
      if (/answers again/.test(line)) resumedAt = performance.now() - t0;
    },
  });
  const outcomes = await fetchAll(client, mirrorSymbols(["NASDAQ"]).slice(0, 16), 3);
  assert.deepEqual(outcomes.filter((o) => o.kind !== "fetched"), []);
  assert.equal(pauses.length, 2, JSON.stringify(pauses));
  for (const pause of pauses) {
    const end = pause.at + pause.ms;
    // (The mirror sees a request after its latency: skip those sent just before the trip.)
    const during = arrivals.filter((a) => a > pause.at + 60 && a < end - 50);
    assert.deepEqual(during, [], `nothing is sent during a pause (${JSON.stringify(pause)})`);
    const after = arrivals.filter((a) => a >= end - 50);
    assert.ok(after[1] - after[0] >= 15, `one probe, alone until it is answered: ${after}`);
  }
  const paced = arrivals.filter((a) => a > resumedAt).slice(0, 4);
  for (let i = 1; i < paced.length; i++) {
    assert.ok(paced[i] - paced[i - 1] >= 80, `slow start at ~10/s: ${paced.map(Math.round)}`);
  }
});

Deno.test("403s share one cooldown: a run of them pauses the pool instead of each symbol retrying", async () => {
  const t0 = performance.now();
  const arrivals: number[] = [];
  await using mirror = startMirror({
    latencyMs: 5,
    fault: () => {
      arrivals.push(performance.now());
      return performance.now() - t0 < 300 ? { kind: "status", status: 403 } : undefined;
    },
  });
  const client = new TradingViewClient({
    baseUrl: mirror.url,
    ...short,
    breaker: { pauseBaseMs: 400 },
  });
  const outcomes = await fetchAll(client, mirrorSymbols(["NYSE"]).slice(0, 12), 3);
  assert.deepEqual(outcomes.filter((o) => o.kind !== "fetched"), []);
  // Per-symbol retries alone would have drawn about 3 x 300 / 30 = 30 refusals.
  assert.ok(mirror.stats.byStatus[403] <= 5, `${mirror.stats.byStatus[403]} x 403`);
  assert.equal(client.counts().status403, mirror.stats.byStatus[403]);
  assert.ok(client.counts().pauses >= 1);
});

Deno.test("scattered 403s (10% of answers) are retried, never a block", async () => {
  await using mirror = startMirror({ rate403: 0.1, seed: 7 });
  const client = new TradingViewClient({ baseUrl: mirror.url, ...short });
  const outcomes = await fetchAll(client, mirrorSymbols(["AMEX"]).slice(0, 60), 3);
  assert.deepEqual(outcomes.filter((o) => o.kind !== "fetched"), []);
  assert.ok(mirror.stats.byStatus[403] >= 3, `${mirror.stats.byStatus[403]} x 403`);
  assert.equal(client.halt, null);
});

Deno.test("a blocked client stops within a handful of requests; every symbol names the block", async () => {
  await using mirror = startMirror({ block403: true });
  const client = new TradingViewClient({
    baseUrl: mirror.url,
    ...short,
    breaker: { pauseBaseMs: 50 },
  });
  const symbols = mirrorSymbols(["NASDAQ"]).slice(0, 20);
  const outcomes = await fetchAll(client, symbols, 3);
  assert.ok(mirror.stats.requests <= 10, `${mirror.stats.requests} requests`);
  assert.equal(client.halt?.kind, "blocked");
  const host = new URL(mirror.url).host;
  const reason = new RegExp(
    `^blocked: ${host.replace(/\./g, "\\.")} answered HTTP 403 to \\d+ requests in a row ` +
      "across 2 pauses; stopped sending$",
  );
  for (const outcome of outcomes) {
    assert.equal(outcome.kind, "failed");
    assert.match(outcome.kind === "failed" ? outcome.reason : "", reason);
  }
});

Deno.test("--max-throttle-s: pausing stops at the budget and the rest fail saying so", async () => {
  await using mirror = startMirror({
    softThrottle: { limit: 3, windowMs: 60_000, penaltyMs: 60_000 },
  });
  const client = new TradingViewClient({
    baseUrl: mirror.url,
    ...short,
    breaker: { pauseBaseMs: 100 },
    maxPausedMs: 300,
  });
  const started = performance.now();
  const outcomes = await fetchAll(client, mirrorSymbols(["NYSE"]).slice(0, 12), 3);
  assert.ok(performance.now() - started < 3000);
  assert.equal(client.halt?.kind, "budget");
  assert.equal(outcomes.filter((o) => o.kind === "fetched").length, 3);
  const reasons = new Set(
    outcomes.filter((o) => o.kind === "failed").map((o) => "reason" in o && o.reason),
  );
  assert.deepEqual([...reasons], [client.halt?.reason]);
  assert.match(
    client.halt?.reason ?? "",
    /kept throttling after 0 s of pauses \(--max-throttle-s\)/,
  );
  assert.equal(client.counts().paused_ms, 300);
});

Deno.test("call() is the generic primitive: POST a body, interpret the answer", async () => {
  let seen: { method: string; type: string | null; body: string } | undefined;
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      seen = { method: req.method, type: req.headers.get("content-type"), body: await req.text() };
      return Response.json({ totalCount: 2, data: [{ s: "A:B" }, { s: "C:D" }] });
    },
  );
  const client = new TradingViewClient({
    baseUrl: `http://127.0.0.1:${server.addr.port}`,
    ...short,
  });
  const outcome = await client.call(
    {
      url: `http://127.0.0.1:${server.addr.port}/america/scan`,
      method: "POST",
      body: '{"x":1}',
      label: "scan",
    },
    (answer) => {
      const data = (answer.json as { data?: { s: string }[] }).data;
      return data
        ? { kind: "ok", value: data.map((d) => d.s) }
        : { kind: "retry", reason: "no data" };
    },
  );
  assert.deepEqual(outcome, { kind: "ok", value: ["A:B", "C:D"], attempts: 1 });
  assert.deepEqual(seen, { method: "POST", type: "application/json", body: '{"x":1}' });
});

Deno.test("call() never throws: a throwing interpret() fails the call with its message", async () => {
  await using mirror = startMirror();
  const client = new TradingViewClient({ baseUrl: mirror.url, ...short });
  const outcome = await client.call({ url: client.urlFor("NASDAQ:AAPL"), label: "x" }, () => {
    throw new TypeError("cannot read the answer");
  });
  assert.deepEqual(outcome, { kind: "failed", reason: "cannot read the answer", attempts: 1 });
});

// --- whole runs ----------------------------------------------------------------

function runOptions(args: string[]) {
  const command = parseCli(args, {});
  if (command.kind !== "run") throw new Error("not a run");
  return command.options;
}

Deno.test("a blocked run: exit 1, error names the 403 block, the catalog untouched", async () => {
  await using project = await tempProject();
  await using mirror = startMirror();
  const symbols = mirrorSymbols(["NASDAQ"]).slice(0, 30).join(",");
  const args = ["--symbols", symbols, "--base-url", mirror.url];
  const first = await runJob(runOptions(args), { log: memoryLogger(), root: project.dir });
  assert.equal(first.exit_code, 0);
  const path = `${project.dir}/data/lakehouse/symbols.parquet`;
  const bytes = await Deno.readFile(path);
  mirror.configure({ block403: true });
  mirror.resetStats();
  const log = memoryLogger();
  const report = await runJob(runOptions(args), {
    log,
    root: project.dir,
    client: { breaker: { pauseBaseMs: 50 }, backoffBaseMs: 10 },
  });
  assert.equal(report.exit_code, 1);
  assert.match(report.error ?? "", /^blocked: 127\.0\.0\.1:\d+ answered HTTP 403 to \d+ requests/);
  assert.equal(report.failed.length, 30);
  assert.ok(report.failed.every((f) => f.reason === report.error));
  assert.ok(mirror.stats.requests <= 10, `${mirror.stats.requests} requests`);
  assert.equal(report.http.status403, mirror.stats.requests);
  assert.equal(report.http.pauses, 2);
  assert.deepEqual(await Deno.readFile(path), bytes);
});

Deno.test("blocked part-way: the fetched are merged, exit 3, error set", async () => {
  await using project = await tempProject();
  await using mirror = startMirror({
    fault: ({ request }) => (request > 10 ? { kind: "status", status: 403 } : undefined),
  });
  const symbols = mirrorSymbols(["NYSE"]).slice(0, 25).join(",");
  const report = await runJob(runOptions(["--symbols", symbols, "--base-url", mirror.url]), {
    log: memoryLogger(),
    root: project.dir,
    client: { breaker: { pauseBaseMs: 50 }, backoffBaseMs: 10 },
  });
  assert.equal(report.exit_code, 3);
  assert.equal(report.fetched, 10);
  assert.equal(report.new, 10);
  assert.match(report.error ?? "", /^blocked: /);
  assert.equal(report.failed.length, 15);
});

Deno.test("a server that stops answering part-way: the fetched are merged, the rest fail fast", async () => {
  await using project = await tempProject();
  await using mirror = startMirror({
    fault: ({ request }) => (request > 5 ? { kind: "hang" } : undefined),
  });
  const symbols = mirrorSymbols(["AMEX"]).slice(0, 30).join(",");
  const started = performance.now();
  const report = await runJob(
    runOptions(["--symbols", symbols, "--base-url", mirror.url, "--timeout-ms", "200"]),
    { log: memoryLogger(), root: project.dir, client: { backoffBaseMs: 10 } },
  );
  assert.ok(performance.now() - started < 5000);
  assert.equal(report.exit_code, 3);
  assert.equal(report.fetched, 5);
  assert.match(
    report.error ?? "",
    /^127\.0\.0\.1:\d+ stopped answering: 6 requests in a row got no answer \(no answer within 200 ms\)/,
  );
  assert.ok(mirror.stats.requests <= 5 + 8, `${mirror.stats.requests} requests`);
});

Deno.test("a soft-throttled run lands every symbol, exit 0, and the log says the pool paused", async () => {
  await using project = await tempProject();
  await using mirror = startMirror({ latencyMs: 5, softThrottle: SOFT_THROTTLE });
  const symbols = mirrorSymbols(["BINANCE"]).slice(0, 30).join(",");
  const log = memoryLogger();
  const report = await runJob(runOptions(["--symbols", symbols, "--base-url", mirror.url]), {
    log,
    root: project.dir,
    client: short,
  });
  assert.equal(report.exit_code, 0, report.error ?? "");
  assert.equal(report.fetched, 30);
  assert.ok(report.http.pauses >= 1);
  assert.ok(report.http.paused_ms >= 500);
  assert.equal(report.http.empty_bodies, mirror.stats.empty);
  assert.ok(
    log.lines.some((l) => /^warning: .* is throttling us .*pausing all requests for/.test(l)),
  );
});

for (const mode of ["refused", "tls"] as const) {
  cliTest(
    `an unreachable host (${mode}): a few attempts, one error naming it, nothing written`,
    async (cli: Cli) => {
      await using project = await tempProject();
      await using mirror = startMirror({ unreachable: mode });
      const symbols = mirrorSymbols(["NASDAQ"]).slice(0, 10).join(",");
      const started = performance.now();
      const result = await cli.run(["--symbols", symbols, "--base-url", mirror.url, "--json"], {
        cwd: project.dir,
      });
      assert.ok(performance.now() - started < 5000);
      assert.equal(result.code, 1, result.stderr);
      const report = JSON.parse(result.stdout);
      assert.ok(report.http.requests <= 5, `${report.http.requests} attempts`);
      const host = new URL(mirror.url).host;
      assert.match(
        report.error,
        new RegExp(`^cannot reach ${host.replace(/\./g, "\\.")}: .+ \\(\\d attempts, no answer\\)`),
      );
      const errors = result.stderr.split("\n").filter((l) => l.includes(host));
      assert.equal(errors.length, 2, result.stderr); // the warning as it happens, the final error
      assert.deepEqual(await listing(project.dir), []);
    },
  );
}

cliTest(
  "a silent server (accepts, never answers) ends fast with one clear error",
  async (cli: Cli) => {
    await using project = await tempProject();
    await using mirror = startMirror({ unreachable: "silent" });
    const symbols = mirrorSymbols(["NYSE"]).slice(0, 30).join(",");
    const started = performance.now();
    const result = await cli.run(
      ["--symbols", symbols, "--base-url", mirror.url, "--timeout-ms", "500", "--json"],
      { cwd: project.dir },
    );
    assert.ok(performance.now() - started < 10_000);
    assert.equal(result.code, 1, result.stderr);
    const report = JSON.parse(result.stdout);
    assert.match(report.error, /^127\.0\.0\.1:\d+ does not answer: 3 requests in a row timed out/);
    assert.ok(mirror.stats.connections <= 5, `${mirror.stats.connections} connections`);
    assert.deepEqual(await listing(project.dir), []);
  },
);
