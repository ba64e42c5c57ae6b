/**
 * What we know about exchanges without asking: the built-in table that fills
 * what TradingView leaves null, and the rows of `exchanges.parquet`.
 *
 * Promises: {@linkcode exchangeDefaults} answers a fixed, documented table;
 * unknown exchanges get `null` and callers fall back to `UNKNOWN`/null.
 *
 * | exchange | timezone | country | profile |
 * |---|---|---|---|
 * | BINANCE, OKX, BYBIT, BITGET | UTC | Global | CRYPTO |
 * | NASDAQ, NYSE, AMEX | America/New_York | United States | EQUITY |
 * | CME, CME_MINI, CBOT, COMEX, NYMEX | America/Chicago | United States | FUTURES |
 * | ICE, ICEUS | America/New_York | United States | FUTURES |
 * | EUREX | Europe/Berlin | Germany | FUTURES |
 * | OANDA, FOREX | America/New_York | (none) | FOREX |
 * | FX_IDC | UTC | (none) | FOREX |
 *
 * @example
 * ```ts
 * import { exchangeDefaults } from "./exchanges.ts";
 * exchangeDefaults("BINANCE")?.timezone; // "UTC"
 * exchangeDefaults("XETR");              // null
 * ```
 *
 * @module
 */

/** The file name of the exchanges table, kept beside the catalog. */
export const EXCHANGES_FILE = "exchanges.parquet";

/** Instrument family, the catalog's `profile` column. */
export type Profile = "CRYPTO" | "EQUITY" | "FUTURES" | "FOREX" | "UNKNOWN";

/** Built-in facts about one exchange. */
export interface ExchangeDefaults {
  /** IANA time zone the exchange trades in. */
  timezone: string;
  /** Country, or `Global` for crypto venues; null when it has none. */
  country: string | null;
  /** Family of the instruments it lists, when their type does not say. */
  profile: Exclude<Profile, "UNKNOWN">;
  /** True for crypto venues. */
  isCrypto: boolean;
}

const crypto: ExchangeDefaults = {
  timezone: "UTC",
  country: "Global",
  profile: "CRYPTO",
  isCrypto: true,
};
const usEquity: ExchangeDefaults = {
  timezone: "America/New_York",
  country: "United States",
  profile: "EQUITY",
  isCrypto: false,
};
const chicago: ExchangeDefaults = {
  timezone: "America/Chicago",
  country: "United States",
  profile: "FUTURES",
  isCrypto: false,
};
const ice: ExchangeDefaults = { ...chicago, timezone: "America/New_York" };

const TABLE: Readonly<Record<string, ExchangeDefaults>> = {
  BINANCE: crypto,
  OKX: crypto,
  BYBIT: crypto,
  BITGET: crypto,
  NASDAQ: usEquity,
  NYSE: usEquity,
  AMEX: usEquity,
  CME: chicago,
  CME_MINI: chicago,
  CBOT: chicago,
  COMEX: chicago,
  NYMEX: chicago,
  ICE: ice,
  ICEUS: ice,
  EUREX: { timezone: "Europe/Berlin", country: "Germany", profile: "FUTURES", isCrypto: false },
  OANDA: { timezone: "America/New_York", country: null, profile: "FOREX", isCrypto: false },
  FOREX: { timezone: "America/New_York", country: null, profile: "FOREX", isCrypto: false },
  FX_IDC: { timezone: "UTC", country: null, profile: "FOREX", isCrypto: false },
};

/**
 * The built-in defaults for an exchange code, or null when we have none.
 *
 * @example
 * ```ts
 * import { exchangeDefaults } from "./exchanges.ts";
 * exchangeDefaults("CME_MINI")?.timezone; // "America/Chicago"
 * ```
 */
export function exchangeDefaults(exchange: string): ExchangeDefaults | null {
  return Object.hasOwn(TABLE, exchange) ? TABLE[exchange] : null;
}

/** One row of `exchanges.parquet` (before `updated_at`). */
export interface ExchangeRow {
  /** The exchange prefix, as in the catalog's `exchange` column. */
  exchange: string;
  /** Its country, when the built-in table knows it. */
  country: string | null;
  /** Its time zone, when the built-in table knows it. */
  timezone: string | null;
  /** Whether it is a crypto venue; null when unknown. */
  is_crypto: boolean | null;
}

/**
 * The `exchanges.parquet` row for an exchange seen in a run: built-in facts
 * where we have them, nulls where we do not.
 *
 * @example
 * ```ts
 * import { exchangeRow } from "./exchanges.ts";
 * exchangeRow("OKX"); // { exchange: "OKX", country: "Global", timezone: "UTC", is_crypto: true }
 * ```
 */
export function exchangeRow(exchange: string): ExchangeRow {
  const known = exchangeDefaults(exchange);
  return {
    exchange,
    country: known?.country ?? null,
    timezone: known?.timezone ?? null,
    is_crypto: known ? known.isCrypto : null,
  };
}
