/**
 * From a TradingView `/symbol` response to a catalog record.
 *
 * Promises: {@linkcode toRecord} never throws. A response either becomes a
 * {@linkcode CatalogRecord} (validated: `pricescale` and `minmov` positive
 * whole numbers, numeric strings accepted; `type` present) or a reason the
 * symbol fails; an invalid response never reaches the catalog. API values
 * are authoritative: the record keeps them (nulls included), and the
 * built-in defaults travel beside it, to fill only what the API leaves null
 * (and, at merge time, only where the catalog knows nothing better).
 *
 * @example
 * ```ts
 * import { toRecord } from "./tradingview.ts";
 * const result = toRecord("BINANCE:BTCUSDT", { pricescale: 100, minmov: 1, type: "spot", currency: "USDT" });
 * // { ok: true, record: { symbol: "BINANCE:BTCUSDT", tick_size: 0.01, timezone: null, ... },
 * //   defaults: { base: "BTC", country: "Global", timezone: "UTC", session: "24x7" } }
 * ```
 *
 * @module
 */
import { z } from "zod";
import { exchangeDefaults, type Profile } from "./exchanges.ts";
import type { CatalogRecord, RecordDefaults } from "./record.ts";
export { applyDefaults } from "./record.ts";
import { splitSymbol } from "./symbols.ts";
import { canonicalTimezone } from "./timezones.ts";

/** The fields requested from TradingView, in request order. */
export const REQUESTED_FIELDS = [
  "pricescale",
  "minmov",
  "minmove2",
  "currency",
  "base_currency",
  "exchange",
  "type",
  "subtype",
  "description",
  "sector",
  "industry",
  "country",
  "root",
  "expiration",
  "contract_type",
  "fractional",
  "timezone",
  "session",
  "pointvalue",
  "typespecs",
] as const;

const MAX_TEXT = 1024;

/** Optional text: trimmed, empty -> null, capped; numbers become text. */
const optionalText = z.union([z.string(), z.number(), z.null()]).optional().transform((value) => {
  const trimmed = value === null || value === undefined ? undefined : String(value).trim();
  return trimmed ? trimmed.slice(0, MAX_TEXT) : null;
});

/** A positive whole number, possibly sent as a numeric string. */
const positiveWhole = (field: string) =>
  z.union([z.number(), z.string()], { error: `${field} is missing or not a number` })
    .transform((value, ctx) => {
      const n = typeof value === "number"
        ? value
        : /^\s*\d+(\.0+)?\s*$/.test(value)
        ? Number(value)
        : NaN;
      if (!Number.isSafeInteger(n) || n <= 0) {
        ctx.addIssue({
          code: "custom",
          message: `${field} must be a positive whole number, got ${JSON.stringify(value)}`,
        });
        return z.NEVER;
      }
      return n;
    });

/** A positive finite number or nothing. */
const optionalPositive = z.union([z.number(), z.string(), z.null()]).optional().transform(
  (value) => {
    const n = typeof value === "string" ? Number(value) : value;
    return typeof n === "number" && Number.isFinite(n) && n > 0 ? n : null;
  },
);

/** A whole number >= 0, or null when absent or anything else. */
const optionalWhole = z.unknown().optional().transform((value) => {
  const n = typeof value === "string" && /^\s*\d+(\.0+)?\s*$/.test(value) ? Number(value) : value;
  return typeof n === "number" && Number.isSafeInteger(n) && n >= 0 ? n : null;
});

/** A boolean (or the text "true"/"false"), or null when absent or anything else. */
const optionalFlag = z.unknown().optional().transform((value) => {
  if (typeof value === "boolean") return value;
  if (value === "true" || value === "false") return value === "true";
  return null;
});

/**
 * The `/symbol` response: an object; unknown keys are ignored. Its type is
 * zod's inferred one, so it is internal: outside this module, use
 * {@linkcode toRecord}.
 *
 * @internal
 */
export const symbolResponseSchema = z.looseObject({
  pricescale: positiveWhole("pricescale"),
  minmov: positiveWhole("minmov"),
  type: z.string({ error: "type is missing" }).trim().min(1, "type is missing").max(64),
  currency: optionalText,
  base_currency: optionalText,
  subtype: optionalText,
  description: optionalText,
  sector: optionalText,
  industry: optionalText,
  country: optionalText,
  timezone: optionalText,
  session: optionalText,
  lot_size: optionalPositive,
  contract_size: optionalPositive,
  minmove2: optionalWhole,
  fractional: optionalFlag,
  root: optionalText,
  expiration: optionalText,
  contract_type: optionalText,
  pointvalue: optionalPositive,
  typespecs: z.unknown().optional(),
});

const TYPE_PROFILES: Readonly<Record<string, Profile>> = {
  spot: "CRYPTO",
  swap: "CRYPTO",
  crypto: "CRYPTO",
  stock: "EQUITY",
  fund: "EQUITY",
  dr: "EQUITY",
  index: "EQUITY",
  futures: "FUTURES",
  commodity: "FUTURES",
  forex: "FOREX",
  fx: "FOREX",
};

/**
 * The profile of an instrument: from its type, else its exchange's default,
 * else UNKNOWN.
 *
 * @example
 * ```ts
 * import { profileOf } from "./tradingview.ts";
 * profileOf("swap", "BYBIT");  // "CRYPTO"
 * profileOf("bond", "NASDAQ"); // "EQUITY"
 * profileOf("bond", "XETR");   // "UNKNOWN"
 * ```
 */
export function profileOf(type: string, exchange: string): Profile {
  const t = type.toLowerCase();
  if (Object.hasOwn(TYPE_PROFILES, t)) return TYPE_PROFILES[t];
  return exchangeDefaults(exchange)?.profile ?? "UNKNOWN";
}

/**
 * True when a response body means "TradingView does not know this symbol":
 * an object whose every value is null (or no value at all).
 *
 * @example
 * ```ts
 * import { isEmptyResponse } from "./tradingview.ts";
 * isEmptyResponse({ pricescale: null, type: null }); // true
 * isEmptyResponse({ type: "stock" });                // false
 * ```
 */
export function isEmptyResponse(body: unknown): boolean {
  return body !== null && typeof body === "object" && !Array.isArray(body) &&
    Object.values(body).every((v) => v === null || v === undefined);
}

function baseOf(ticker: string, quote: string | null, profile: Profile): string | null {
  if (profile !== "CRYPTO" || !quote) return null;
  const bare = ticker.replace(/\.P$/, "");
  return bare.endsWith(quote) && bare.length > quote.length ? bare.slice(0, -quote.length) : null;
}

/**
 * A value in a few words for an error message: its kind, and a short
 * rendering of it when that helps (`a number: 5`, `an object`).
 *
 * @example
 * ```ts
 * import { describeValue } from "./tradingview.ts";
 * describeValue({}); // "an object"
 * describeValue(5);  // "a number: 5"
 * ```
 */
export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  switch (typeof value) {
    case "object":
      return "an object";
    case "string":
      return `text: ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`;
    case "number":
      return `a number: ${value}`;
    case "boolean":
      return `a boolean: ${value}`;
    default:
      return typeof value;
  }
}

/** One validation issue in words that name the field (zod's own say "Invalid input"). */
function issueReason(issue: z.core.$ZodIssue, body: unknown): string {
  const field = issue.path.map(String).join(".");
  if (!field) return issue.message;
  if (issue.code === "custom" || issue.code === "too_small" || issue.code === "too_big") {
    return issue.message.startsWith(field) ? issue.message : `${field}: ${issue.message}`;
  }
  const value = body !== null && typeof body === "object"
    ? (body as Record<string, unknown>)[String(issue.path[0])]
    : undefined;
  if (value === undefined || value === null) return `${field} is missing`;
  return `${field} has the wrong type (${describeValue(value)})`;
}

/** The outcome of validating one answer: a record and its defaults, or why it was refused. */
export type ValidatedAnswer =
  | { ok: true; record: CatalogRecord; defaults: RecordDefaults }
  | { ok: false; reason: string };

/**
 * Validates a parsed `/symbol` body for `symbol` and maps it to a catalog
 * record (API values, nulls kept) plus the defaults for what is null; see
 * the module doc.
 *
 * @example
 * ```ts
 * import { toRecord } from "./tradingview.ts";
 * toRecord("NASDAQ:AAPL", { pricescale: 0, minmov: 1, type: "stock" });
 * // { ok: false, reason: "invalid response: pricescale must be a positive whole number, got 0" }
 * ```
 */
export function toRecord(symbol: string, body: unknown): ValidatedAnswer {
  const parsed = symbolResponseSchema.safeParse(body);
  if (!parsed.success) {
    return { ok: false, reason: `invalid response: ${issueReason(parsed.error.issues[0], body)}` };
  }
  const answer = parsed.data;
  const { exchange, ticker } = splitSymbol(symbol);
  const known = exchangeDefaults(exchange);
  const type = answer.type.toLowerCase();
  const profile = profileOf(type, exchange);
  const crypto24x7 = profile === "CRYPTO" &&
    (type === "spot" || type === "swap" || type === "crypto");
  return {
    ok: true,
    record: {
      symbol,
      exchange,
      base: answer.base_currency,
      quote: answer.currency,
      type,
      subtype: answer.subtype?.toLowerCase() ?? null,
      profile,
      description: answer.description,
      sector: answer.sector,
      industry: answer.industry,
      country: answer.country,
      pricescale: answer.pricescale,
      minmov: answer.minmov,
      tick_size: answer.minmov / answer.pricescale,
      lot_size: answer.lot_size,
      contract_size: answer.contract_size,
      timezone: canonicalTimezone(answer.timezone),
      session: answer.session,
      minmove2: answer.minmove2,
      fractional: answer.fractional,
      root: answer.root,
      expiration: answer.expiration,
      contract_type: answer.contract_type,
      pointvalue: answer.pointvalue,
      // TradingView marks continuous futures with a typespecs entry.
      continuous: Array.isArray(answer.typespecs) ? answer.typespecs.includes("continuous") : null,
      active: true,
    },
    defaults: {
      base: baseOf(ticker, answer.currency, profile),
      country: known?.country ?? null,
      timezone: known?.timezone ?? null,
      session: crypto24x7 ? "24x7" : "Unknown",
    },
  };
}
