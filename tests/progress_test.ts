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
  await new Promise((resolve) => setTimeout(resolve, 70));
  progress.stop();
  const drawn = log.lines.length;
  assert.ok(drawn >= 2, `${drawn} lines`);
  assert.match(log.lines.at(-1)!, /^fetched 2\/4 \(50%\)/);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(log.lines.length, drawn, "nothing after stop()");
});
