/**
 * `meta-ingest probe`: fetch the same symbols through `/symbol` and `/scan`
 * and say, field by field, whether the two endpoints agree.
 *
 * Promises: {@linkcode runProbe} only reads. It never writes, creates or
 * locks anything (the catalog is opened only to sample its active
 * symbols). It never throws for expected failures: the
 * {@linkcode ProbeReport} carries `exit_code` (0 every compared field
 * agrees and both endpoints found the same symbols; 3 some differ, or a
 * symbol was found or fetched by only one endpoint; 1 failed; 2 usage) and
 * `error`. Fields compared are the catalog fields both
 * endpoints carry ({@linkcode PROBE_FIELDS}), taken as the API sent them
 * (defaults not applied): a value on one side and null on the other is a
 * difference.
 *
 * @example
 * ```ts
 * import { parseProbeCli } from "./input/probe_cli.ts";
 * import { formatProbe, runProbe } from "./probe.ts";
 * import { stderrLogger } from "./report/log.ts";
 * const command = parseProbeCli(["--symbols", "NASDAQ:AAPL"], {});
 * if (command.kind === "probe") {
 *   const report = await runProbe(command.options, { log: stderrLogger({ quiet: false }) });
 *   console.log(formatProbe(report));
 * }
 * ```
 *
 * @module
 */
import { describeError, IngestError } from "./core/errors.ts";
import { counted, grouped, printable, redactUrl } from "./core/text.ts";
import { projectRoot } from "./fs/paths.ts";
import { signalExitCode } from "./report/report.ts";
import { normalizeTargets } from "./input/candidates.ts";
import type { ProbeOptions } from "./input/probe_cli.ts";
import { sameValue, SHARED_FIELDS } from "./record/compare.ts";
import { fetchAll, type SymbolOutcome, TradingViewClient } from "./fetch/client.ts";
import { fetchAllScan } from "./fetch/scan.ts";
import { openStore, readStore } from "./locate.ts";
import type { S3Env } from "./store/env.ts";
import { readSnapshot } from "./snapshot.ts";
import type { Logger } from "./report/log.ts";

/** The catalog fields both endpoints carry: what the probe compares (lib/record/compare.ts). */
export const PROBE_FIELDS: typeof SHARED_FIELDS = SHARED_FIELDS;

/** One value as the probe shows it. */
export type ProbeValue = string | number | boolean | null;

/** How one field fared across the symbols both endpoints returned. */
export interface FieldAgreement {
  /** The catalog field. */
  field: string;
  /** Symbols where both endpoints agree. */
  agree: number;
  /** Symbols where they differ. */
  differ: number;
  /** The first few differences (at most 3). */
  examples: { symbol: string; symbol_value: ProbeValue; scan_value: ProbeValue }[];
}

/** What a probe found; `--json` prints it as it is. */
export interface ProbeReport {
  /** Symbols probed (after sampling). */
  symbols: number;
  /** Symbols both endpoints returned, whose fields were compared. */
  compared: number;
  /** Per field, in {@linkcode PROBE_FIELDS} order. */
  fields: FieldAgreement[];
  /** Found by `/symbol` but missing from `/scan` (global and crypto). */
  only_symbol: string[];
  /** Returned by `/scan` but "not found" by `/symbol`. */
  only_scan: string[];
  /** Symbols that failed on either endpoint, with the reason. */
  failed: { symbol: string; endpoint: "symbol" | "scan"; reason: string }[];
  /** Requests per endpoint. */
  http: { symbol: number; scan: number; retries: number; status429: number };
  /** True when every compared field agrees and both endpoints answered every symbol alike. */
  agree: boolean;
  /** 0 agree, 3 differ, 1 failed, 2 usage. */
  exit_code: number;
  /** The one-line error of a failed probe. */
  error: string | null;
  /** Wall time. */
  duration_ms: number;
}

/** What a probe needs from its surroundings. */
export interface ProbeDeps {
  /** Where progress and warnings go (stderr). */
  log: Logger;
  /** Project root (real path); defaults to the working directory. */
  root?: string;
  /** Cancels the probe. */
  signal?: AbortSignal;
  /** The AWS variables, for `--from-catalog` on an S3 catalog. */
  env?: S3Env;
}

/**
 * At most `n` items spread evenly over a sorted list (first and last kept).
 *
 * @example
 * ```ts
 * import { spread } from "./probe.ts";
 * spread(["a", "b", "c", "d", "e"], 3); // ["a", "c", "e"]
 * ```
 */
export function spread<T>(items: readonly T[], n: number): T[] {
  if (items.length <= n) return [...items];
  if (n === 1) return [items[0]];
  return Array.from({ length: n }, (_, i) => items[Math.round((i * (items.length - 1)) / (n - 1))]);
}

async function catalogSymbols(
  options: ProbeOptions,
  root: string,
  env: S3Env,
): Promise<string[]> {
  await using store = await openStore(options.catalogPath, { root, env, purpose: "read" });
  await readStore(
    store,
    options.catalogPath,
    new IngestError(
      "input",
      `no catalog at ${options.catalogPath} to sample symbols from`,
      "give --symbols EX:TICKER,... or --catalog-path",
    ),
  );
  const { Catalog } = await import("./catalog/catalog.ts");
  await using catalog = await Catalog.open(store.localPath("symbols"));
  // One version, as show reads it: the checksum and the symbols from the same file.
  return (await readSnapshot(store, catalog, () => catalog.activeSymbols())).value;
}

/**
 * Runs one probe; see the module doc.
 *
 * @example
 * ```ts
 * import { runProbe } from "./probe.ts";
 * import { memoryLogger } from "./report/log.ts";
 * // const report = await runProbe(options, { log: memoryLogger() });
 * ```
 */
export async function runProbe(options: ProbeOptions, deps: ProbeDeps): Promise<ProbeReport> {
  const started = performance.now();
  const report: ProbeReport = {
    symbols: 0,
    compared: 0,
    fields: PROBE_FIELDS.map((field) => ({ field, agree: 0, differ: 0, examples: [] })),
    only_symbol: [],
    only_scan: [],
    failed: [],
    http: { symbol: 0, scan: 0, retries: 0, status429: 0 },
    agree: false,
    exit_code: 1,
    error: null,
    duration_ms: 0,
  };
  try {
    const root = deps.root ?? await projectRoot();
    const raw = options.source.kind === "symbols"
      ? options.source.list
      : await catalogSymbols(options, root, deps.env ?? {});
    const targets = normalizeTargets(raw, { defaultExchange: options.defaultExchange });
    for (const entry of targets.invalid) {
      deps.log.warn(`skipping invalid entry #${entry.index + 1} ${entry.input}: ${entry.reason}`);
    }
    const symbols = spread(targets.valid, options.sample);
    report.symbols = symbols.length;
    if (symbols.length === 0) {
      throw new IngestError("input", "no symbols to probe", "give --symbols EX:TICKER,...");
    }
    const client = new TradingViewClient({
      baseUrl: options.baseUrl,
      timeoutMs: options.timeoutMs,
      maxRetries: options.maxRetries,
      workers: options.workers,
      onEvent: (message) => deps.log.warn(message),
      signal: deps.signal,
    });
    deps.log.info(
      `probing ${counted(symbols.length, "symbol")} through /symbol and /scan at ${
        redactUrl(options.baseUrl)
      }`,
    );
    const viaScan = await fetchAllScan(client, symbols, options.workers, undefined, {
      confirm: false,
    });
    const viaSymbol = await fetchAll(client, symbols, options.workers);
    report.http = {
      symbol: client.byEndpoint.symbol,
      scan: client.byEndpoint.scan,
      retries: client.stats.retries,
      status429: client.stats.status429,
    };
    if (deps.signal?.aborted) throw new IngestError("internal", "interrupted; nothing compared");
    compare(report, symbols, viaSymbol, viaScan);
    if (report.compared === 0) {
      throw new IngestError(
        "input",
        "no symbol was returned by both endpoints; nothing to compare",
        "check --base-url and the symbols (the failures are listed)",
      );
    }
    // Failed symbols are missing evidence: not "agree" either.
    report.agree = report.fields.every((f) => f.differ === 0) &&
      report.only_scan.length === 0 && report.only_symbol.length === 0 &&
      report.failed.length === 0;
    report.exit_code = report.agree ? 0 : 3;
  } catch (err) {
    report.error = describeError(err);
    report.exit_code = err instanceof IngestError && err.kind === "usage" ? 2 : 1;
  } finally {
    // A signal ends the probe with its code, in the report as in the process.
    if (deps.signal?.aborted) {
      report.exit_code = signalExitCode(deps.signal.reason);
      report.error = `interrupted by ${String(deps.signal.reason)}; nothing compared`;
    }
    report.duration_ms = Math.round(performance.now() - started);
  }
  return report;
}

function compare(
  report: ProbeReport,
  symbols: readonly string[],
  viaSymbol: readonly SymbolOutcome[],
  viaScan: readonly SymbolOutcome[],
): void {
  for (const [i, symbol] of symbols.entries()) {
    const a = viaSymbol[i];
    const b = viaScan[i];
    if (a.kind === "failed") report.failed.push({ symbol, endpoint: "symbol", reason: a.reason });
    if (b.kind === "failed") report.failed.push({ symbol, endpoint: "scan", reason: b.reason });
    if (a.kind === "fetched" && b.kind === "not-found") report.only_symbol.push(symbol);
    if (a.kind === "not-found" && b.kind === "fetched") report.only_scan.push(symbol);
    if (a.kind !== "fetched" || b.kind !== "fetched") continue;
    report.compared++;
    for (const agreement of report.fields) {
      const field = agreement.field as (typeof PROBE_FIELDS)[number];
      const x: ProbeValue = a.record[field];
      const y: ProbeValue = b.record[field];
      // The one comparison (lib/record/compare.ts): spellings normalised,
      // but a value against a null is a difference here (nothing is learned).
      if (sameValue(field, x, y)) {
        agreement.agree++;
      } else {
        agreement.differ++;
        if (agreement.examples.length < 3) {
          agreement.examples.push({ symbol, symbol_value: x, scan_value: y });
        }
      }
    }
  }
}

/** Longest value or reason printed in the table (escaped text; see `printable`). */
const FIELD_MAX = 120;

/** Outside text (API values, symbols, reasons) as it may reach a terminal. */
const field = (text: string) => printable(text, FIELD_MAX);

const show = (value: ProbeValue) =>
  typeof value === "string" ? field(JSON.stringify(value)) : String(value);

/**
 * The agreement table people read (stdout without `--json`).
 *
 * @example
 * ```ts
 * import { formatProbe } from "./probe.ts";
 * // console.log(formatProbe(report));
 * ```
 */
export function formatProbe(report: ProbeReport): string {
  const lines = [
    `meta-ingest probe: ${counted(report.symbols, "symbol")}, ${
      grouped(report.compared)
    } returned by both endpoints ` +
    `(${grouped(report.http.symbol)} /symbol and ${grouped(report.http.scan)} /scan requests)`,
  ];
  if (report.compared > 0) {
    const width = Math.max(5, ...report.fields.map((f) => f.field.length));
    lines.push(`  ${"field".padEnd(width)}  agree  differ  example`);
    for (const f of report.fields) {
      const example = f.examples[0]
        ? `${field(f.examples[0].symbol)}: /symbol ${show(f.examples[0].symbol_value)}, /scan ${
          show(f.examples[0].scan_value)
        }`
        : "";
      lines.push(
        `  ${f.field.padEnd(width)}  ${String(f.agree).padStart(5)}  ${
          String(f.differ).padStart(6)
        }  ${example}`.trimEnd(),
      );
    }
  }
  const list = (title: string, items: string[]) => {
    if (items.length === 0) return;
    lines.push(
      `${title} (${items.length}): ${items.slice(0, 20).map(field).join(", ")}${
        items.length > 20 ? `, ... and ${items.length - 20} more` : ""
      }`,
    );
  };
  list("found by /symbol only", report.only_symbol);
  list("found by /scan only", report.only_scan);
  list("failed", report.failed.map((f) => `${f.symbol} (${f.endpoint}: ${f.reason})`));
  lines.push(
    report.error
      ? `probe failed: ${field(report.error)}`
      : report.agree
      ? "every field both endpoints carry agrees: --endpoint scan is safe for these symbols"
      : "the endpoints disagree: keep --endpoint symbol, or check the fields above",
  );
  return lines.join("\n");
}
