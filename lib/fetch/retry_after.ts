/**
 * Reading a `Retry-After` header.
 *
 * Promises: both forms of RFC 9110 are understood (delay-seconds and an
 * HTTP-date); anything else, or no header, is `null`, never a guess.
 *
 * @module
 */

/**
 * Parses a Retry-After header value into milliseconds from `now`, or null
 * when absent or unreadable. A date in the past is 0.
 *
 * @example
 * ```ts
 * import { parseRetryAfter } from "./retry_after.ts";
 * parseRetryAfter("2", 0);                               // 2000
 * parseRetryAfter("Thu, 01 Jan 1970 00:00:05 GMT", 0);   // 5000
 * parseRetryAfter("soon", 0);                            // null
 * ```
 */
export function parseRetryAfter(value: string | null, now: number): number | null {
  if (value === null) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  if (!/[a-z]/i.test(text)) return null;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - now);
}
