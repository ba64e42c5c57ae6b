import assert from "node:assert/strict";
import { memoryLogger } from "../lib/report/log.ts";
import { progressLine, startProgress } from "../lib/report/progress.ts";

Deno.test("the progress line: done/total, rate, retries, 429s, ETA", () => {
  assert.equal(
    progressLine(10, 50, 2000, { retries: 2, status429: 1 }),
    "fetching 10/50 (20%), 5.0/s, 2 retries, 1 x 429, ETA 8s",
  );
  assert.equal(
    progressLine(0, 50, 0, { retries: 0, status429: 0 }),
    "fetching 0/50 (0%), 0.0/s, 0 retries, 0 x 429",
  );
});

Deno.test("while the server has the pool paused, the line says so and for how long", () => {
  assert.equal(
    progressLine(10, 50, 2000, { retries: 2, status429: 0, pausedMs: 11_200 }),
    "fetching 10/50 (20%), 5.0/s, 2 retries, 0 x 429, paused by the server, resuming in 12s",
  );
});

Deno.test("progress is redrawn on its interval and stops when told", async () => {
  const log = memoryLogger();
  const progress = startProgress(4, log, () => ({ retries: 0, status429: 0 }), 20);
  progress.done(2);
  // Two redraws, however late a busy machine fires the timer.
  while (log.lines.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
  progress.stop();
  const drawn = log.lines.length;
  assert.ok(drawn >= 2, `${drawn} lines`);
  assert.match(log.lines.at(-1)!, /^fetched 2\/4 \(50%\)/);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(log.lines.length, drawn, "nothing after stop()");
});

Deno.test("symbols never fetched (a signal, a halt) are not progress: 42/120, not 120/120", () => {
  const log = memoryLogger();
  let now = 0;
  const progress = startProgress(120, log, () => ({ retries: 0, status429: 0 }), 60_000, () => now);
  now = 10_000;
  progress.done(42);
  progress.skipped(78); // a signal cancelled the rest
  assert.equal(log.lines.at(-1), "fetched 42/120 (35%), 4.2/s, 0 retries, 0 x 429; 78 not fetched");
  progress.stop();
  assert.equal(log.lines.length, 1, "drawn once");
});

Deno.test("once every symbol is accounted for, the line is final: a lock wait does not redraw it", async () => {
  const log = memoryLogger();
  let now = 0;
  const progress = startProgress(4, log, () => ({ retries: 1, status429: 0 }), 5, () => now);
  now = 1_000;
  progress.done(4);
  assert.equal(log.lines.at(-1), "fetched 4/4 (100%), 4.0/s, 1 retry, 0 x 429");
  const drawn = log.lines.length;
  // The run now waits for the lock: time passes, the interval would fire many times.
  now = 60_000;
  await new Promise((resolve) => setTimeout(resolve, 40));
  progress.stop();
  assert.equal(log.lines.length, drawn, "no redraw with a falling rate");
});
