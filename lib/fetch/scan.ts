/**
 * Batch fetching through `POST /{market}/scan`: many symbols per request.
 *
 * Promises: {@linkcode fetchAllScan} never throws and answers one
 * {@linkcode SymbolOutcome} per symbol, in input order, exactly like
 * `fetchAll` does for `/symbol`:
 * - Symbols are grouped by market (the exchange table's: crypto exchanges
 *   to `/crypto/scan`, the rest to `/global/scan`) and sent in batches of
 *   at most {@linkcode MAX_SCAN_BATCH}, with an explicit `range`, at most
 *   `workers` batches in flight, through the client's cooldown, pacing and
 *   retries.
 * - Rows are joined back by `s`, never by position; a row for a ticker not
 *   asked for is ignored; each row is validated with the `/symbol` rules.
 * - A ticker missing from the answer is not "not found" yet: it is asked
 *   again on the other market, then confirmed with one `/symbol` request;
 *   only a definite not-found from `/symbol` makes it "not found" (which is
 *   what `--retire-not-found` acts on). A ticker whose row is malformed or
 *   invalid gets the same `/symbol` request.
 * - Rows of one ticker that contradict each other (the same `s`, different
 *   values) fail that symbol with a reason naming the columns; one is never
 *   picked. Identical rows are folded.
 * - A batch that fails (after retries) fails each of its symbols with the
 *   batch's reason; it never retires anything. Without confirmation (the
 *   probe), a failed second-round batch or a malformed row fails the symbol
 *   with its reason: it is never "not found".
 *
 * @example
 * ```ts
 * import { TradingViewClient } from "./client.ts";
 * import { fetchAllScan } from "./scan.ts";
 * const client = new TradingViewClient({ baseUrl: "http://127.0.0.1:8787" });
 * const outcomes = await fetchAllScan(client, ["NASDAQ:AAPL", "BINANCE:BTCUSDT"], 3);
 * ```
 *
 * @module
 */
import { pooledMap } from "../std/pool.ts";
import { type Market, marketOf } from "../record/exchanges.ts";
import { MAX_SCAN_BATCH, SCAN_COLUMNS, scanRecord } from "../record/scan.ts";
import { splitSymbol } from "../record/symbols.ts";
import type { SymbolOutcome, TradingViewClient } from "./client.ts";

export { MAX_SCAN_BATCH };

/** Settings of a batch fetch; all optional. */
export interface ScanFetchOptions {
  /** Tickers per request, 1..500 (default 500). */
  batchSize?: number;
  /**
   * Confirm tickers missing from both markets with one `/symbol` request
   * each (default true). Without it they end "not-found" with a reason
   * saying they were missing from `/scan` (the probe compares that).
   */
  confirm?: boolean;
  /**
   * Columns the scanner refused as unknown are dropped for the rest of the
   * run (each batch is sent again without them) and listed here, with the
   * server's words; shared by the chunks of one run. Their values come back
   * null, so the catalog's carry forward.
   */
  dropped?: { column: string; reason: string }[];
}

interface Batch {
  market: Market;
  tickers: string[];
}

const OTHER: Readonly<Record<Market, Market>> = { global: "crypto", crypto: "global" };

function batches(groups: Map<Market, string[]>, size: number): Batch[] {
  const out: Batch[] = [];
  for (const [market, tickers] of groups) {
    for (let i = 0; i < tickers.length; i += size) {
      out.push({ market, tickers: tickers.slice(i, i + size) });
    }
  }
  return out;
}

function groupBy(symbols: readonly string[], market: (symbol: string) => Market) {
  const groups = new Map<Market, string[]>();
  for (const symbol of symbols) {
    const key = market(symbol);
    let list = groups.get(key);
    if (!list) groups.set(key, list = []);
    list.push(symbol);
  }
  return groups;
}

/**
 * Fetches every symbol through `/scan`; see the module doc.
 *
 * @example
 * ```ts
 * import { TradingViewClient } from "./client.ts";
 * import { fetchAllScan } from "./scan.ts";
 * const client = new TradingViewClient({ baseUrl: "http://127.0.0.1:8787" });
 * await fetchAllScan(client, ["NASDAQ:AAPL"], 3, () => {}, { batchSize: 100 });
 * ```
 */
export async function fetchAllScan(
  client: TradingViewClient,
  symbols: readonly string[],
  workers: number,
  onOutcome?: (outcome: SymbolOutcome) => void,
  options: ScanFetchOptions = {},
): Promise<SymbolOutcome[]> {
  const size = Math.max(1, Math.min(MAX_SCAN_BATCH, options.batchSize ?? MAX_SCAN_BATCH));
  const settled = new Map<string, SymbolOutcome>();
  const settle = (outcome: SymbolOutcome) => {
    settled.set(outcome.symbol, outcome);
    onOutcome?.(outcome);
  };
  const triedOn = new Map<string, Market>();
  /** Why a ticker goes to `/symbol` other than being missing: a malformed row, a failed batch. */
  const noRow = new Map<string, string>();

  const dropped = options.dropped ?? [];
  const columnsNow = () => SCAN_COLUMNS.filter((c) => !dropped.some((d) => d.column === c));
  /**
   * Sends one batch; a refusal naming one of our columns drops that column
   * for the run and sends the batch again (at most once per column).
   */
  const sendBatch = async (batch: Batch) => {
    for (;;) {
      const columns = columnsNow();
      const result = await client.scanBatch(batch.market, batch.tickers, columns);
      const unknown = result.ok ? undefined : result.unknownColumn;
      if (result.ok || unknown === undefined) return { batch, result, columns };
      if (!dropped.some((d) => d.column === unknown)) {
        dropped.push({ column: unknown, reason: result.reason });
      }
    }
  };

  /** Runs batches; answers the tickers missing from their answers. */
  const round = async (list: Batch[], lastRound: boolean): Promise<string[]> => {
    const missing: string[] = [];
    for await (
      const done of pooledMap(workers, list, (batch) => sendBatch(batch))
    ) {
      const { batch, result, columns } = done;
      for (const symbol of batch.tickers) {
        triedOn.set(symbol, batch.market);
        if (!result.ok) {
          // A failed second round still leaves the /symbol confirmation.
          if (lastRound) {
            noRow.set(symbol, result.reason);
            missing.push(symbol);
          } else {
            settle({ kind: "failed", symbol, reason: result.reason, attempts: result.attempts });
          }
          continue;
        }
        // Rows that contradict each other: never pick one.
        const conflict = result.conflicting.get(symbol);
        if (conflict !== undefined) {
          settle({ kind: "failed", symbol, reason: conflict, attempts: result.attempts });
          continue;
        }
        const values = result.rows.get(symbol);
        const checked = values === undefined ? undefined : scanRecord(symbol, values, columns);
        const invalid = result.invalid.get(symbol) ??
          (checked && !checked.ok ? `invalid /scan row: ${checked.reason}` : undefined);
        if (invalid !== undefined) {
          // Served, but unusable: /symbol is asked, as for a missing one.
          noRow.set(symbol, invalid);
          confirm.push(symbol);
          continue;
        }
        if (checked === undefined || !checked.ok) {
          missing.push(symbol);
          continue;
        }
        settle({
          kind: "fetched",
          symbol,
          record: checked.record,
          defaults: checked.defaults,
          attempts: result.attempts,
        });
      }
    }
    return missing;
  };

  const confirm: string[] = [];
  const first = groupBy(symbols, (s) => marketOf(splitSymbol(s).exchange));
  const missingFirst = await round(batches(first, size), false);
  const second = groupBy(missingFirst, (s) => OTHER[triedOn.get(s) ?? "global"]);
  confirm.push(...await round(batches(second, size), true));

  if (options.confirm === false) {
    for (const symbol of confirm) {
      const reason = noRow.get(symbol);
      settle(
        reason !== undefined
          // A failed batch or a malformed row is a failure, never "not found".
          ? { kind: "failed", symbol, reason, attempts: 2 }
          : {
            kind: "not-found",
            symbol,
            reason: "missing from /global/scan and /crypto/scan",
            attempts: 2,
          },
      );
    }
  } else {
    for await (
      const outcome of pooledMap(workers, confirm, (symbol) => client.fetchSymbol(symbol))
    ) {
      settle(outcome);
    }
  }
  return symbols.map((symbol) =>
    settled.get(symbol) ??
      { kind: "failed", symbol, reason: "internal: no outcome", attempts: 0 } as SymbolOutcome
  );
}
