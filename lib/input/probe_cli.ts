/**
 * The command line of `meta-ingest probe`: which symbols to compare between
 * the `/symbol` and `/scan` endpoints, validated.
 *
 * Promises: {@linkcode parseProbeCli} never exits or prints. It answers a
 * {@linkcode ProbeCommand} or throws an {@linkcode IngestError} of kind
 * `usage` (exit 2) naming the flag at fault; numbers are whole numbers in
 * range, never clamped. The probe only reads: it takes no flag that writes.
 *
 * @example
 * ```ts
 * import { parseProbeCli } from "./probe_cli.ts";
 * const command = parseProbeCli(["--from-catalog", "--sample", "20"], {});
 * // { kind: "probe", options: { source: { kind: "from-catalog" }, sample: 20, ... } }
 * ```
 *
 * @module
 */
import { IngestError } from "../core/errors.ts";
import {
  baseUrlOf,
  type CliEnv,
  DEFAULTS,
  INGEST_FLAGS,
  ROOT_HELP,
  SIGNAL_EXITS,
  splitSymbols,
  strayArgument,
  wholeNumberFlag,
} from "./cli.ts";
import { type FlagTable, parseFlags } from "./flags.ts";

/** What to probe, validated. */
export interface ProbeOptions {
  /** The symbols: a list, or a sample of the catalog's active symbols. */
  source: { kind: "symbols"; list: string[] } | { kind: "from-catalog" };
  /** How many symbols at most (an even spread of the sorted targets). */
  sample: number;
  /** The catalog read by `--from-catalog` (never written). */
  catalogPath: string;
  /** Exchange for bare tickers. */
  defaultExchange?: string;
  /** The scanner API base URL. */
  baseUrl: string;
  /** Requests in flight. */
  workers: number;
  /** Per-request timeout. */
  timeoutMs: number;
  /** Retries per request after the first attempt. */
  maxRetries: number;
  /** Print the result as one JSON object on stdout. */
  json: boolean;
  /** No progress lines on stderr. */
  quiet: boolean;
}

/** What `meta-ingest probe ...` asks for. */
export type ProbeCommand =
  | { kind: "help" }
  | { kind: "version" }
  | { kind: "probe"; options: ProbeOptions };

/** Default number of symbols probed. */
export const DEFAULT_SAMPLE = 50;

/** The text `meta-ingest probe --help` prints. */
export const PROBE_HELP = `meta-ingest probe: fetch the same symbols through /symbol and through
/scan and print a field-by-field agreement table. Read-only: it never
writes the catalog. Run it before switching a nightly job to --endpoint scan.

Usage:
  meta-ingest probe [--symbols EX:TICKER,...|--from-catalog] [--sample N] [--json]

Options:
  --symbols LIST           symbols separated by commas or spaces
  --from-catalog           a sample of the catalog's active symbols (the default)
  --sample N               at most N symbols, spread evenly, 1..5000 (default ${DEFAULT_SAMPLE})
  --catalog-path PATH      catalog read by --from-catalog (default ${DEFAULTS.catalogPath})
  --default-exchange EX    exchange for bare tickers
  --base-url URL           scanner API base (default ${DEFAULTS.baseUrl};
                           env META_INGEST_BASE_URL)
  --workers N              requests in flight, 1..16 (default ${DEFAULTS.workers})
  --timeout-ms N           per-request timeout, 100..120000 (default ${DEFAULTS.timeoutMs})
  --max-retries N          retries per request, 0..10 (default ${DEFAULTS.maxRetries})
  --json                   print the result as one JSON object on stdout
  --quiet                  no progress on stderr
${ROOT_HELP}
  -h, --help               this help
  -V, --version            the version

Examples:
  meta-ingest probe --symbols NASDAQ:AAPL,CME_MINI:ES1!
  meta-ingest probe --from-catalog --sample 50 --json > probe.json

Exit codes: 0 every field both endpoints carry agrees, 3 some differ (or a
symbol was found by only one endpoint), 1 failed, 2 usage error,
${SIGNAL_EXITS}.`;

/** Probe's flags: its own `--sample`, and the specs it shares with ingest. */
const PROBE_FLAGS = {
  "symbols": INGEST_FLAGS["symbols"],
  "from-catalog": INGEST_FLAGS["from-catalog"],
  "sample": wholeNumberFlag("--sample", 1, 5000),
  "catalog-path": INGEST_FLAGS["catalog-path"],
  "default-exchange": INGEST_FLAGS["default-exchange"],
  "base-url": INGEST_FLAGS["base-url"],
  "workers": INGEST_FLAGS["workers"],
  "timeout-ms": INGEST_FLAGS["timeout-ms"],
  "max-retries": INGEST_FLAGS["max-retries"],
  "json": INGEST_FLAGS["json"],
  "quiet": INGEST_FLAGS["quiet"],
  "help": INGEST_FLAGS["help"],
  "version": INGEST_FLAGS["version"],
} as const satisfies FlagTable;

function usage(message: string): IngestError {
  return new IngestError("usage", message, "run meta-ingest probe --help for usage");
}

/**
 * Parses the arguments after `probe`; see the module doc.
 *
 * @example
 * ```ts
 * import { parseProbeCli } from "./probe_cli.ts";
 * parseProbeCli(["--symbols", "NASDAQ:AAPL", "--json"], {}).kind; // "probe"
 * ```
 */
export function parseProbeCli(args: readonly string[], env: CliEnv): ProbeCommand {
  const { flags, positionals } = parseFlags(PROBE_FLAGS, args, { positionals: true, usage });
  if (flags.help) return { kind: "help" };
  if (flags.version) return { kind: "version" };
  if (positionals.length) throw strayArgument(positionals[0], "meta-ingest probe --help");
  if (flags.symbols !== undefined && flags["from-catalog"]) {
    throw usage("give only one of --symbols or --from-catalog");
  }
  const baseUrl = baseUrlOf(flags["base-url"], env, usage);
  return {
    kind: "probe",
    options: {
      source: flags.symbols !== undefined
        ? { kind: "symbols", list: splitSymbols(flags.symbols) }
        : { kind: "from-catalog" },
      sample: flags.sample ?? DEFAULT_SAMPLE,
      catalogPath: flags["catalog-path"],
      defaultExchange: flags["default-exchange"],
      baseUrl,
      workers: flags.workers ?? DEFAULTS.workers,
      timeoutMs: flags["timeout-ms"] ?? DEFAULTS.timeoutMs,
      maxRetries: flags["max-retries"] ?? DEFAULTS.maxRetries,
      json: flags.json ?? false,
      quiet: flags.quiet ?? false,
    },
  };
}
