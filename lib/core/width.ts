/**
 * How wide text is on a terminal, in columns: what a table measures to
 * line its columns up, rather than `.length` (UTF-16 code units).
 *
 * Promises: {@linkcode displayWidth} counts East Asian wide and fullwidth
 * characters (CJK, Hangul, fullwidth forms) and emoji shown as emoji as 2,
 * combining marks, zero-width and format characters (ZWJ, variation
 * selectors) as 0, and every other character as 1, one code point at a
 * time (no grapheme clustering: a ZWJ emoji sequence counts its parts).
 * {@linkcode fitWidth} cuts text to a width, never inside a character,
 * marking the cut with `…`. Controls are not handled here: escape them
 * first (`printable` in text.ts).
 *
 * @example
 * ```ts
 * import { displayWidth } from "./width.ts";
 * displayWidth("abc");   // 3
 * displayWidth("日本");   // 4
 * displayWidth("e\u0301"); // 1 (e + combining acute)
 * ```
 *
 * @module
 */

/** Code point ranges of East Asian Wide (W) and Fullwidth (F) characters (Unicode 15, condensed). */
const WIDE: readonly (readonly [number, number])[] = [
  [0x1100, 0x115f],
  [0x231a, 0x231b],
  [0x2329, 0x232a],
  [0x23e9, 0x23ec],
  [0x23f0, 0x23f0],
  [0x23f3, 0x23f3],
  [0x25fd, 0x25fe],
  [0x2614, 0x2615],
  [0x2648, 0x2653],
  [0x267f, 0x267f],
  [0x2693, 0x2693],
  [0x26a1, 0x26a1],
  [0x26aa, 0x26ab],
  [0x26bd, 0x26be],
  [0x26c4, 0x26c5],
  [0x26ce, 0x26ce],
  [0x26d4, 0x26d4],
  [0x26ea, 0x26ea],
  [0x26f2, 0x26f3],
  [0x26f5, 0x26f5],
  [0x26fa, 0x26fa],
  [0x26fd, 0x26fd],
  [0x2705, 0x2705],
  [0x270a, 0x270b],
  [0x2728, 0x2728],
  [0x274c, 0x274c],
  [0x274e, 0x274e],
  [0x2753, 0x2755],
  [0x2757, 0x2757],
  [0x2795, 0x2797],
  [0x27b0, 0x27b0],
  [0x27bf, 0x27bf],
  [0x2b1b, 0x2b1c],
  [0x2b50, 0x2b50],
  [0x2b55, 0x2b55],
  [0x2e80, 0x303e],
  [0x3041, 0x33ff],
  [0x3400, 0x4dbf],
  [0x4e00, 0x9fff],
  [0xa000, 0xa4cf],
  [0xa960, 0xa97f],
  [0xac00, 0xd7a3],
  [0xf900, 0xfaff],
  [0xfe10, 0xfe19],
  [0xfe30, 0xfe6f],
  [0xff00, 0xff60],
  [0xffe0, 0xffe6],
  [0x16fe0, 0x16fe4],
  [0x16ff0, 0x16ff1],
  [0x17000, 0x18cd5],
  [0x18d00, 0x18d08],
  [0x1aff0, 0x1b2fb],
  [0x1f004, 0x1f004],
  [0x1f0cf, 0x1f0cf],
  [0x1f18e, 0x1f18e],
  [0x1f191, 0x1f19a],
  [0x1f200, 0x1f202],
  [0x1f210, 0x1f23b],
  [0x1f240, 0x1f248],
  [0x1f250, 0x1f251],
  [0x1f260, 0x1f265],
  [0x1f300, 0x1f64f],
  [0x1f680, 0x1f6ff],
  [0x1f7e0, 0x1f7eb],
  [0x1f90c, 0x1f9ff],
  [0x1fa70, 0x1faff],
  [0x20000, 0x2fffd],
  [0x30000, 0x3fffd],
];

/** Combining marks, format characters (ZWJ, bidi marks), variation selectors: no width. */
const ZERO = /^[\p{Mn}\p{Me}\p{Cf}]$/u;

function isWide(code: number): boolean {
  if (code < 0x1100) return false;
  let [lo, hi] = [0, WIDE.length - 1];
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [start, end] = WIDE[mid];
    if (code < start) hi = mid - 1;
    else if (code > end) lo = mid + 1;
    else return true;
  }
  return false;
}

/** Width of one code point (given as its one-character string). */
function charWidth(char: string): number {
  const code = char.codePointAt(0)!;
  if (code < 0x300) return 1; // ASCII and Latin-1: the common case, at once
  if (ZERO.test(char)) return 0;
  return isWide(code) ? 2 : 1;
}

/**
 * Columns `text` takes on a terminal; see the module doc.
 *
 * @example
 * ```ts
 * import { displayWidth } from "./width.ts";
 * displayWidth("ＡＢ"); // 4 (fullwidth)
 * ```
 */
export function displayWidth(text: string): number {
  // deno-lint-ignore no-control-regex
  if (/^[\x00-\u02ff]*$/.test(text)) return text.length;
  let width = 0;
  for (const char of text) width += charWidth(char);
  return width;
}

/**
 * `text` cut to at most `width` columns, ending in `…` when cut (so a cut
 * is always visible); text that fits is returned as it is.
 *
 * @example
 * ```ts
 * import { fitWidth } from "./width.ts";
 * fitWidth("description", 6); // "descr…"
 * fitWidth("日本語", 4);        // "日…"
 * ```
 */
export function fitWidth(text: string, width: number): string {
  if (displayWidth(text) <= width) return text;
  if (width <= 0) return "";
  let out = "";
  let used = 0;
  for (const char of text) {
    const w = charWidth(char);
    if (used + w > width - 1) break;
    out += char;
    used += w;
  }
  return `${out}…`;
}
