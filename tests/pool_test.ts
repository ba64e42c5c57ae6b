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
  // Each call waits until the test releases it, so the order is the test's,
  // not the timers'.
  const flush = () => delay(0);
  for (const limit of [1, 2, 3, 7]) {
    const items = Array.from({ length: 20 }, (_, i) => i);
    const started: number[] = [];
    const release = new Map<number, () => void>();
    const done = Array.fromAsync(pooledMap(limit, items, async (i) => {
      started.push(i);
      await new Promise<void>((resolve) => release.set(i, resolve));
      release.delete(i);
      return i;
    }));
    await flush();
    assert.deepEqual(started, items.slice(0, limit), `limit ${limit}: the pool fills at once`);
    // Release one call at a time, the newest first: each release starts
    // exactly the next item, so the pool stays full until the items run out.
    for (let finished = 1; finished <= items.length; finished++) {
      const newest = Math.max(...release.keys());
      release.get(newest)!();
      await flush();
      const expected = Math.min(items.length, limit + finished);
      assert.deepEqual(started, items.slice(0, expected), `limit ${limit}, ${finished} finished`);
      assert.equal(release.size, expected - finished, `limit ${limit}: calls in flight`);
      assert.ok(release.size <= limit);
    }
    assert.deepEqual(await done, items);
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
