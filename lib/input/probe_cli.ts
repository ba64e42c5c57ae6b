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
import { parseArgs } from "node:util";
import { z } from "zod";
import { IngestError } from "../core/errors.ts";
import { isExchangeCode } from "../record/symbols.ts";
import { type CliEnv, DEFAULTS } from "./cli.ts";

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
export type ProbeCommand = { kind: "help" } | { kind: "probe"; options: ProbeOptions };

/** Default number of symbols probed. */
export const DEFAULT_SAMPLE = 50;

/** The text `meta-ingest probe --help` prints. */
export const PROBE_HELP = `meta-ingest probe: fetch the same symbols through /symbol and through
/scan and print a field-by-field agreement table. Read-only: it never
writes the catalog. Run it before switching a nightly job to --endpoint scan.

Usage:
  meta-ingest probe [--symbols EX:TICKER,...|--from-catalog] [--sample N] [--json]

Options:
  --symbols LIST           comma-separated symbols
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
  --help

Exit codes: 0 every field both endpoints carry agrees, 3 some differ (or a
symbol was found by only one endpoint), 1 failed, 2 usage error.`;

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
    return url.href.replace(/\/+$/, "");
  });

const flagsSchema = z.object({
  "symbols": z.string().optional(),
  "from-catalog": z.boolean().optional(),
  "sample": wholeNumber("--sample", 1, 5000).optional(),
  "catalog-path": z.string().min(1, "--catalog-path needs a path").default(DEFAULTS.catalogPath),
  "default-exchange": z.string().transform((text, ctx) => {
    const value = text.trim().toUpperCase();
    if (!isExchangeCode(value)) {
      ctx.addIssue({
        code: "custom",
        message: `--default-exchange must be an exchange code like BINANCE, got "${text}"`,
      });
      return z.NEVER;
    }
    return value;
  }).optional(),
  "base-url": httpUrl("--base-url").optional(),
  "workers": wholeNumber("--workers", 1, 16).optional(),
  "timeout-ms": wholeNumber("--timeout-ms", 100, 120_000).optional(),
  "max-retries": wholeNumber("--max-retries", 0, 10).optional(),
  "json": z.boolean().optional(),
  "quiet": z.boolean().optional(),
  "help": z.boolean().optional(),
});

const parseConfig = {
  "symbols": { type: "string" },
  "from-catalog": { type: "boolean" },
  "sample": { type: "string" },
  "catalog-path": { type: "string" },
  "default-exchange": { type: "string" },
  "base-url": { type: "string" },
  "workers": { type: "string" },
  "timeout-ms": { type: "string" },
  "max-retries": { type: "string" },
  "json": { type: "boolean" },
  "quiet": { type: "boolean" },
  "help": { type: "boolean", short: "h" },
} as const;

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
  let values: Record<string, unknown>;
  try {
    values = parseArgs({ args: [...args], options: parseConfig, strict: true }).values;
  } catch (err) {
    throw usage(err instanceof Error ? err.message.split("\n")[0] : String(err));
  }
  const result = flagsSchema.safeParse(values);
  if (!result.success) throw usage(result.error.issues[0].message);
  const flags = result.data;
  if (flags.help) return { kind: "help" };
  if (flags.symbols !== undefined && flags["from-catalog"]) {
    throw usage("give only one of --symbols or --from-catalog");
  }
  let baseUrl = flags["base-url"];
  if (baseUrl === undefined && env.META_INGEST_BASE_URL) {
    const fromEnv = httpUrl("META_INGEST_BASE_URL").safeParse(env.META_INGEST_BASE_URL);
    if (!fromEnv.success) throw usage(fromEnv.error.issues[0].message);
    baseUrl = fromEnv.data;
  }
  return {
    kind: "probe",
    options: {
      source: flags.symbols !== undefined
        ? { kind: "symbols", list: flags.symbols.split(",") }
        : { kind: "from-catalog" },
      sample: flags.sample ?? DEFAULT_SAMPLE,
      catalogPath: flags["catalog-path"],
      defaultExchange: flags["default-exchange"],
      baseUrl: baseUrl ?? DEFAULTS.baseUrl,
      workers: flags.workers ?? DEFAULTS.workers,
      timeoutMs: flags["timeout-ms"] ?? DEFAULTS.timeoutMs,
      maxRetries: flags["max-retries"] ?? DEFAULTS.maxRetries,
      json: flags.json ?? false,
      quiet: flags.quiet ?? false,
    },
  };
}
