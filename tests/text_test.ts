import assert from "node:assert/strict";
import { printable } from "../lib/core/text.ts";

Deno.test("printable escapes C0, DEL, C1, separators and bidi controls visibly", () => {
  assert.equal(printable("a\x1b]0;t\x07b\r\n\t"), "a\\x1b]0;t\\x07b\\x0d\\x0a\\x09");
  assert.equal(printable("\x7f\x9b2J"), "\\x7f\\x9b2J");
  assert.equal(
    printable("abc\u202eabc\u2066\u200f\u061c\u2028"),
    "abc\\u202eabc\\u2066\\u200f\\u061c\\u2028",
  );
  assert.equal(printable("Apple Inc. ß €"), "Apple Inc. ß €", "ordinary text is left alone");
});

Deno.test("printable caps the length without cutting an escape or a surrogate pair", () => {
  assert.equal(printable("x".repeat(10), 4), "xxxx... (6 more)");
  assert.equal(printable("ab\x1b", 4), "ab... (4 more)");
  assert.equal(printable("a😀b", 2), "a... (3 more)");
  assert.ok(printable("y".repeat(10_000)).length < 220);
});
