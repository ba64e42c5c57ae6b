/**
 * The grammar of a TradingView symbol, `EXCHANGE:TICKER`.
 *
 * Promises: {@linkcode normalizeSymbol} never throws. It trims, upper-cases and
 * checks one raw string, and answers either the canonical symbol or a reason
 * a person can read. Exchanges are `[A-Z0-9_]+`; tickers use TradingView's
 * characters (letters, digits, `.`, `_`, `!`, `-`, `&`, `/`), so `BTCUSDT.P`,
 * `ES1!` and `BRK.B` pass, while whitespace, quotes, control characters and
 * any non-ASCII letter (checked before upper-casing: `ß` never becomes `SS`)
 * do not.
 *
 * @example
 * ```ts
 * import { normalizeSymbol } from "./symbols.ts";
 * normalizeSymbol(" binance:btcusdt.p "); // { ok: true, symbol: "BINANCE:BTCUSDT.P" }
 * normalizeSymbol("BTCUSDT", "BYBIT");    // { ok: true, symbol: "BYBIT:BTCUSDT" }
 * normalizeSymbol("BTCUSDT");             // { ok: false, reason: "no exchange prefix ..." }
 * ```
 *
 * @module
 */

/** Longest accepted exchange code. */
export const MAX_EXCHANGE_LENGTH = 32;
/** Longest accepted ticker. */
export const MAX_TICKER_LENGTH = 48;

const EXCHANGE_RE = /^[A-Z0-9_]+$/;
const TICKER_RE = /^[A-Z0-9][A-Z0-9._!&\/-]*$/;
// C0, DEL, C1 controls and the Unicode line/paragraph separators.
// deno-lint-ignore no-control-regex
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const NON_ASCII_RE = /[\u0080-\uffff]/;

/** Outcome of normalising one raw symbol. */
export type SymbolResult =
  | { ok: true; symbol: string }
  | { ok: false; reason: string };

/**
 * Checks an exchange code (already upper-cased), e.g. for `--default-exchange`.
 *
 * @example
 * ```ts
 * import { isExchangeCode } from "./symbols.ts";
 * isExchangeCode("CME_MINI"); // true
 * isExchangeCode("CME MINI"); // false
 * ```
 */
export function isExchangeCode(value: string): boolean {
  return value.length > 0 && value.length <= MAX_EXCHANGE_LENGTH && EXCHANGE_RE.test(value);
}

/**
 * Normalises one raw symbol string; see the module doc for the rules.
 * `defaultExchange` (already valid, upper-case) is given to bare tickers.
 *
 * @example
 * ```ts
 * import { normalizeSymbol } from "./symbols.ts";
 * normalizeSymbol("cme_mini:es1!"); // { ok: true, symbol: "CME_MINI:ES1!" }
 * ```
 */
export function normalizeSymbol(raw: string, defaultExchange?: string): SymbolResult {
  if (CONTROL_RE.test(raw)) return { ok: false, reason: "contains control characters" };
  const trimmed = raw.trim();
  // Checked before upper-casing, which would turn "ß" into "SS" and "ı" into "I".
  const nonAscii = trimmed.search(NON_ASCII_RE);
  if (nonAscii !== -1) {
    const colon = trimmed.indexOf(":");
    return {
      ok: false,
      reason: colon !== -1 && nonAscii < colon
        ? "exchange may only contain A-Z, 0-9 and _ (no non-ASCII letters)"
        : "ticker may only contain A-Z, 0-9 and . _ ! & / - (no non-ASCII letters)",
    };
  }
  const text = trimmed.toUpperCase();
  if (text === "") return { ok: false, reason: "empty symbol" };
  const colon = text.indexOf(":");
  let exchange: string;
  let ticker: string;
  if (colon === -1) {
    if (!defaultExchange) {
      return {
        ok: false,
        reason: "no exchange prefix (write EXCHANGE:TICKER or pass --default-exchange)",
      };
    }
    exchange = defaultExchange;
    ticker = text;
  } else {
    exchange = text.slice(0, colon);
    ticker = text.slice(colon + 1);
  }
  if (exchange === "") return { ok: false, reason: "empty exchange before ':'" };
  if (exchange.length > MAX_EXCHANGE_LENGTH) {
    return { ok: false, reason: `exchange longer than ${MAX_EXCHANGE_LENGTH} characters` };
  }
  if (!EXCHANGE_RE.test(exchange)) {
    return { ok: false, reason: "exchange may only contain A-Z, 0-9 and _" };
  }
  if (ticker === "") return { ok: false, reason: "empty ticker after ':'" };
  if (ticker.length > MAX_TICKER_LENGTH) {
    return { ok: false, reason: `ticker longer than ${MAX_TICKER_LENGTH} characters` };
  }
  if (!TICKER_RE.test(ticker)) {
    return {
      ok: false,
      reason: "ticker may only contain A-Z, 0-9 and . _ ! & / - (and must start with A-Z or 0-9)",
    };
  }
  return { ok: true, symbol: `${exchange}:${ticker}` };
}

/**
 * Splits a canonical symbol into exchange and ticker.
 *
 * @example
 * ```ts
 * import { splitSymbol } from "./symbols.ts";
 * splitSymbol("NASDAQ:AAPL"); // { exchange: "NASDAQ", ticker: "AAPL" }
 * ```
 */
export function splitSymbol(symbol: string): { exchange: string; ticker: string } {
  const colon = symbol.indexOf(":");
  return { exchange: symbol.slice(0, colon), ticker: symbol.slice(colon + 1) };
}
