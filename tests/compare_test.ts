/**
 * One definition of "the same value" (lib/record/compare.ts): the merge's
 * SQL, probe and the spot check cannot drift apart.
 */
import assert from "node:assert/strict";
import { type FIELD_RULES, normalised, sameValue } from "../lib/record/compare.ts";
import { TIMEZONE_ALIASES } from "../lib/record/timezones.ts";
import { normalisedSql } from "../lib/catalog/sql.ts";
import { query } from "../testing/catalog.ts";

Deno.test("spellings are not differences; numbers within 1e-12 are equal; null is a value", () => {
  assert.ok(sameValue("timezone", "Etc/UTC", "UTC"));
  assert.ok(sameValue("subtype", "Common", "common"));
  assert.ok(sameValue("type", "Stock", "stock"));
  assert.ok(!sameValue("description", "Apple", "apple"), "other text is compared exactly");
  assert.ok(sameValue("tick_size", 0.1, 0.1 + 1e-15));
  assert.ok(!sameValue("tick_size", 0.1, 0.1001));
  assert.ok(sameValue("sector", null, null));
  assert.ok(!sameValue("pricescale", 100, null));
  assert.ok(!sameValue("root", null, "ES"), "without learning, a new value differs");
  assert.ok(sameValue("root", null, "ES", { learning: true }), "learned, not a change");
  assert.ok(!sameValue("root", "NQ", "ES", { learning: true }), "a real change stays one");
  assert.ok(!sameValue("description", null, "x", { learning: true }), "only learned fields learn");
});

Deno.test("the merge's SQL normalises exactly as the TypeScript does", async () => {
  const cases: [string, string][] = [
    ...Object.keys(TIMEZONE_ALIASES).map((zone) => ["timezone", zone] as [string, string]),
    ["timezone", "Europe/Berlin"],
    ["subtype", "Common"],
    ["type", "FUTURES"],
    ["description", "Apple Inc."],
  ];
  for (const [field, value] of cases) {
    const [{ v }] = await query(`SELECT ${normalisedSql(field, "$1")} AS v`, [value]);
    assert.equal(v, normalised(field as keyof typeof FIELD_RULES, value), `${field} ${value}`);
  }
});
