/**
 * Where JSON text stops being JSON.
 *
 * `JSON.parse` errors in V8 often quote the input instead of saying where the
 * problem is. {@linkcode locateJsonError} walks the text with the JSON grammar
 * (iteratively, so deep nesting cannot overflow the stack) and answers the
 * offset and line/column of the first character that cannot be there.
 *
 * @example
 * ```ts
 * import { locateJsonError } from "./json_position.ts";
 * locateJsonError('[1,\n oops]'); // { offset: 5, line: 2, column: 2, found: "'o'" }
 * locateJsonError("[1]");         // null
 * ```
 *
 * @module
 */

/** The first syntax error in a JSON text. */
export interface JsonErrorLocation {
  /** Index of the offending character in the text (UTF-16 code units). */
  offset: number;
  /** Its line, from 1. */
  line: number;
  /** Its column, from 1. */
  column: number;
  /** What was found there, e.g. `'o'` or `end of input`. */
  found: string;
}

type Expect = "value" | "value-or-close" | "key" | "key-or-close" | "colon" | "comma-or-close";

const WS = new Set([" ", "\t", "\n", "\r"]);
const NUMBER_RE = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/**
 * Finds the first syntax error, or null when the text is valid JSON.
 *
 * @example
 * ```ts
 * import { locateJsonError } from "./json_position.ts";
 * locateJsonError("[1,]")?.column; // 4
 * ```
 */
export function locateJsonError(text: string): JsonErrorLocation | null {
  let i = 0;
  // Stack of open containers: "[" or "{".
  const stack: string[] = [];
  // What the grammar expects next.
  let expect: Expect = "value";
  const skipWs = () => {
    while (i < text.length && WS.has(text[i])) i++;
  };
  const fail = (): JsonErrorLocation => {
    const before = text.slice(0, i);
    const line = before.split("\n").length;
    const column = i - before.lastIndexOf("\n");
    const found = i >= text.length
      ? "end of input"
      : JSON.stringify(text[i]).replace(/^"|"$/g, "'");
    return { offset: i, line, column, found };
  };
  const afterValue = () => {
    expect = stack.length ? "comma-or-close" : "value";
    if (!stack.length) return true;
    return false;
  };
  for (;;) {
    skipWs();
    // A complete top-level value returns through trailing(); ending here is truncation.
    if (i >= text.length) return fail();
    const c = text[i];
    // `expect` is also set inside afterValue(), which narrowing cannot see.
    switch (expect as Expect) {
      case "value":
      case "value-or-close": {
        if (expect === "value-or-close" && c === "]") {
          stack.pop();
          i++;
          if (afterValue()) return trailing();
          break;
        }
        if (c === "[") {
          stack.push("[");
          i++;
          expect = "value-or-close";
          break;
        }
        if (c === "{") {
          stack.push("{");
          i++;
          expect = "key-or-close";
          break;
        }
        if (!scanScalar()) return fail();
        if (afterValue()) return trailing();
        break;
      }
      case "key":
      case "key-or-close": {
        if (expect === "key-or-close" && c === "}") {
          stack.pop();
          i++;
          if (afterValue()) return trailing();
          break;
        }
        if (c !== '"' || !scanString()) return fail();
        expect = "colon";
        break;
      }
      case "colon":
        if (c !== ":") return fail();
        i++;
        expect = "value";
        break;
      case "comma-or-close": {
        const open = stack[stack.length - 1];
        if (c === ",") {
          i++;
          expect = open === "[" ? "value" : "key";
        } else if ((open === "[" && c === "]") || (open === "{" && c === "}")) {
          stack.pop();
          i++;
          if (afterValue()) return trailing();
        } else {
          return fail();
        }
        break;
      }
    }
  }

  function scanScalar(): boolean {
    for (const word of ["true", "false", "null"]) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return true;
      }
    }
    if (text[i] === '"') return scanString();
    NUMBER_RE.lastIndex = i;
    if (NUMBER_RE.test(text)) {
      i = NUMBER_RE.lastIndex;
      return true;
    }
    return false;
  }

  /** A string, scanned with a loop (a regex would recurse on a long one). */
  function scanString(): boolean {
    let j = i + 1;
    while (j < text.length) {
      const c = text.charCodeAt(j);
      if (c === 0x22) {
        i = j + 1;
        return true;
      }
      if (c < 0x20) break;
      if (c === 0x5c) {
        const e = text[j + 1];
        if (e === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(j + 2, j + 6))) break;
          j += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) {
          j += 2;
        } else {
          break;
        }
        continue;
      }
      j++;
    }
    i = j;
    return false;
  }

  function trailing(): JsonErrorLocation | null {
    skipWs();
    return i < text.length ? fail() : null;
  }
}
