/**
 * Reading a whole byte stream with a size cap enforced while reading, so a
 * file that grows under us, or an endless HTTP body, is refused rather than
 * buffered.
 *
 * Promises: answers every byte when there are at most `maxBytes`; otherwise
 * cancels the stream and answers null, having held at most `maxBytes` plus
 * one chunk.
 *
 * @example
 * ```ts
 * import { readCapped } from "./read_capped.ts";
 * const bytes = await readCapped(new Response("hello").body!, 1024); // Uint8Array(5)
 * ```
 *
 * @module
 */

/**
 * Reads `stream` to its end, or gives up (null) past `maxBytes`.
 *
 * @example
 * ```ts
 * import { readCapped } from "./read_capped.ts";
 * await readCapped(new Response("x".repeat(10)).body!, 5); // null
 * ```
 */
export async function readCapped(
  stream: ReadableStream<Uint8Array>,
  maxBytes: number,
): Promise<Uint8Array | null> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > maxBytes) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}
