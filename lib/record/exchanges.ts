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

import { canonicalTimezone } from "./timezones.ts";

/** Instrument family, the catalog's `profile` column. */
export type Profile = "CRYPTO" | "EQUITY" | "FUTURES" | "FOREX" | "UNKNOWN";

/**
 * The scanner market whose `/{market}/scan` serves an exchange's symbols:
 * crypto exchanges are served by `/crypto/scan`, the rest by `/global/scan`.
 */
export type Market = "crypto" | "global";

/** Built-in facts about one exchange. */
export interface ExchangeDefaults {
  /** The exchange's timezone, in its one spelling (timezones.ts). */
  timezone: string;
  /** Country of listing, or null (forex). */
  country: string | null;
  /** Instrument family when the type does not say. */
  profile: Exclude<Profile, "UNKNOWN">;
  /** Whether it is a crypto exchange. */
  isCrypto: boolean;
  /** The scanner market that serves its symbols. */
  market: Market;
}

const cryptoExchange: ExchangeDefaults = {
  timezone: "UTC",
  country: "Global",
  profile: "CRYPTO",
  isCrypto: true,
  market: "crypto",
};
const usEquity: ExchangeDefaults = {
  timezone: "America/New_York",
  country: "United States",
  profile: "EQUITY",
  isCrypto: false,
  market: "global",
};
const chicago: ExchangeDefaults = {
  timezone: "America/Chicago",
  country: "United States",
  profile: "FUTURES",
  isCrypto: false,
  market: "global",
};
const ice: ExchangeDefaults = { ...chicago, timezone: "America/New_York" };

const TABLE: Readonly<Record<string, ExchangeDefaults>> = canonical({
  BINANCE: cryptoExchange,
  OKX: cryptoExchange,
  BYBIT: cryptoExchange,
  BITGET: cryptoExchange,
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
  EUREX: {
    timezone: "Europe/Berlin",
    country: "Germany",
    profile: "FUTURES",
    isCrypto: false,
    market: "global",
  },
  OANDA: {
    timezone: "America/New_York",
    country: null,
    profile: "FOREX",
    isCrypto: false,
    market: "global",
  },
  FOREX: {
    timezone: "America/New_York",
    country: null,
    profile: "FOREX",
    isCrypto: false,
    market: "global",
  },
  FX_IDC: { timezone: "UTC", country: null, profile: "FOREX", isCrypto: false, market: "global" },
});

/** The table with every timezone in its one spelling (timezones.ts). */
function canonical(
  table: Record<string, ExchangeDefaults>,
): Readonly<Record<string, ExchangeDefaults>> {
  return Object.fromEntries(
    Object.entries(table).map((
      [code, d],
    ) => [code, { ...d, timezone: canonicalTimezone(d.timezone) }]),
  );
}

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

/**
 * The market an exchange's symbols are scanned in: its table entry's, else
 * `global` (an unknown crypto exchange is found by the retry on `crypto`).
 *
 * @example
 * ```ts
 * import { marketOf } from "./exchanges.ts";
 * marketOf("BYBIT");  // "crypto"
 * marketOf("XETR");   // "global"
 * ```
 */
export function marketOf(exchange: string): Market {
  return exchangeDefaults(exchange)?.market ?? "global";
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
