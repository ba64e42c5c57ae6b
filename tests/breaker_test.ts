/**
 * The server breaker and the pacer on their own: pure state, explicit clocks.
 */
import assert from "node:assert/strict";
import { ServerBreaker } from "../lib/fetch/breaker.ts";
import { Pacer } from "../lib/fetch/pacer.ts";

const noJitter = { random: () => 0 };

Deno.test("breaker: soft throttles open it after 3 in a row from 2 or more requests", () => {
  const breaker = new ServerBreaker("h", noJitter);
  assert.equal(breaker.throttled(0, "empty", "A", false), false, "charged to A");
  assert.equal(breaker.throttled(1, "empty", "A", false), false);
  assert.equal(breaker.throttled(2, "empty", "A", false), false, "one request alone never trips");
  assert.equal(breaker.state, "closed");
  assert.equal(breaker.throttled(3, "empty", "B", false), true, "this one tripped: free");
  assert.equal(breaker.state, "open");
  assert.equal(breaker.spentMs, 10_000, "the budget is spent when the pause begins");
  assert.deepEqual(breaker.stats, { status403: 0, empty_bodies: 4, pauses: 1, paused_ms: 0 });
  breaker.settle(4_003);
  assert.equal(breaker.stats.paused_ms, 4_000, "paused_ms is the time paused so far");
  breaker.settle(50_000);
  assert.equal(breaker.stats.paused_ms, 10_000);
});

Deno.test("breaker: a good answer in between breaks the run", () => {
  const breaker = new ServerBreaker("h", noJitter);
  breaker.throttled(0, "empty", "A", false);
  breaker.throttled(1, "empty", "B", false);
  breaker.good(false);
  breaker.throttled(2, "empty", "C", false);
  breaker.throttled(3, "empty", "D", false);
  assert.equal(breaker.state, "closed");
});

Deno.test("breaker: one probe after the pause; a good answer closes, a throttle doubles the pause", () => {
  const breaker = new ServerBreaker("h", { ...noJitter, pauseBaseMs: 100 });
  for (const label of ["A", "B", "C"]) breaker.throttled(0, "empty", label, false);
  assert.deepEqual(breaker.gate(50), { kind: "wait", ms: 50 });
  assert.deepEqual(breaker.gate(100), { kind: "probe" });
  assert.equal(breaker.state, "half_open");
  assert.deepEqual(breaker.gate(100), { kind: "wait", ms: Infinity }, "exactly one probe");
  assert.equal(
    breaker.throttled(101, "empty", "X", false),
    false,
    "an answer sent before: stale, and it costs its request an attempt",
  );
  assert.equal(breaker.state, "half_open");
  breaker.throttled(150, "empty", "A", true);
  assert.equal(breaker.state, "open");
  assert.equal(breaker.openUntil, 350, "second pause: 200 ms");
  assert.deepEqual(breaker.gate(350), { kind: "probe" });
  breaker.good(true);
  assert.equal(breaker.state, "closed");
  assert.deepEqual(breaker.gate(351), { kind: "go" });
  breaker.settle(351);
  assert.deepEqual([breaker.stats.pauses, breaker.stats.paused_ms], [2, 300]);
});

Deno.test("breaker: a failed probe of another kind lets another probe go", () => {
  const breaker = new ServerBreaker("h", { ...noJitter, pauseBaseMs: 10, minPauseMs: 10 });
  breaker.throttled(0, "429", "A", false, 10);
  assert.deepEqual(breaker.gate(10), { kind: "probe" });
  breaker.failed(true); // a 502
  assert.equal(breaker.state, "half_open");
  assert.deepEqual(breaker.gate(11), { kind: "probe" });
});

Deno.test("breaker: a 429 opens at once for its Retry-After (capped)", () => {
  const breaker = new ServerBreaker("h", { ...noJitter, retryAfterCapMs: 5_000 });
  assert.equal(breaker.throttled(0, "429", "A", false, 60_000), true);
  assert.equal(breaker.openUntil, 5_000);
  assert.equal(
    breaker.throttled(10, "429", "B", false, 1_000),
    false,
    "a 429 to a request sent before the pause costs that request an attempt",
  );
  assert.equal(breaker.openUntil, 5_000, "in-flight 429s do not shorten or stack the pause");
});

for (
  const [what, retryAfterMs] of [["Retry-After: 0", 0], ["a past date", 0], ["1 ms", 1]] as const
) {
  Deno.test(`breaker: a 429 with ${what} pauses at least the minimum, doubled per failed probe`, () => {
    const breaker = new ServerBreaker("h", noJitter);
    breaker.throttled(0, "429", "A", false, retryAfterMs);
    assert.equal(breaker.openUntil, 1_000, "the minimum pause (1 s)");
    assert.deepEqual(breaker.gate(999), { kind: "wait", ms: 1 });
    assert.deepEqual(breaker.gate(1_000), { kind: "probe" });
    breaker.throttled(1_000, "429", "A", true, retryAfterMs);
    assert.equal(breaker.openUntil, 3_000, "a failed probe doubles it");
    breaker.gate(3_000);
    breaker.throttled(3_000, "429", "A", true, retryAfterMs);
    assert.equal(breaker.openUntil, 7_000);
  });
}

Deno.test("breaker: a server that only says 429 with Retry-After: 0 spends the budget in few probes", () => {
  const breaker = new ServerBreaker("h", { ...noJitter, maxPausedMs: 30_000 });
  let now = 0;
  let probes = 0;
  assert.equal(breaker.throttled(now, "429", "A", false, 0), true, "opens a pause: free");
  while (!breaker.halt) {
    const gate = breaker.gate(now);
    if (gate.kind === "wait") {
      now += gate.ms;
      continue;
    }
    assert.equal(gate.kind, "probe");
    probes++;
    assert.equal(breaker.throttled(now, "429", "A", true, 0), true);
  }
  assert.equal(breaker.halt?.kind, "budget");
  assert.match(breaker.halt?.reason ?? "", /^throttled: h kept throttling after 30 s of pauses/);
  // Pauses of 1, 2, 4, 8 and the 15 s left: five probes, the last one halts.
  assert.equal(probes, 5);
  assert.equal(now, 30_000);
  assert.equal(breaker.spentMs, 30_000);
});

Deno.test("breaker: a pause nobody waits for stops counting into paused_ms", () => {
  const breaker = new ServerBreaker("h", { ...noJitter, pauseBaseMs: 10_000 });
  for (const label of ["A", "B", "C"]) breaker.throttled(0, "empty", label, false);
  assert.equal(breaker.pausing(1), true);
  breaker.setActive(3_000, false); // the run's last request ended
  assert.equal(breaker.pausing(3_001), false);
  breaker.settle(20_000);
  assert.equal(breaker.stats.paused_ms, 3_000);
  assert.equal(breaker.spentMs, 10_000);
});

Deno.test("breaker: 403 on every request across two pauses is a block", () => {
  const breaker = new ServerBreaker("host:1", { ...noJitter, pauseBaseMs: 10 });
  for (const label of ["A", "B", "C"]) breaker.throttled(0, "403", label, false);
  assert.equal(breaker.state, "open");
  breaker.gate(10);
  breaker.throttled(11, "403", "A", true);
  assert.equal(breaker.halt, null, "one pause outlasted is not yet a block");
  breaker.gate(31);
  breaker.throttled(32, "403", "A", true);
  const halt = breaker.halt as { kind: string; reason: string } | null;
  assert.equal(halt?.kind, "blocked");
  assert.equal(
    halt?.reason,
    "blocked: host:1 answered HTTP 403 to 5 requests in a row across 2 pauses; stopped sending",
  );
  assert.equal(breaker.stats.status403, 5);
});

Deno.test("breaker: scattered 403s between good answers never block", () => {
  const breaker = new ServerBreaker("h", noJitter);
  for (let i = 0; i < 100; i++) {
    if (i % 10 === 0) breaker.throttled(i, "403", `S${i}`, false);
    else breaker.good(false);
  }
  assert.deepEqual([breaker.state, breaker.halt, breaker.stats.pauses], ["closed", null, 0]);
});

Deno.test("breaker: the first attempts failing without an answer make the host unreachable", () => {
  const breaker = new ServerBreaker("h:9", noJitter);
  breaker.unanswered(false, "Connection refused (os error 111)", false);
  breaker.unanswered(false, "Connection refused (os error 111)", false);
  assert.equal(breaker.halt, null);
  breaker.unanswered(false, "Connection refused (os error 111)", false);
  assert.deepEqual(breaker.halt, {
    kind: "unreachable",
    reason: "cannot reach h:9: Connection refused (os error 111) (3 attempts, no answer)",
  });
  const silent = new ServerBreaker("h:9", noJitter);
  for (let i = 0; i < 3; i++) silent.unanswered(true, "no answer within 500 ms", false);
  assert.equal(
    silent.halt?.reason,
    "h:9 does not answer: 3 requests in a row timed out (no answer within 500 ms)",
  );
  const answered = new ServerBreaker("h", noJitter);
  answered.good(false);
  for (let i = 0; i < 10; i++) answered.unanswered(true, "no answer", false, "A");
  assert.equal(answered.halt, null, "after an answer, one request's failures are its own");
  answered.unanswered(true, "no answer", false, "B");
  assert.equal(
    (answered.halt as { reason: string } | null)?.reason,
    "h stopped answering: 11 requests in a row got no answer (no answer); stopped sending",
  );
});

Deno.test("breaker: one blip that drops every request in flight is one failure, not a lost server", () => {
  const breaker = new ServerBreaker("h", noJitter);
  breaker.good(false);
  // Eight requests sent at 100..107 all fail at once at 200.
  for (let i = 0; i < 8; i++) {
    breaker.unanswered(false, "connection reset", false, `S${i}`, 200, 100 + i);
  }
  assert.equal(breaker.halt, null, "one blip");
  // Their retries, sent after the blip, fail too: now the server is gone.
  for (let i = 0; i < 4; i++) {
    breaker.unanswered(false, "connection reset", false, `S${i}`, 300, 250);
  }
  assert.equal(breaker.halt, null, "5 so far");
  breaker.unanswered(false, "connection reset", false, "S4", 300, 250);
  assert.equal((breaker.halt as { kind: string } | null)?.kind, "lost");
  const recovered = new ServerBreaker("h", noJitter);
  recovered.good(false);
  for (let i = 0; i < 8; i++) recovered.unanswered(true, "x", false, `S${i}`, 200, 100);
  recovered.good(false);
  for (let i = 0; i < 5; i++) recovered.unanswered(true, "x", false, `S${i}`, 400, 300);
  assert.equal(recovered.halt, null, "a good answer starts the count over");
});

Deno.test("breaker: a permission denial halts at once", () => {
  const breaker = new ServerBreaker("h", noJitter);
  breaker.deny("permission denied: ...");
  assert.deepEqual(breaker.halt, { kind: "denied", reason: "permission denied: ..." });
});

Deno.test("breaker: pauses stop at the budget", () => {
  const breaker = new ServerBreaker("h", { ...noJitter, pauseBaseMs: 100, maxPausedMs: 250 });
  for (const label of ["A", "B", "C"]) breaker.throttled(0, "empty", label, false);
  breaker.gate(100);
  breaker.throttled(101, "empty", "A", true);
  assert.equal(breaker.openUntil, 101 + 150, "the second pause is cut to what is left");
  breaker.gate(251);
  breaker.throttled(252, "empty", "A", true);
  assert.equal(breaker.halt?.kind, "budget");
  assert.match(breaker.halt?.reason ?? "", /^throttled: h kept throttling after 0 s of pauses/);
  assert.equal(breaker.spentMs, 250);
  breaker.settle(1_000);
  assert.equal(breaker.stats.paused_ms, 250);
});

Deno.test("breaker: options are checked and the error names the bad value", () => {
  assert.throws(
    () => new ServerBreaker("h", { tripAfter: 0 }),
    /tripAfter must be a whole number >= 1, got 0/,
  );
  assert.throws(
    () => new Pacer({ resumeRate: -1 }),
    /resumeRate must be a positive number, got -1/,
  );
  assert.throws(() => new Pacer({ maxInFlight: 1.5 }), /maxInFlight must be a whole number/);
});

Deno.test("pacer: unpaced until a trip, then slow start that grows additively", () => {
  const pacer = new Pacer({ maxInFlight: 3 });
  assert.equal(pacer.reserve(0), 0);
  assert.equal(pacer.reserve(0), 0);
  assert.equal(pacer.limit, Infinity);
  pacer.trip(100, 10_000, "soft");
  assert.deepEqual([pacer.rate, pacer.limit], [1, 1]);
  assert.equal(pacer.reserve(10_000), 0);
  assert.equal(pacer.reserve(10_000), 1000, "about one start per second");
  pacer.success();
  pacer.success();
  assert.deepEqual([pacer.rate, pacer.limit], [2, 2]);
  for (let i = 0; i < 10; i++) pacer.success();
  assert.equal(pacer.limit, 3, "never above --workers");
  pacer.trip(20_000, 30_000, "soft");
  assert.equal(pacer.rate, 0.5, "a second trip restarts from a slower rate");
  assert.equal(pacer.limit, 1);
});

Deno.test("pacer: after a soft throttle the learnt ceiling holds; after a 429 it may creep", () => {
  const soft = new Pacer();
  for (let i = 0; i < 20; i++) soft.reserve(0), soft.success();
  soft.trip(400, 10_000, "soft"); // 20 good answers over 10 s
  assert.equal(Math.round(soft.ceiling * 100) / 100, 1.9);
  for (let i = 0; i < 50; i++) soft.success();
  assert.equal(soft.rate, soft.ceiling);
  const explicit = new Pacer();
  for (let i = 0; i < 20; i++) explicit.reserve(0), explicit.success();
  explicit.trip(400, 10_000, "explicit");
  for (let i = 0; i < 50; i++) explicit.success();
  assert.ok(explicit.rate > explicit.ceiling);
});

Deno.test("pacer: after a 429 that said when, the pool resumes at the pace the server sustained, with every slot", () => {
  const pacer = new Pacer({ maxInFlight: 3 });
  for (let i = 0; i < 4; i++) pacer.reserve(0), pacer.success();
  pacer.trip(400, 1_400, "explicit");
  assert.deepEqual([pacer.rate, pacer.limit], [1, 1], "held slow until the pause is over");
  pacer.answeredWhilePaused(); // two answers sent before the pause came back good
  pacer.answeredWhilePaused();
  pacer.reserve(1_400); // the probe
  pacer.resume(1_500); // 6 good answers in 1.5 s: 4/s, 95% of it
  assert.equal(Math.round(pacer.ceiling * 100) / 100, 3.8);
  assert.deepEqual([pacer.rate, pacer.limit], [pacer.ceiling, 3], "no slow start");
  pacer.success();
  assert.equal(pacer.limit, 3, "a good answer never lowers the in-flight cap");
  const unknown = new Pacer({ maxInFlight: 3 });
  unknown.reserve(0);
  unknown.trip(10, 1_010, "explicit"); // too little to measure
  unknown.resume(1_010);
  assert.deepEqual([unknown.rate, unknown.limit], [1, 1], "slow start without a measure");
  const soft = new Pacer({ maxInFlight: 3 });
  for (let i = 0; i < 6; i++) soft.reserve(0), soft.success();
  soft.trip(400, 1_400, "soft");
  soft.resume(1_400);
  assert.deepEqual([soft.rate, soft.limit], [soft.ceiling / 2, 1], "soft throttles slow-start");
});
