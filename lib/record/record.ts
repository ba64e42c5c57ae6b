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
  /** The full `EXCHANGE:TICKER`, upper-case; the catalog's key. */
  symbol: string;
  /** The symbol's prefix (joins to `exchanges.parquet`), not the API's `exchange` field. */
  exchange: string;
  /** Base currency or asset (`BTC` of `BTCUSDT`), when known. */
  base: string | null;
  /** Quote currency (the API's `currency`), when sent. */
  quote: string | null;
  /** Instrument type as TradingView names it, lower-case (`spot`, `stock`, `futures`, ...). */
  type: string;
  /** TradingView's subtype, when sent. */
  subtype: string | null;
  /** Instrument family, from the type, else the exchange. */
  profile: Profile;
  /** Human-readable name, when sent. */
  description: string | null;
  /** Sector, when sent. */
  sector: string | null;
  /** Industry, when sent. */
  industry: string | null;
  /** Country, when sent. */
  country: string | null;
  /** Price scale: a positive whole number. */
  pricescale: number;
  /** Minimum price movement in `1 / pricescale` units: a positive whole number. */
  minmov: number;
  /** `minmov / pricescale`. */
  tick_size: number;
  /** Lot size, only when the API sends it. */
  lot_size: number | null;
  /** Contract size, only when the API sends it. */
  contract_size: number | null;
  /** IANA time zone of the trading session, when sent. */
  timezone: string | null;
  /** Trading session (e.g. `24x7`), when sent. */
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
  /** The contract multiplier (TradingView's `pointvalue`: 50 for ES), for futures P&L; 1 for most else. */
  pointvalue: number | null;
  /** A continuous futures contract (TradingView's `typespecs` has `continuous`); null when not sent. */
  continuous: boolean | null;
  /** False once the symbol is retired. */
  active: boolean;
}

/** Built-in values for fields the API may leave null. */
export interface RecordDefaults {
  /** Base asset guessed from the ticker and quote (crypto only). */
  base: string | null;
  /** The exchange's country, from the built-in table. */
  country: string | null;
  /** The exchange's time zone, from the built-in table. */
  timezone: string | null;
  /** `24x7` for crypto spot and swaps, else `Unknown`. */
  session: string;
}

/** A fetched record and the defaults for what the API left null: what the catalog merges. */
export interface FetchedRecord {
  /** The record with the API's values, nulls kept. */
  record: CatalogRecord;
  /** What fills the record's nulls where the catalog knows nothing better. */
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
