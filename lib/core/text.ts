/**
 * Text from outside (files, the API, lock files, errors) made safe to print
 * on a terminal.
 *
 * Promises: {@linkcode printable} returns text without any C0 or C1 control,
 * DEL, line/paragraph separator or bidi control: each is shown as a visible
 * escape (`\x1b`, `\u202e`), so a string cannot move the cursor, set the
 * title, clear the screen, start a new line or reorder what follows it. The
 * result is capped in length. It is for display only: reports keep exact
 * values.
 *
 * @example
 * ```ts
 * import { printable } from "./text.ts";
 * printable("ok\x1b]0;pwned\x07"); // "ok\\x1b]0;pwned\\x07"
 * ```
 *
 * @module
 */

/** Default cap, in characters, of {@linkcode printable}'s output (before the "more" note). */
export const PRINTABLE_MAX = 200;

// C0, DEL, C1, the Unicode line/paragraph separators, and the bidi controls
// (ALM, LRM, RLM, LRE..RLO, LRI..PDI).
// deno-lint-ignore no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

function escapeChar(char: string): string {
  const code = char.charCodeAt(0);
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, "0")}`
    : `\\u${code.toString(16).padStart(4, "0")}`;
}

/**
 * `text` with every control and bidi character escaped visibly, cut to at most
 * `maxLength` characters of escaped text plus a note of how much was cut.
 *
 * @example
 * ```ts
 * import { printable } from "./text.ts";
 * printable("abc\u202edef");   // "abc\\u202edef"
 * printable("x".repeat(10), 4); // "xxxx... (6 more)"
 * ```
 */
export function printable(text: string, maxLength: number = PRINTABLE_MAX): string {
  const escaped = text.replace(UNSAFE, escapeChar);
  if (escaped.length <= maxLength) return escaped;
  // Never cut inside an escape or a surrogate pair.
  let cut = maxLength;
  const tail = escaped.slice(Math.max(0, cut - 5), cut);
  const slash = tail.lastIndexOf("\\");
  if (slash !== -1 && /^\\(x[0-9a-f]?|u[0-9a-f]{0,3})?$/.test(tail.slice(slash))) {
    cut -= tail.length - slash;
  }
  const code = escaped.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut--;
  return `${escaped.slice(0, cut)}... (${escaped.length - cut} more)`;
}

/**
 * A URL with its user name and password (if any) replaced by `***`, for
 * logs: a `--base-url` may carry credentials.
 *
 * @example
 * ```ts
 * import { redactUrl } from "./text.ts";
 * redactUrl("https://user:pass@host/api"); // "https://***@host/api"
 * ```
 */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.username && !parsed.password) return url;
    parsed.username = "";
    parsed.password = "";
    return parsed.href.replace("//", "//***@").replace(/\/$/, url.endsWith("/") ? "/" : "");
  } catch {
    return url.replace(/\/\/[^/@\s]*@/g, "//***@");
  }
}

/**
 * A whole number with its thousands grouped by commas, for people:
 * `100,001`. Reports and JSON keep raw numbers.
 *
 * @example
 * ```ts
 * import { grouped } from "./text.ts";
 * grouped(16777216); // "16,777,216"
 * grouped(42);       // "42"
 * ```
 */
export function grouped(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const [whole, fraction] = String(Math.abs(n)).split(".");
  const digits = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${n < 0 ? "-" : ""}${digits}${fraction === undefined ? "" : `.${fraction}`}`;
}

/**
 * A count and its noun, in the singular for exactly one: `1 symbol`,
 * `100,001 symbols`. `many` is the plural when it is not `one` + "s".
 *
 * @example
 * ```ts
 * import { counted } from "./text.ts";
 * counted(1, "symbol");           // "1 symbol"
 * counted(3, "entry", "entries"); // "3 entries"
 * ```
 */
export function counted(n: number, one: string, many = `${one}s`): string {
  return `${grouped(n)} ${n === 1 ? one : many}`;
}
