/**
 * One spelling per timezone: TradingView and our own defaults spell some
 * zones more than one way (`Etc/UTC` in data, `UTC` in the exchange table),
 * and a change of spelling alone must never record a new catalog version.
 *
 * Promises: {@linkcode canonicalTimezone} maps every alias in
 * {@linkcode TIMEZONE_ALIASES} to its one spelling and returns anything
 * else unchanged (null stays null). Values are normalised as they come in,
 * from either endpoint, and the merge compares the catalog's stored value
 * in the same form.
 *
 * @example
 * ```ts
 * import { canonicalTimezone } from "./timezones.ts";
 * canonicalTimezone("Etc/UTC");    // "UTC"
 * canonicalTimezone("US/Eastern"); // "America/New_York"
 * ```
 *
 * @module
 */

/**
 * Alias -> the spelling the catalog keeps. UTC is kept as `UTC` (the
 * exchange table's and DuckDB's spelling); the rest are IANA backward links
 * to their canonical zone.
 */
export const TIMEZONE_ALIASES: Readonly<Record<string, string>> = {
  "Etc/UTC": "UTC",
  "Etc/UCT": "UTC",
  "UCT": "UTC",
  "Etc/Universal": "UTC",
  "Universal": "UTC",
  "Etc/Zulu": "UTC",
  "Zulu": "UTC",
  "US/Eastern": "America/New_York",
  "US/Central": "America/Chicago",
  "US/Pacific": "America/Los_Angeles",
  "Europe/Kiev": "Europe/Kyiv",
  "Asia/Calcutta": "Asia/Kolkata",
};

/**
 * The one spelling of a timezone; see the module doc.
 *
 * @example
 * ```ts
 * import { canonicalTimezone } from "./timezones.ts";
 * canonicalTimezone("Europe/Berlin"); // "Europe/Berlin"
 * canonicalTimezone(null);            // null
 * ```
 */
export function canonicalTimezone(zone: string): string;
/** Null stays null. */
export function canonicalTimezone(zone: string | null): string | null;
export function canonicalTimezone(zone: string | null): string | null {
  if (zone === null) return null;
  return Object.hasOwn(TIMEZONE_ALIASES, zone) ? TIMEZONE_ALIASES[zone] : zone;
}
