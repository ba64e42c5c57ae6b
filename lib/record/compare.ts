/**
 * "The same value", defined once: for the merge's "is this a change", for
 * `probe`, and for the default endpoint's spot check of `/scan` against
 * `/symbol`.
 *
 * Promises: {@linkcode FIELD_RULES} says, per record field, how its values
 * are normalised (a spelling is not a change: timezone aliases are one
 * value, `type` and `subtype` are compared lower-cased) and how they are
 * compared (numbers within 1e-12; null equals null). {@linkcode sameValue}
 * applies it in TypeScript; lib/catalog/sql.ts builds its SQL from the same
 * table, so the two cannot drift apart. A field listed as learned (newer
 * than some catalogs) never counts as changed when the old value is null:
 * the new value is learned, not a change.
 *
 * @example
 * ```ts
 * import { sameValue } from "./compare.ts";
 * sameValue("timezone", "Etc/UTC", "UTC"); // true
 * sameValue("tick_size", 0.1, 0.1 + 1e-15); // true
 * sameValue("pricescale", 100, null); // false
 * ```
 *
 * @module
 */
import type { CatalogRecord } from "./record.ts";
import { canonicalTimezone } from "./timezones.ts";

/** How a field's values are normalised before they are compared. */
export type Normalise = "none" | "lower" | "timezone";

/** How one field is compared. */
export interface FieldRule {
  /** The spelling rule applied to both sides. */
  normalise: Normalise;
  /** Numbers: equal within {@linkcode NUMBER_TOLERANCE}. */
  numeric: boolean;
  /**
   * Newer than some catalogs: a value where the old side is null is learned,
   * not a change (it rides along with the symbol's next real change).
   */
  learned: boolean;
}

/** Two numbers closer than this are the same value. */
export const NUMBER_TOLERANCE = 1e-12;

const text = (normalise: Normalise = "none", learned = false): FieldRule => ({
  normalise,
  numeric: false,
  learned,
});
const number = (learned = false): FieldRule => ({ normalise: "none", numeric: true, learned });

/** The rule of every compared record field (all but `symbol`). */
export const FIELD_RULES: Readonly<Record<Exclude<keyof CatalogRecord, "symbol">, FieldRule>> = {
  exchange: text(),
  base: text(),
  quote: text(),
  type: text("lower"),
  subtype: text("lower"),
  profile: text(),
  description: text(),
  sector: text(),
  industry: text(),
  country: text(),
  pricescale: number(),
  minmov: number(),
  tick_size: number(),
  lot_size: number(),
  contract_size: number(),
  timezone: text("timezone"),
  session: text(),
  minmove2: number(true),
  fractional: text("none", true),
  root: text("none", true),
  expiration: text("none", true),
  contract_type: text("none", true),
  pointvalue: number(true),
  continuous: text("none", true),
  active: text(),
};

/** A value as records and catalogs hold it. */
export type FieldValue = string | number | boolean | null;

/**
 * A value in its one spelling, by the field's rule.
 *
 * @example
 * ```ts
 * import { normalised } from "./compare.ts";
 * normalised("subtype", "Common"); // "common"
 * ```
 */
export function normalised(field: keyof typeof FIELD_RULES, value: FieldValue): FieldValue {
  if (typeof value !== "string") return value;
  switch (FIELD_RULES[field].normalise) {
    case "lower":
      return value.toLowerCase();
    case "timezone":
      return canonicalTimezone(value);
    case "none":
      return value;
  }
}

/**
 * Whether two values of `field` are the same value (see the module doc).
 * With `learning`, a value where `old` is null counts as the same (it is
 * learned, not changed) for a learned field.
 *
 * @example
 * ```ts
 * import { sameValue } from "./compare.ts";
 * sameValue("root", null, "ES", { learning: true }); // true: learned
 * sameValue("root", null, "ES"); // false: a difference
 * ```
 */
export function sameValue(
  field: keyof typeof FIELD_RULES,
  old: FieldValue,
  fresh: FieldValue,
  options: { learning?: boolean } = {},
): boolean {
  const rule = FIELD_RULES[field];
  if (options.learning && rule.learned && old === null) return true;
  const [a, b] = [normalised(field, old), normalised(field, fresh)];
  if (a === null || b === null) return a === b;
  if (rule.numeric && typeof a === "number" && typeof b === "number") {
    return Math.abs(a - b) <= NUMBER_TOLERANCE || (Number.isNaN(a) && Number.isNaN(b));
  }
  return a === b;
}

/**
 * The record fields both `/symbol` and `/scan` carry: what `probe` and the
 * default endpoint's spot check compare.
 */
export const SHARED_FIELDS = [
  "type",
  "subtype",
  "profile",
  "pricescale",
  "minmov",
  "tick_size",
  "minmove2",
  "fractional",
  "quote",
  "description",
  "sector",
  "industry",
  "country",
  "root",
  "expiration",
] as const satisfies readonly (keyof typeof FIELD_RULES)[];
