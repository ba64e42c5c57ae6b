import assert from "node:assert/strict";
import { delay } from "../lib/std/delay.ts";
import { readCapped } from "../lib/fs/read_capped.ts";

function stream(chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return ReadableStream.from(chunks.map((c) => encoder.encode(c)));
}

Deno.test("readCapped answers every byte up to the cap", async () => {
  const bytes = await readCapped(stream(["ab", "cd", "e"]), 5);
  assert.equal(new TextDecoder().decode(bytes!), "abcde");
});

Deno.test("readCapped gives up past the cap and cancels the stream", async () => {
  let cancelled = false;
  const endless = new ReadableStream<Uint8Array>({
    pull: (controller) => controller.enqueue(new Uint8Array(1024)),
    cancel: () => {
      cancelled = true;
    },
  });
  assert.equal(await readCapped(endless, 10_000), null);
  assert.ok(cancelled);
});

Deno.test("delay resolves, or rejects as soon as its signal aborts", async () => {
  await delay(5);
  const controller = new AbortController();
  setTimeout(() => controller.abort(new Error("stop")), 10);
  // A delay that ignored the signal would resolve after 10 s: no rejection.
  await assert.rejects(() => delay(10_000, { signal: controller.signal }), /stop/);
  await assert.rejects(() => delay(1, { signal: controller.signal }), /stop/, "already aborted");
});
