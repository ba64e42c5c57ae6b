/**
 * The catalog record: the fields kept for each instrument, as every source
 * delivers them and the catalog stores them (before its history columns).
 *
 * Promises: plain types and one pure function; no I/O. Both the fetcher and
 * the catalog build on these types, never on each other.
 *
 * @module
 */
import type { Profile } from "./exchanges.ts";

/** One catalog record, as fetched (before history columns). */
export interface CatalogRecord {
  symbol: string;
  exchange: string;
  base: string | null;
  quote: string | null;
  type: string;
  subtype: string | null;
  profile: Profile;
  description: string | null;
  sector: string | null;
  industry: string | null;
  country: string | null;
  pricescale: number;
  minmov: number;
  tick_size: number;
  lot_size: number | null;
  contract_size: number | null;
  timezone: string | null;
  session: string | null;
  /** Second tick increment of fractional prices (TradingView's `minmove2`; 0 when none). */
  minmove2: number | null;
  /** Whether prices are shown as fractions (bond futures: 1/32nds). */
  fractional: boolean | null;
  /** Futures root (`ES` for `ES1!` and `ESH2026`). */
  root: string | null;
  /** Expiration of a dated contract, as TradingView sends it (e.g. `20260315`). */
  expiration: string | null;
  /** Futures contract kind, e.g. `continuous`, `single`, `perpetual`. */
  contract_type: string | null;
  active: boolean;
}

/** Built-in values for fields the API may leave null. */
export interface RecordDefaults {
  base: string | null;
  country: string | null;
  timezone: string | null;
  session: string;
}

/** A fetched record and the defaults for what the API left null: what the catalog merges. */
export interface FetchedRecord {
  record: CatalogRecord;
  defaults: RecordDefaults;
}

/**
 * The record as a new catalog row shows it: API values, and the defaults
 * where the API left a field null. (The merge puts a value the catalog
 * already knows between the two.)
 *
 * @example
 * ```ts
 * import { toRecord } from "./tradingview.ts";
 * import { applyDefaults } from "./record.ts";
 * const r = toRecord("OKX:BTCUSDT", { pricescale: 10, minmov: 1, type: "spot" });
 * if (r.ok) applyDefaults(r.record, r.defaults).timezone; // "UTC"
 * ```
 */
export function applyDefaults(record: CatalogRecord, defaults: RecordDefaults): CatalogRecord {
  return {
    ...record,
    base: record.base ?? defaults.base,
    country: record.country ?? defaults.country,
    timezone: record.timezone ?? defaults.timezone,
    session: record.session ?? defaults.session,
  };
}
