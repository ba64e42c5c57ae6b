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
import { ScaledClock } from "../testing/clock.ts";
import { type Fault, mirrorSymbols, startMirror } from "../testing/mirror.ts";
import { ClientTracer } from "../testing/trace.ts";
import { listing, tempProject } from "../testing/tmp.ts";

/**
 * Short pauses and backoffs: the benchmark's soft throttle (20 per 10 s,
 * 30 s penalty, 10 s first pause, 1/s slow start) with time divided by 20.
 */
const short = {
  backoffBaseMs: 10,
  backoffCapMs: 50,
  timeoutMs: 20_000, // only stops a hung request
  breaker: { pauseBaseMs: 500 },
  pacer: { resumeRate: 20, rateStep: 10 },
} satisfies Partial<ClientOptions>;
/**
 * More than 20 requests within a minute (of the clock client and mirror
 * share, 10 times faster than the wall's), then 1.5 s of empty answers: in
 * effect every 21st request starts a penalty, however slow a busy machine
 * makes the client.
 */
const SOFT_THROTTLE = { limit: 20, windowMs: 60_000, penaltyMs: 1500 };

Deno.test("a soft throttle pauses the whole pool; every symbol lands with few empty answers", async () => {
  const clock = new ScaledClock(10);
  await using mirror = startMirror({ latencyMs: 5, softThrottle: SOFT_THROTTLE, clock });
  const events: string[] = [];
  const client = new TradingViewClient({
    baseUrl: mirror.url,
    ...short,
    clock,
    workers: 3,
    onEvent: (line) => events.push(line),
  });
  const symbols = mirrorSymbols(["NASDAQ"]).slice(0, 60);
  const outcomes = await fetchAll(client, symbols, 3);
  assert.deepEqual(outcomes.filter((o) => o.kind !== "fetched"), []);
  const counts = client.counts();
  assert.ok(counts.pauses >= 1, `${counts.pauses} pauses`);
  assert.equal(counts.empty_bodies, mirror.stats.empty);
  // Two penalties in 60 symbols, each costing the three empty answers that
  // trip the pause, a probe or two, and what was already on its way (9 to 12
  // in practice; a loaded machine can add a few: good answers between the
  // empty ones, or one symbol's quick retry counting as one symbol). Without
  // the shared view each symbol spent its retries inside the penalty (60 and
  // more).
  assert.ok(mirror.stats.empty <= 20, `${mirror.stats.empty} empty answers`);
  assert.ok(
    events.some((e) => /is throttling us \(empty response body\): pausing all requests/.test(e)),
  );
  assert.ok(events.some((e) => /answers again: resuming slowly/.test(e)));
});

Deno.test("a pause sends nothing, ends with exactly one probe, then starts are paced", async () => {
  const clock = new ScaledClock(10);
  // Requests 7-10 are answered empty: three trip a pause, the probe after it
  // (usually) reopens it, the next probe gets through.
  await using mirror = startMirror({
    latencyMs: 20,
    clock,
    fault: ({ request }) => request >= 7 && request <= 10 ? { kind: "empty" } : undefined,
  });
  const trace = new ClientTracer();
  const client = new TradingViewClient({
    baseUrl: mirror.url,
    ...short,
    clock,
    breaker: { pauseBaseMs: 300 },
    pacer: { resumeRate: 10, rateStep: 0.001 },
    onTrace: trace.record,
  });
  const outcomes = await fetchAll(client, mirrorSymbols(["NASDAQ"]).slice(0, 16), 3);
  assert.deepEqual(outcomes.filter((o) => o.kind !== "fetched"), []);
  const pauses = trace.pauses();
  // Two when the probe is request 10; one when a retry sent before the pause
  // drew request 10's empty answer (the order of answers varies with load).
  assert.ok(pauses.length >= 1, JSON.stringify(pauses));
  assert.deepEqual(trace.sendsDuringPauses(), [], "nothing is sent during a pause");
  // After each pause exactly one probe goes; the next request waits until
  // it is answered: a new pause (and its probe) or the resume comes first.
  const events = trace.events;
  for (const [i, e] of events.entries()) {
    if (e.kind !== "send" || !e.probe) continue;
    const next = events.slice(i + 1).find((x) => x.kind !== "backoff");
    assert.ok(
      next === undefined || next.kind === "pause" || next.kind === "resume",
      `after a probe: ${JSON.stringify(next)}`,
    );
  }
  assert.equal(
    trace.sends().filter((e) => e.probe).length,
    pauses.length,
    "one probe per pause",
  );
  // Slow start at 10/s: from the probe that ended the last pause on, the
  // pacer books starts 100 ms apart, and no request goes before its booking
  // (the machine's load can only make them later).
  const resumed = events.findLast((e) => e.kind === "resume")!;
  const sends = trace.sends();
  const lastProbe = sends.findLast((e) => e.probe && e.at <= resumed.at)!;
  const paced = sends.slice(sends.indexOf(lastProbe), sends.indexOf(lastProbe) + 5);
  assert.equal(paced.length, 5);
  for (let k = 1; k < paced.length; k++) {
    assert.ok(
      paced[k].booked - paced[k - 1].booked >= 99,
      `start ${k}: ${JSON.stringify(paced)}`,
    );
  }
  assert.ok(sends.every((e) => e.at >= e.booked), "no request goes before its booked start");
});

Deno.test("403s share one cooldown: a run of them pauses the pool instead of each symbol retrying", async () => {
  // 403 to everything for 3 s from the first request on (of a clock the
  // client shares, 10 times faster than the wall's: 300 ms of it).
  const clock = new ScaledClock(10);
  let first: number | null = null;
  await using mirror = startMirror({
    latencyMs: 5,
    clock,
    fault: () => {
      first ??= clock.now();
      return clock.now() - first < 3_000 ? { kind: "status", status: 403 } : undefined;
    },
  });
  const client = new TradingViewClient({
    baseUrl: mirror.url,
    ...short,
    clock,
    breaker: { pauseBaseMs: 4_000 },
  });
  const outcomes = await fetchAll(client, mirrorSymbols(["NYSE"]).slice(0, 12), 3);
  assert.deepEqual(outcomes.filter((o) => o.kind !== "fetched"), []);
  // Per-symbol retries alone would have drawn about 3 x 3000 / 30 = 300 refusals.
  // The shared cooldown: three that trip the pause (from two symbols or more;
  // on a loaded machine one symbol's quick retry may come first, and a fourth
  // trips it), what was on its way, and the probe.
  assert.ok(mirror.stats.byStatus[403] <= 8, `${mirror.stats.byStatus[403]} x 403`);
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
  const outcomes = await fetchAll(client, mirrorSymbols(["NYSE"]).slice(0, 12), 3);
  assert.equal(client.halt?.kind, "budget");
  // 3 answers, 3 empty ones that trip the pause (a fourth when a loaded
  // machine lets one symbol's retry come back first: they must span two
  // symbols), one probe per pause (2), and at most 2 more that were on
  // their way: never a loop.
  assert.ok(mirror.stats.requests <= 3 + 4 + 2 + 2, `${mirror.stats.requests} requests`);
  assert.equal(client.counts().pauses, 2);
  assert.equal(outcomes.filter((o) => o.kind === "fetched").length, 3);
  const reasons = new Set(
    outcomes.filter((o) => o.kind === "failed").map((o) => "reason" in o && o.reason),
  );
  assert.deepEqual([...reasons], [client.halt?.reason]);
  assert.match(
    client.halt?.reason ?? "",
    /kept throttling after 0 s of pauses \(--max-throttle-s\)/,
  );
  assert.equal(client.counts().paused_ms, 300, "both pauses were waited out: 100 + 200 ms");
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
    client: { breaker: { pauseBaseMs: 50 }, pacer: { resumeRate: 20 }, backoffBaseMs: 10 },
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
    client: { breaker: { pauseBaseMs: 50 }, pacer: { resumeRate: 20 }, backoffBaseMs: 10 },
  });
  assert.equal(report.exit_code, 3);
  assert.equal(report.fetched, 10);
  assert.equal(report.new, 10);
  assert.match(report.error ?? "", /^blocked: /);
  // The 15 not fetched: asked and refused (failed), or never asked (skipped).
  assert.equal(report.failed.length + report.skipped.length, 15);
  for (const s of report.skipped) assert.match(s.reason, /^halted: blocked: /);
});

Deno.test("a server that stops answering part-way: the fetched are merged, the rest fail fast", async () => {
  await using project = await tempProject();
  await using mirror = startMirror({
    fault: ({ request }) => (request > 5 ? { kind: "hang" } : undefined),
  });
  const symbols = mirrorSymbols(["AMEX"]).slice(0, 30).join(",");
  const report = await runJob(
    // 1 s: the five answers come in ms, but share the test's thread with
    // the mirror; a shorter timeout could catch one on a stalled machine.
    runOptions(["--symbols", symbols, "--base-url", mirror.url, "--timeout-ms", "1000"]),
    { log: memoryLogger(), root: project.dir, client: { backoffBaseMs: 10 } },
  );
  assert.equal(report.exit_code, 3);
  assert.equal(report.fetched, 5);
  assert.match(
    report.error ?? "",
    /^127\.0\.0\.1:\d+ stopped answering: 6 requests in a row got no answer \(no answer within 1000 ms\)/,
  );
  // 5 answered; the 3 on their way when the first one failed count as one;
  // 5 more failures in a row, and at most 2 more already sent: then it stops.
  assert.ok(mirror.stats.requests <= 5 + 3 + 5 + 2, `${mirror.stats.requests} requests`);
});

Deno.test("a soft-throttled run lands every symbol, exit 0, and the log says the pool paused", async () => {
  await using project = await tempProject();
  const clock = new ScaledClock(10);
  await using mirror = startMirror({ latencyMs: 5, softThrottle: SOFT_THROTTLE, clock });
  // 50 symbols: two penalties (one from the 21st request, one from the 21st
  // after that penalty ends). A pause needs three empty answers within a penalty's
  // 150 ms of wall time; with two, one stall of the test's thread that long
  // cannot leave the run without a pause.
  const symbols = mirrorSymbols(["BINANCE"]).slice(0, 50).join(",");
  const log = memoryLogger();
  const report = await runJob(runOptions(["--symbols", symbols, "--base-url", mirror.url]), {
    log,
    root: project.dir,
    client: { ...short, clock },
  });
  assert.equal(report.exit_code, 0, report.error ?? "");
  assert.equal(report.fetched, 50);
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
      const result = await cli.run(["--symbols", symbols, "--base-url", mirror.url, "--json"], {
        cwd: project.dir,
      });
      assert.equal(result.code, 1, result.stderr);
      const report = JSON.parse(result.stdout);
      // The first three failures end it; at most two retries were sent meanwhile.
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
    const result = await cli.run(
      ["--symbols", symbols, "--base-url", mirror.url, "--timeout-ms", "500", "--json"],
      { cwd: project.dir },
    );
    assert.equal(result.code, 1, result.stderr);
    const report = JSON.parse(result.stdout);
    assert.match(report.error, /^127\.0\.0\.1:\d+ does not answer: 3 requests in a row timed out/);
    // The first three timeouts end it (one --timeout-ms in all, since the
    // three run together); at most two retries went out meanwhile.
    assert.ok(report.http.requests <= 5, `${report.http.requests} requests`);
    assert.ok(report.http.retries <= 2, `${report.http.retries} retries`);
    assert.ok(mirror.stats.connections <= 5, `${mirror.stats.connections} connections`);
    assert.deepEqual(await listing(project.dir), []);
  },
);

// --- issue 19: no loop against any answer ---------------------------------------

/** A hang-stopper: a run that loops is cut off (and then fails its assertions). */
const HANG_STOPPER_MS = 20_000;

const ALWAYS_429: Record<string, (clock: ScaledClock) => Fault> = {
  "429, Retry-After: 0": () => ({ kind: "status", status: 429, retryAfter: "0" }),
  "429, Retry-After: a past date": (clock) => ({
    kind: "status",
    status: 429,
    retryAfter: new Date(clock.now() - 3_600_000).toUTCString(),
  }),
  "503, Retry-After: a past date": (clock) => ({
    kind: "status",
    status: 503,
    retryAfter: new Date(clock.now() - 3_600_000).toUTCString(),
  }),
};

for (const endpoint of ["symbol", "scan"] as const) {
  for (const [what, fault] of Object.entries(ALWAYS_429)) {
    Deno.test(`a server that only says ${what} (${endpoint}): the run ends once --max-throttle-s is spent, after few requests`, async () => {
      await using project = await tempProject();
      const clock = new ScaledClock(100);
      await using mirror = startMirror({ clock, fault: () => fault(clock) });
      const symbols = [
        ...mirrorSymbols(["NASDAQ"]).slice(0, 5),
        ...mirrorSymbols(["BINANCE"]).slice(0, 5),
      ];
      const report = await runJob(
        runOptions([
          "--symbols",
          symbols.join(","),
          "--base-url",
          mirror.url,
          "--endpoint",
          endpoint,
          "--max-throttle-s",
          "30",
        ]),
        {
          log: memoryLogger(),
          root: project.dir,
          client: { clock },
          signal: AbortSignal.timeout(HANG_STOPPER_MS),
        },
      );
      assert.equal(report.exit_code, 1, report.error ?? "");
      assert.match(
        report.error ?? "",
        /^throttled: 127\.0\.0\.1:\d+ kept throttling after 30 s of pauses \(--max-throttle-s\)/,
      );
      assert.ok(report.failed.every((f) => f.reason === report.error));
      // Pauses of at least 1 s, doubled per failed probe (1, 2, 4, 8, then
      // the 15 s left): five pauses spend the 30 s, one probe each.
      assert.equal(report.http.pauses, 5);
      const first = endpoint === "symbol" ? 3 : 2; // one wave: 3 workers, or 2 markets
      assert.ok(
        mirror.stats.requests <= first + report.http.pauses,
        `${mirror.stats.requests} requests`,
      );
      assert.equal(report.http.requests, mirror.stats.requests);
    });
  }
}

for (const endpoint of ["symbol", "scan"] as const) {
  Deno.test(`a server that allows 2 a second and says Retry-After: 0 (${endpoint}): 10 symbols in at most 25 requests`, async () => {
    await using project = await tempProject();
    const clock = new ScaledClock(20);
    await using mirror = startMirror({ clock, rate: 2, retryAfter: "zero", latencyMs: 20 });
    const symbols = [
      ...mirrorSymbols(["NASDAQ"]).slice(0, 5),
      ...mirrorSymbols(["BINANCE"]).slice(0, 5),
    ];
    const report = await runJob(
      runOptions([
        "--symbols",
        symbols.join(","),
        "--base-url",
        mirror.url,
        "--endpoint",
        endpoint,
      ]),
      {
        log: memoryLogger(),
        root: project.dir,
        client: { clock },
        signal: AbortSignal.timeout(HANG_STOPPER_MS),
      },
    );
    assert.equal(report.exit_code, 0, report.error ?? "");
    assert.equal(report.fetched, 10);
    assert.ok(mirror.stats.requests <= 25, `${mirror.stats.requests} requests`);
  });
}

Deno.test("one network blip that drops every request in flight (--workers 6) is not a lost server", async () => {
  await using project = await tempProject();
  // Requests 7-12, the second wave of six, all hang until they time out.
  await using mirror = startMirror({
    fault: ({ request }) => (request > 6 && request <= 12 ? { kind: "hang" } : undefined),
  });
  const symbols = mirrorSymbols(["NYSE"]).slice(0, 30).join(",");
  const log = memoryLogger();
  const report = await runJob(
    runOptions([
      "--symbols",
      symbols,
      "--base-url",
      mirror.url,
      "--workers",
      "6",
      "--timeout-ms",
      "1000",
    ]),
    { log, root: project.dir, client: { backoffBaseMs: 10 } },
  );
  assert.equal(report.error, null);
  assert.equal(report.exit_code, 0);
  assert.equal(report.fetched, 30);
  assert.equal(mirror.stats.hangs, 6, "the blip dropped six requests at once");
  assert.ok(!log.lines.some((l) => /stopped answering/.test(l)), log.lines.join("\n"));
});

Deno.test("Ctrl-C aborting requests in flight is 'cancelled', never 'no answer'", async () => {
  await using mirror = startMirror({ fault: () => ({ kind: "hang" }) });
  const stop = new AbortController();
  const events: string[] = [];
  const client = new TradingViewClient({
    baseUrl: mirror.url,
    ...short,
    workers: 6,
    signal: stop.signal,
    onEvent: (e) => events.push(e),
  });
  const fetching = fetchAll(client, mirrorSymbols(["NYSE"]).slice(0, 12), 6);
  while (mirror.stats.inFlight < 6) await new Promise((resolve) => setTimeout(resolve, 5));
  stop.abort("SIGINT");
  const outcomes = await fetching;
  assert.ok(outcomes.every((o) => o.kind === "failed" && o.reason === "cancelled"));
  assert.equal(client.halt, null, "the server is not judged by our own Ctrl-C");
  assert.deepEqual(events, []);
  assert.equal(client.stats.requests, 6);
});

Deno.test("a pause nobody waits for is neither announced nor counted as paused", async () => {
  await using project = await tempProject();
  // The run's only request gets a 429 saying "come back in 46 s", and has no
  // retry left: the run ends at once. It paused nobody.
  await using mirror = startMirror({
    fault: () => ({ kind: "status", status: 429, retryAfter: "46" }),
  });
  const log = memoryLogger();
  const report = await runJob(
    runOptions([
      "--symbols",
      "NASDAQ:AAPL",
      "--base-url",
      mirror.url,
      "--max-retries",
      "0",
      "--workers",
      "1",
    ]),
    { log, root: project.dir },
  );
  assert.equal(report.exit_code, 1);
  assert.equal(report.http.requests, 1);
  assert.ok(
    report.http.paused_ms <= report.duration_ms,
    `paused ${report.http.paused_ms} ms in a run of ${report.duration_ms} ms`,
  );
  assert.ok(!log.lines.some((l) => /pausing all requests/.test(l)), log.lines.join("\n"));
  // And the progress line's source says the same.
  const client = new TradingViewClient({ baseUrl: mirror.url, ...short, maxRetries: 0 });
  await client.fetchSymbol("NASDAQ:AAPL");
  assert.equal(client.breaker.state, "open");
  assert.equal(client.pausedFor(), 0, "nobody waits: no 'paused by the server' on the line");
});

cliTest(
  "a loopback --base-url under the production set: the denial is named, never retried",
  async (cli: Cli) => {
    await using project = await tempProject();
    await using mirror = startMirror();
    const symbols = mirrorSymbols(["NASDAQ"]).slice(0, 10).join(",");
    const result = await cli.run(["--symbols", symbols, "--base-url", mirror.url, "--json"], {
      cwd: project.dir,
      set: "ingest",
    });
    assert.equal(result.code, 1, result.stderr);
    const report = JSON.parse(result.stdout);
    assert.match(
      report.error,
      /^permission denied: Deno refused network access to 127\.0\.0\.1:\d+/,
    );
    assert.match(report.error, /deno task ingest:local/);
    assert.equal(report.http.retries, 0, "never retried");
    assert.ok(report.http.requests <= 3, "one attempt per worker at most");
    assert.equal(mirror.stats.requests, 0);
  },
);
