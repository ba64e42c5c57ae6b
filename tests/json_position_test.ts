import assert from "node:assert/strict";
import { locateJsonError } from "../lib/input/json_position.ts";

Deno.test("valid JSON has no error location", () => {
  for (
    const text of ["[]", "{}", ' [1, "a", {"b": [true, null, -1.5e3]}] ', '"x"', "0", '{"a":{}}']
  ) {
    assert.equal(locateJsonError(text), null, text);
  }
});

Deno.test("the first bad character is located by line and column", () => {
  assert.deepEqual(locateJsonError('[\n  "A:B",\n  oops\n]'), {
    offset: 13,
    line: 3,
    column: 3,
    found: "'o'",
  });
  assert.equal(locateJsonError("[1,]")?.column, 4);
  assert.equal(locateJsonError('{"a" 1}')?.column, 6);
  assert.equal(locateJsonError("[1] x")?.column, 5);
  assert.equal(locateJsonError("[01]")?.column, 3);
  assert.equal(locateJsonError('["a\u0001"]')?.column, 4, "at the control character itself");
  assert.equal(locateJsonError('["a\\x"]')?.column, 4, "at a bad escape");
});

Deno.test("a huge unterminated string is located, not a stack overflow", () => {
  const text = '["' + "a".repeat(15_000_000);
  assert.deepEqual(locateJsonError(text)?.found, "end of input");
});

Deno.test("truncated input is reported at its end", () => {
  assert.equal(locateJsonError('["A:B"')?.found, "end of input");
  assert.equal(locateJsonError("")?.found, "end of input");
  assert.equal(locateJsonError("   ")?.found, "end of input");
});

Deno.test("agrees with JSON.parse on random mutations", () => {
  let seed = 42;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const base =
    '{"data": [["A:B", 1.5, -2e3], {"symbol": "X:Y", "n": null}, true, false, "\\u00e9"]}';
  const alphabet = '[]{}:,"\\ 0123456789.eE+-tfnulrsa\n';
  for (let n = 0; n < 3000; n++) {
    const chars = [...base];
    const edits = 1 + Math.floor(rand() * 3);
    for (let e = 0; e < edits; e++) {
      const at = Math.floor(rand() * chars.length);
      const op = rand();
      const ch = alphabet[Math.floor(rand() * alphabet.length)];
      if (op < 0.33) chars.splice(at, 1);
      else if (op < 0.66) chars.splice(at, 0, ch);
      else chars[at] = ch;
    }
    const text = chars.join("");
    let valid = true;
    try {
      JSON.parse(text);
    } catch {
      valid = false;
    }
    assert.equal(locateJsonError(text) === null, valid, text);
  }
});
