/**
 * The command-line contract: flags in, a validated job description out.
 *
 * Promises: {@linkcode parseCli} never exits or prints. It returns a
 * {@linkcode CliCommand} or throws an {@linkcode IngestError} of kind `usage`
 * (exit 2) naming the flag at fault. Numbers are whole numbers in their range
 * or an error; nothing is silently clamped.
 *
 * @example
 * ```ts
 * import { parseCli } from "./cli.ts";
 * const command = parseCli(["--symbols", "NASDAQ:AAPL", "--dry-run"], {});
 * // { kind: "run", options: { source: { kind: "symbols", ... }, dryRun: true, ... } }
 * ```
 *
 * @module
 */
import { z } from "zod";
import { IngestError } from "../core/errors.ts";
import { SECOND_SIGNAL_TEXT } from "../core/signals.ts";
import { isExchangeCode } from "../record/symbols.ts";
import { S3_ENV_NAMES } from "../store/env.ts";
import { booleanFlag, type FlagSpec, type FlagTable, parseFlags, stringFlag } from "./flags.ts";

/** Where this run's targets come from. */
export type TargetSource =
  | { kind: "candidates-file"; path: string }
  | { kind: "symbols"; list: string[] }
  | { kind: "from-catalog" };

/**
 * Which scanner endpoint fetches: `auto` (batches for symbols the catalog
 * knows, `/symbol` for new ones, spot-checked every run), one `/symbol` GET
 * per symbol, or `/scan` batches only.
 */
export type Endpoint = "auto" | "symbol" | "scan";

/** Everything a run needs to know, validated. */
export interface RunOptions {
  /** Where the targets come from (exactly one source). */
  source: TargetSource;
  /** `auto` (default), `symbol` or `scan`; see {@linkcode Endpoint}. */
  endpoint: Endpoint;
  /** `--verify`: symbols served by `/scan` that `auto` also asks `/symbol` about, 0..50. */
  verify: number;
  /** `--catalog-path`: the catalog file, as given (the job resolves it inside the root). */
  catalogPath: string;
  /** `--workers`: requests in flight, 1..16. */
  workers: number;
  /** `--default-exchange`: the exchange for bare tickers; without it they are invalid. */
  defaultExchange?: string;
  /** `--base-url` (or `META_INGEST_BASE_URL`): the scanner API's origin. */
  baseUrl: string;
  /** `--timeout-ms`: per-request timeout, 100..120000. */
  timeoutMs: number;
  /** `--max-retries`: retries per symbol after the first attempt, 0..10. */
  maxRetries: number;
  /** `--max-throttle-s`: total seconds the pool may spend paused by server throttling, 0..3600. */
  maxThrottleS: number;
  /** `--lock-timeout-ms`: how long to wait for the catalog lock, 0..3600000. */
  lockTimeoutMs: number;
  /** `--retire-not-found`: symbols TradingView definitely does not know get an inactive row. */
  retireNotFound: boolean;
  /** `--dry-run`: fetch and compute the diff; write nothing, take no lock. */
  dryRun: boolean;
  /** `--json`: print the run report as one JSON object on stdout. */
  json: boolean;
  /** `--quiet`: no progress or summary on stderr. */
  quiet: boolean;
}

/** What the command line asks for. */
export type CliCommand =
  | { kind: "help" }
  | { kind: "version" }
  | { kind: "run"; options: RunOptions };

/** The environment variables the tool reads (and nothing else). */
export interface CliEnv {
  /** The scanner API's origin when `--base-url` is absent. */
  META_INGEST_BASE_URL?: string;
  /** `auto`, `symbol` or `scan` when `--endpoint` is absent. */
  META_INGEST_ENDPOINT?: string;
  /** An S3 catalog's credentials and store, by the AWS conventions (lib/store/s3.ts). */
  AWS_ACCESS_KEY_ID?: string;
  /** The secret of `AWS_ACCESS_KEY_ID`; never printed. */
  AWS_SECRET_ACCESS_KEY?: string;
  /** A session token, for temporary credentials; never printed. */
  AWS_SESSION_TOKEN?: string;
  /** The store's region (default us-east-1). */
  AWS_REGION?: string;
  /** A store other than AWS S3 (path-style URLs). */
  AWS_ENDPOINT_URL_S3?: string;
  /** As `AWS_ENDPOINT_URL_S3`, for every AWS service. */
  AWS_ENDPOINT_URL?: string;
}

/** Every variable of {@linkcode CliEnv}: the permission sets' env allow-list. */
export const ENV_NAMES = [
  "META_INGEST_BASE_URL",
  "META_INGEST_ENDPOINT",
  ...S3_ENV_NAMES,
] as const satisfies readonly (keyof CliEnv)[];

/** Defaults, as documented in `--help` and the README. */
export const DEFAULTS = {
  catalogPath: "data/lakehouse/symbols.parquet",
  workers: 3,
  baseUrl: "https://scanner.tradingview.com",
  endpoint: "auto",
  verify: 3,
  timeoutMs: 10_000,
  maxRetries: 4,
  maxThrottleS: 300,
  lockTimeoutMs: 60_000,
} as const;

/**
 * The exit codes every command shares, for the help texts: a signal stops
 * any command with 130 (SIGINT, Ctrl-C) or 143 (SIGTERM).
 */
export const SIGNAL_EXITS = "130 stopped by SIGINT (Ctrl-C), 143 stopped by SIGTERM";

/** What `--root` does, for the help texts. */
export const ROOT_HELP =
  `  --root DIR               the project root (default: the current folder); every
                           path is relative to it and must lie inside it`;

/** The ingest command's help (`meta-ingest ingest --help`). */
export const HELP = `meta-ingest: refresh TradingView instrument metadata for this run's symbols
and merge it into the catalog (data/lakehouse/symbols.parquet) with history.

Usage:
  meta-ingest [ingest] --candidates-file PATH [options]
  meta-ingest [ingest] --symbols EX:TICKER,EX:TICKER [options]
  meta-ingest [ingest] --from-catalog [options]

Targets (exactly one):
  --candidates-file PATH   JSON list of symbols or {"symbol": ...} objects,
                           or {"data": [...]}; must lie inside the project root;
                           - reads it from stdin
  --symbols LIST           symbols separated by commas or spaces,
                           e.g. "BINANCE:BTCUSDT,NASDAQ:AAPL"
  --from-catalog           every symbol whose current catalog row is active

Options:
  --catalog-path PATH      catalog Parquet file, ending in .parquet (default
                           ${DEFAULTS.catalogPath}); exchanges.parquet is written beside it
  --workers N              requests in flight, 1..16 (default ${DEFAULTS.workers})
  --default-exchange EX    exchange for bare tickers (BTCUSDT -> EX:BTCUSDT)
  --base-url URL           scanner API base (default ${DEFAULTS.baseUrl};
                           env META_INGEST_BASE_URL)
  --endpoint auto|symbol|scan
                           auto (default): /scan batches for symbols the catalog
                           knows, /symbol for new ones, spot-checked every run;
                           symbol: one request per symbol; scan: batches only
                           (env META_INGEST_ENDPOINT)
  --verify N               symbols auto checks against /symbol, 0..50 (default ${DEFAULTS.verify})
  --timeout-ms N           per-request timeout, 100..120000 (default ${DEFAULTS.timeoutMs})
  --max-retries N          retries per symbol, 0..10 (default ${DEFAULTS.maxRetries})
  --max-throttle-s N       total pause while the server throttles us, 0..3600
                           (default ${DEFAULTS.maxThrottleS}); then the rest fail
  --lock-timeout-ms N      wait for the catalog lock, 0..3600000 (default ${DEFAULTS.lockTimeoutMs})
  --retire-not-found       mark symbols TradingView does not know as inactive
  --dry-run                fetch and show what would change; write nothing
  --json                   print the run report as one JSON object on stdout
                           (on every exit, usage errors included)
  --quiet                  no progress or summary on stderr (errors, and one
                           line on a partial run, still shown)
${ROOT_HELP}
  -h, --help               this help (meta-ingest help COMMAND: another command's)
  -V, --version            the version

Examples:
  meta-ingest --candidates-file run/candidates.json
  meta-ingest --symbols "NASDAQ:AAPL BINANCE:BTCUSDT" --dry-run
  upstream-step | meta-ingest --candidates-file - --json > report.json
  meta-ingest --from-catalog --quiet --json > report.json

Ctrl-C stops the run before its write (a second Ctrl-C, ${SECOND_SIGNAL_TEXT},
exits at once).

Exit codes: 0 done, 3 partial (some invalid or failed; the rest merged),
1 failed (nothing written), 2 usage error, ${SIGNAL_EXITS}.`;

const wholeNumber = (flag: string, min: number, max: number) =>
  z.string().transform((text, ctx) => {
    const value = /^\d{1,10}$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
    if (!Number.isInteger(value) || value < min || value > max) {
      ctx.addIssue({
        code: "custom",
        message: `${flag} must be a whole number from ${min} to ${max}, got "${text}"`,
      });
      return z.NEVER;
    }
    return value;
  });

/**
 * An optional flag whose text must be a whole number in `min..max`; anything
 * else is a usage error naming the flag and the value (nothing is clamped).
 *
 * @example
 * ```ts
 * import { wholeNumberFlag } from "./cli.ts";
 * const sample = wholeNumberFlag("--sample", 1, 5000);
 * ```
 */
export function wholeNumberFlag(
  flag: string,
  min: number,
  max: number,
): FlagSpec<number | undefined> {
  return stringFlag(wholeNumber(flag, min, max).optional());
}

const httpUrl = (source: string) =>
  z.string().transform((text, ctx) => {
    let url: URL | undefined;
    try {
      url = new URL(text);
    } catch {
      // reported below
    }
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
      ctx.addIssue({ code: "custom", message: `${source} must be an http(s) URL, got "${text}"` });
      return z.NEVER;
    }
    // The tool appends its own paths and queries: a ?query or #fragment here
    // would swallow them, and every symbol would read as "not found".
    if (url.search || url.hash || /[?#]/.test(text)) {
      ctx.addIssue({
        code: "custom",
        message: `${source} must not have a ?query or #fragment (the tool adds its own paths ` +
          `and queries), got "${text}"`,
      });
      return z.NEVER;
    }
    return url.href.replace(/\/+$/, "");
  });

const endpointName = (source: string) =>
  z.string().transform((text, ctx): Endpoint => {
    const value = text.trim().toLowerCase();
    if (value !== "auto" && value !== "symbol" && value !== "scan") {
      ctx.addIssue({
        code: "custom",
        message: `${source} must be auto, symbol or scan, got "${text}"`,
      });
      return z.NEVER;
    }
    return value;
  });

/** `--catalog-path`, shared by every command that reads or writes the catalog. */
export const catalogPathFlag: FlagSpec<string> = stringFlag(
  z.string().min(1, "--catalog-path needs a path").default(DEFAULTS.catalogPath),
);

/** `--default-exchange`: bare tickers get this exchange (upper-cased, checked). */
export const defaultExchangeFlag: FlagSpec<string | undefined> = stringFlag(
  z.string().transform((text, ctx) => {
    const value = text.trim().toUpperCase();
    // Non-ASCII first: upper-casing would turn "ß" into "SS".
    if (/[\u0080-\uffff]/.test(text) || !isExchangeCode(value)) {
      ctx.addIssue({
        code: "custom",
        message: `--default-exchange must be an exchange code like BINANCE, got "${text}"`,
      });
      return z.NEVER;
    }
    return value;
  }).optional(),
);

/**
 * The ingest command's flags, each declared once (see flags.ts); `probe`
 * reuses the specs of the flags it shares.
 */
export const INGEST_FLAGS = {
  "candidates-file": stringFlag(z.string().min(1, "--candidates-file needs a path").optional()),
  "symbols": stringFlag(z.string().optional()),
  "from-catalog": booleanFlag(),
  "catalog-path": catalogPathFlag,
  "workers": stringFlag(wholeNumber("--workers", 1, 16).optional()),
  "default-exchange": defaultExchangeFlag,
  "base-url": stringFlag(httpUrl("--base-url").optional()),
  "endpoint": stringFlag(endpointName("--endpoint").optional()),
  "verify": stringFlag(wholeNumber("--verify", 0, 50).optional()),
  "timeout-ms": stringFlag(wholeNumber("--timeout-ms", 100, 120_000).optional()),
  "max-retries": stringFlag(wholeNumber("--max-retries", 0, 10).optional()),
  "max-throttle-s": stringFlag(wholeNumber("--max-throttle-s", 0, 3600).optional()),
  "lock-timeout-ms": stringFlag(wholeNumber("--lock-timeout-ms", 0, 3_600_000).optional()),
  "retire-not-found": booleanFlag(),
  "dry-run": booleanFlag(),
  "json": booleanFlag(),
  "quiet": booleanFlag(),
  "help": booleanFlag("h"),
  "version": booleanFlag("V"),
} as const satisfies FlagTable;

function usage(message: string): IngestError {
  return new IngestError("usage", message, "run meta-ingest --help for usage");
}

/**
 * The usage error for a bare word where a run takes only flags; one that
 * reads like a symbol is pointed at `--symbols`.
 *
 * @example
 * ```ts
 * import { strayArgument } from "./cli.ts";
 * strayArgument("NASDAQ:AAPL").message; // 'unexpected argument "NASDAQ:AAPL"; did you mean --symbols NASDAQ:AAPL?'
 * ```
 */
export function strayArgument(word: string, help = "meta-ingest --help"): IngestError {
  const symbolLike = /^[A-Za-z0-9_]+:\S+$/.test(word);
  return new IngestError(
    "usage",
    `unexpected argument "${word}"${symbolLike ? `; did you mean --symbols ${word}?` : ""}`,
    `run ${help} for usage`,
  );
}

/**
 * A list of symbols as `--symbols` and `show` take it: separated by commas,
 * spaces or both; empty pieces are not entries.
 *
 * @example
 * ```ts
 * import { splitSymbols } from "./cli.ts";
 * splitSymbols("NASDAQ:AAPL, NYSE:KO BINANCE:BTCUSDT"); // ["NASDAQ:AAPL", "NYSE:KO", "BINANCE:BTCUSDT"]
 * ```
 */
export function splitSymbols(text: string): string[] {
  return text.split(/[\s,]+/).filter((piece) => piece !== "");
}

/**
 * The scanner API base: the `--base-url` flag's value, else
 * `META_INGEST_BASE_URL` (checked like the flag), else the default.
 *
 * @example
 * ```ts
 * import { baseUrlOf } from "./cli.ts";
 * baseUrlOf(undefined, {}, (m) => new Error(m)); // "https://scanner.tradingview.com"
 * ```
 */
export function baseUrlOf(
  flag: string | undefined,
  env: CliEnv,
  usage: (message: string) => Error,
): string {
  if (flag !== undefined) return flag;
  if (!env.META_INGEST_BASE_URL) return DEFAULTS.baseUrl;
  const fromEnv = httpUrl("META_INGEST_BASE_URL").safeParse(env.META_INGEST_BASE_URL);
  if (!fromEnv.success) throw usage(fromEnv.error.issues[0].message);
  return fromEnv.data;
}

/**
 * Parses and validates the command line; see the module doc.
 *
 * @example
 * ```ts
 * import { parseCli } from "./cli.ts";
 * parseCli(["--from-catalog", "--workers", "4"], {}).kind; // "run"
 * parseCli(["--help"], {}).kind;                           // "help"
 * ```
 */
export function parseCli(args: readonly string[], env: CliEnv): CliCommand {
  const { flags, positionals } = parseFlags(INGEST_FLAGS, args, { positionals: true, usage });
  if (flags.help) return { kind: "help" };
  if (flags.version) return { kind: "version" };
  if (positionals.length) throw strayArgument(positionals[0]);

  const sources: TargetSource[] = [];
  if (flags["candidates-file"] !== undefined) {
    sources.push({ kind: "candidates-file", path: flags["candidates-file"] });
  }
  if (flags.symbols !== undefined) {
    sources.push({ kind: "symbols", list: splitSymbols(flags.symbols) });
  }
  if (flags["from-catalog"]) sources.push({ kind: "from-catalog" });
  if (sources.length !== 1) {
    throw usage(
      sources.length === 0
        ? "no targets: give one of --candidates-file, --symbols or --from-catalog"
        : "give only one of --candidates-file, --symbols or --from-catalog",
    );
  }

  const baseUrl = baseUrlOf(flags["base-url"], env, usage);

  let endpoint = flags.endpoint;
  if (endpoint === undefined && env.META_INGEST_ENDPOINT) {
    const fromEnv = endpointName("META_INGEST_ENDPOINT").safeParse(env.META_INGEST_ENDPOINT);
    if (!fromEnv.success) throw usage(fromEnv.error.issues[0].message);
    endpoint = fromEnv.data;
  }

  return {
    kind: "run",
    options: {
      source: sources[0],
      endpoint: endpoint ?? DEFAULTS.endpoint,
      verify: flags.verify ?? DEFAULTS.verify,
      catalogPath: flags["catalog-path"],
      workers: flags.workers ?? DEFAULTS.workers,
      defaultExchange: flags["default-exchange"],
      baseUrl,
      timeoutMs: flags["timeout-ms"] ?? DEFAULTS.timeoutMs,
      maxRetries: flags["max-retries"] ?? DEFAULTS.maxRetries,
      maxThrottleS: flags["max-throttle-s"] ?? DEFAULTS.maxThrottleS,
      lockTimeoutMs: flags["lock-timeout-ms"] ?? DEFAULTS.lockTimeoutMs,
      retireNotFound: flags["retire-not-found"] ?? false,
      dryRun: flags["dry-run"] ?? false,
      json: flags.json ?? false,
      quiet: flags.quiet ?? false,
    },
  };
}
