import assert from "node:assert/strict";
import { ERROR_WHILE_MAPPING_MESSAGE, pooledMap } from "../lib/std/pool.ts";

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("results come in input order, whatever order they finish in", async () => {
  const results = await Array.fromAsync(
    pooledMap(3, [50, 10, 30, 0, 20], async (ms) => {
      await delay(ms);
      return ms;
    }),
  );
  assert.deepEqual(results, [50, 10, 30, 0, 20]);
});

Deno.test("never more than poolLimit calls in flight, and the pool is kept full", async () => {
  for (const limit of [1, 2, 3, 7]) {
    let inFlight = 0;
    let highest = 0;
    const started: number[] = [];
    const t0 = performance.now();
    await Array.fromAsync(pooledMap(limit, Array.from({ length: 20 }, (_, i) => i), async (i) => {
      inFlight++;
      highest = Math.max(highest, inFlight);
      started.push(performance.now() - t0);
      await delay(5 + (i % 3) * 5);
      inFlight--;
      return i;
    }));
    assert.equal(highest, limit, `limit ${limit}`);
  }
});

Deno.test("async iterables are consumed too", async () => {
  async function* source() {
    for (let i = 0; i < 5; i++) {
      await delay(1);
      yield i;
    }
  }
  assert.deepEqual(await Array.fromAsync(pooledMap(2, source(), (n) => Promise.resolve(n * 2))), [
    0,
    2,
    4,
    6,
    8,
  ]);
});

Deno.test("work starts before iteration does", async () => {
  let calls = 0;
  const iterator = pooledMap(2, [1, 2, 3], (n) => {
    calls++;
    return Promise.resolve(n);
  });
  await delay(5);
  assert.equal(calls, 3);
  assert.deepEqual(await Array.fromAsync(iterator), [1, 2, 3]);
});

Deno.test("on a rejection: no new item starts, in-flight ones finish, one AggregateError", async () => {
  const startedItems: number[] = [];
  const finishedItems: number[] = [];
  const yielded: number[] = [];
  const iterator = pooledMap(2, [1, 2, 3, 4, 5, 6], async (n) => {
    startedItems.push(n);
    if (n === 2) {
      await delay(5);
      throw new Error("two failed");
    }
    if (n === 3) {
      await delay(20);
      throw new Error("three failed");
    }
    await delay(1);
    finishedItems.push(n);
    return n;
  });
  let caught: unknown;
  try {
    for await (const n of iterator) yielded.push(n);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof AggregateError);
  assert.equal(caught.message, ERROR_WHILE_MAPPING_MESSAGE);
  assert.deepEqual(caught.errors.map((e: Error) => e.message).sort(), [
    "three failed",
    "two failed",
  ]);
  assert.deepEqual(startedItems, [1, 2, 3]);
  assert.deepEqual(yielded, [1]);
  assert.deepEqual(finishedItems, [1]);
});

Deno.test("invalid pool limits are refused", () => {
  assert.throws(() => pooledMap(0, [], () => Promise.resolve(0)), RangeError);
  assert.throws(() => pooledMap(1.5, [], () => Promise.resolve(0)), RangeError);
});
