/**
 * The default endpoint, `auto`: batches where they are safe, `/symbol`
 * where they are not, and a spot check of `/scan` against `/symbol` on
 * every run.
 *
 * Promises: {@linkcode fetchAuto} never throws and answers one
 * {@linkcode SymbolOutcome} per symbol, in input order, as `fetchAll` does:
 * - symbols the catalog already knows are fetched in `/scan` batches; symbols
 *   new to it through `/symbol`, so that their first version holds the
 *   fields `/scan` does not serve (timezone, session, contract type, base
 *   currency);
 * - `verify` of the symbols `/scan` served (an even spread) are asked of
 *   `/symbol` too and compared field by field with the one comparison of
 *   lib/record/compare.ts; those symbols land with the `/symbol` values;
 * - when they disagree, every symbol `/scan` served is fetched through
 *   `/symbol` instead, so no value `/scan` skewed reaches the catalog; when
 *   `/scan` refused a batch (or failed a row), those symbols are fetched
 *   through `/symbol`. Each fall-back is a warning and is listed in
 *   {@linkcode AutoUse} with its reason and the fields that disagreed;
 * - when `/scan` refuses a column as unknown, the batch is sent again
 *   without it and the symbols it served are fetched through `/symbol`, so
 *   nothing degrades;
 * - every request goes through the same client (breaker, pacer, budget),
 *   so the throttling rules hold for both endpoints; once the client has
 *   halted nothing falls back.
 *
 * @example
 * ```ts
 * import { TradingViewClient } from "./client.ts";
 * import { fetchAuto } from "./auto.ts";
 * const client = new TradingViewClient({ baseUrl: "http://127.0.0.1:8787" });
 * const { outcomes, use } = await fetchAuto(client, ["NASDAQ:AAPL"], 3, {
 *   known: (symbol) => symbol === "NASDAQ:AAPL",
 *   verify: 3,
 * });
 * ```
 *
 * @module
 */
import { type FieldValue, sameValue, SHARED_FIELDS } from "../record/compare.ts";
import { fetchAll, type SymbolOutcome, type TradingViewClient } from "./client.ts";
import { fetchAllScan } from "./scan.ts";

/** One field the spot check found different. */
export interface Disagreement {
  /** The symbol. */
  symbol: string;
  /** The field. */
  field: string;
  /** What `/scan` said. */
  scan: FieldValue;
  /** What `/symbol` said (and what lands). */
  symbol_value: FieldValue;
}

/** What `auto` did: which endpoint served whom, the spot check, the fall-backs. */
export interface AutoUse {
  /** Symbols each endpoint's values landed for (fetched or definitely not found). */
  served: { symbol: number; scan: number };
  /** Symbols the spot check asked both endpoints about. */
  verified: number;
  /** Fields that differed (the first 20). */
  disagreements: Disagreement[];
  /** Groups of symbols fetched through `/symbol` after `/scan` did not do, and why. */
  fallbacks: { symbols: number; reason: string }[];
}

/** Settings of {@linkcode fetchAuto}. */
export interface AutoOptions {
  /** Whether the catalog already knows a symbol (then `/scan` may serve it). */
  known: (symbol: string) => boolean;
  /**
   * Symbols `/scan` served that are asked of `/symbol` too and compared (0: none).
   * @default {3}
   */
  verify?: number;
  /**
   * Columns `/scan` refused as unknown this run (see `fetchAllScan`); the
   * symbols it served without them are fetched through `/symbol`.
   * @default {[]}
   */
  dropped?: { column: string; reason: string }[];
  /**
   * Told once per symbol when its outcome is in (progress).
   * @default {undefined}
   */
  onOutcome?: (outcome: SymbolOutcome) => void;
  /**
   * Told, in one line, about each fall-back.
   * @default {undefined}
   */
  onWarning?: (message: string) => void;
}

/** Most disagreements kept in {@linkcode AutoUse}. */
const KEPT = 20;

/** At most `n` items spread evenly over a list (first and last kept). */
function spread<T>(items: readonly T[], n: number): T[] {
  if (n <= 0) return [];
  if (items.length <= n) return [...items];
  if (n === 1) return [items[0]];
  return Array.from({ length: n }, (_, i) => items[Math.round((i * (items.length - 1)) / (n - 1))]);
}

/** The fields where two fetched outcomes of one symbol disagree. */
function differences(viaScan: SymbolOutcome, viaSymbol: SymbolOutcome): Disagreement[] {
  if (viaScan.kind !== "fetched" || viaSymbol.kind !== "fetched") return [];
  return SHARED_FIELDS.filter((field) =>
    !sameValue(field, viaSymbol.record[field], viaScan.record[field])
  ).map((field) => ({
    symbol: viaScan.symbol,
    field,
    scan: viaScan.record[field],
    symbol_value: viaSymbol.record[field],
  }));
}

/**
 * Fetches every symbol the `auto` way; see the module doc.
 *
 * @example
 * ```ts
 * import { TradingViewClient } from "./client.ts";
 * import { fetchAuto } from "./auto.ts";
 * const client = new TradingViewClient({ baseUrl: "http://127.0.0.1:8787" });
 * await fetchAuto(client, ["NASDAQ:AAPL", "NYSE:KO"], 3, { known: () => true, verify: 0 });
 * ```
 */
export async function fetchAuto(
  client: TradingViewClient,
  symbols: readonly string[],
  workers: number,
  options: AutoOptions,
): Promise<{ outcomes: SymbolOutcome[]; use: AutoUse }> {
  const use: AutoUse = {
    served: { symbol: 0, scan: 0 },
    verified: 0,
    disagreements: [],
    fallbacks: [],
  };
  const settled = new Map<string, SymbolOutcome>();
  const via = new Map<string, "symbol" | "scan">();
  const reported = new Set<string>();
  const report = (outcome: SymbolOutcome) => {
    if (reported.has(outcome.symbol)) return;
    reported.add(outcome.symbol);
    options.onOutcome?.(outcome);
  };
  const land = (outcome: SymbolOutcome, endpoint: "symbol" | "scan") => {
    settled.set(outcome.symbol, outcome);
    via.set(outcome.symbol, endpoint);
  };
  const stopped = () => client.halt !== null;

  const known = symbols.filter((s) => options.known(s));
  const fresh = symbols.filter((s) => !options.known(s));
  // Known symbols in batches; the ones /scan could not serve are set aside.
  const dropped = options.dropped ?? [];
  const viaScan = known.length
    ? await fetchAllScan(client, known, workers, undefined, { dropped })
    : [];
  const refused: SymbolOutcome[] = [];
  for (const outcome of viaScan) {
    if (outcome.kind === "failed" && !stopped()) {
      refused.push(outcome);
    } else {
      land(outcome, "scan");
      if (outcome.kind !== "fetched") report(outcome);
    }
  }
  // New symbols through /symbol: their first version is complete.
  for (const outcome of await fetchAll(client, fresh, workers, report)) land(outcome, "symbol");

  // The spot check, among the symbols /scan served.
  const served = viaScan.filter((o) => o.kind === "fetched" && via.get(o.symbol) === "scan");
  const sample = stopped() ? [] : spread(served.map((o) => o.symbol), options.verify ?? 3);
  const checked = await fetchAll(client, sample, workers);
  use.verified = checked.filter((o) => o.kind === "fetched").length;
  for (const outcome of checked) {
    const found = differences(settled.get(outcome.symbol)!, outcome);
    use.disagreements.push(...found.slice(0, KEPT - use.disagreements.length));
    // The /symbol values land (they are the complete ones), unless that request failed.
    if (outcome.kind !== "failed") land(outcome, "symbol");
  }

  const fallBack = async (list: readonly string[], reason: string) => {
    if (list.length === 0 || stopped()) return;
    options.onWarning?.(
      `falling back to /symbol for ${list.length} ${
        list.length === 1 ? "symbol" : "symbols"
      }: ${reason}`,
    );
    use.fallbacks.push({ symbols: list.length, reason });
    for (const outcome of await fetchAll(client, list, workers, report)) land(outcome, "symbol");
  };
  if (dropped.length) {
    // A column /scan no longer serves is fetched through /symbol: nothing degrades.
    await fallBack(
      served.map((o) => o.symbol).filter((s) => via.get(s) === "scan"),
      `/scan does not know ${dropped.map((d) => d.column).join(", ")} (${dropped[0].reason})`,
    );
  }
  if (use.disagreements.length) {
    const fields = [...new Set(use.disagreements.map((d) => d.field))].join(", ");
    const [first] = use.disagreements;
    await fallBack(
      served.map((o) => o.symbol).filter((s) => via.get(s) === "scan"),
      `/scan disagreed with /symbol on ${fields} (e.g. ${first.symbol} ${first.field}: ` +
        `/scan ${JSON.stringify(first.scan)}, /symbol ${JSON.stringify(first.symbol_value)})`,
    );
  }
  if (refused.length) {
    await fallBack(
      refused.map((o) => o.symbol),
      `/scan did not serve them (${refused[0].kind === "failed" ? refused[0].reason : ""})`,
    );
    // Whatever still has no outcome keeps its /scan failure.
    for (const outcome of refused) if (!settled.has(outcome.symbol)) land(outcome, "scan");
  }
  for (const outcome of settled.values()) {
    report(outcome);
    if (outcome.kind !== "failed") use.served[via.get(outcome.symbol)!]++;
  }
  return {
    outcomes: symbols.map((symbol) =>
      settled.get(symbol) ??
        { kind: "failed", symbol, reason: "internal: no outcome", attempts: 0 } as SymbolOutcome
    ),
    use,
  };
}
