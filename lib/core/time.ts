/**
 * How times are written: ISO 8601 UTC, with milliseconds, or microseconds
 * (the catalog's precision) when they matter.
 *
 * @example
 * ```ts
 * import { fractionText } from "./time.ts";
 * `2026-03-01T00:00:00${fractionText("5")}Z`; // "2026-03-01T00:00:00.500Z"
 * ```
 *
 * @module
 */

/**
 * A fraction of a second (the digits after the point) as ISO text: nothing
 * when zero, else 3 digits (milliseconds) or 6 (microseconds); digits past
 * the sixth are dropped.
 *
 * @example
 * ```ts
 * import { fractionText } from "./time.ts";
 * fractionText("5");      // ".500"
 * fractionText("000001"); // ".000001"
 * fractionText("0");      // ""
 * ```
 */
export function fractionText(digits: string): string {
  const micros = digits.padEnd(6, "0").slice(0, 6);
  if (/^0+$/.test(micros)) return "";
  return `.${micros.endsWith("000") ? micros.slice(0, 3) : micros}`;
}
