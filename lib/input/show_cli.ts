/**
 * The `show` command line: which symbols, which point in time, which output.
 *
 * Promises: {@linkcode parseShowCli} never exits or prints. It returns a
 * {@linkcode ShowCommand} or throws an {@linkcode IngestError} of kind
 * `usage` (exit 2) naming the flag or symbol at fault. Symbols go through the
 * ingest targets' normalisation (trimmed, upper-cased, `EXCHANGE:TICKER`,
 * duplicates folded, sorted). Times are read by {@linkcode parseTime}, which
 * names the accepted forms when it refuses one.
 *
 * @example
 * ```ts
 * import { parseShowCli } from "./show_cli.ts";
 * const command = parseShowCli(["nasdaq:aapl", "--as-of", "2026-03-01"]);
 * // { kind: "run", options: { symbols: ["NASDAQ:AAPL"], mode: { kind: "as-of", at: "2026-03-01T00:00:00Z" }, ... } }
 * ```
 *
 * @module
 */
import { z } from "zod";
import type { ReadMode } from "../catalog/reader.ts";
import { fractionText } from "../core/time.ts";
import { IngestError } from "../core/errors.ts";
import { normalizeTargets } from "./candidates.ts";
import {
  catalogPathFlag,
  defaultExchangeFlag,
  DEFAULTS,
  ROOT_HELP,
  SIGNAL_EXITS,
  splitSymbols,
} from "./cli.ts";
import { booleanFlag, type FlagTable, parseFlags, stringFlag } from "./flags.ts";

/** What `show` answers (the catalog reader's modes). Times are ISO 8601 UTC. */
export type ShowMode = ReadMode;

/** How `show` prints its answer. */
export type ShowFormat = "table" | "json" | "ndjson" | "csv";

/** Everything a `show` needs to know, validated. */
export interface ShowOptions {
  /** Canonical symbols, unique and sorted; empty when `all`. */
  symbols: string[];
  /** Every symbol of the catalog rather than named ones (`--all`, or `--changed-since` alone). */
  all: boolean;
  /** Now, as of a time, history, or what changed since a time. */
  mode: ShowMode;
  /** Columns asked for with `--columns`, in order; undefined for the default set. */
  columns?: string[];
  /** Table, JSON, NDJSON or CSV. */
  format: ShowFormat;
  /** CSV: exact values, without the `'` that keeps spreadsheets from running formulas (`--csv-raw`). */
  csvRaw: boolean;
  /** Check the rows against the catalog's checksum before printing (off with `--no-verify`). */
  verify: boolean;
  /** The catalog path as given (resolved inside the project root when read). */
  catalogPath: string;
}

/** What a `show` command line asks for. */
export type ShowCommand =
  | { kind: "help" }
  | { kind: "version" }
  | { kind: "run"; options: ShowOptions };

/** The forms {@linkcode parseTime} accepts, as usage errors name them. */
export const TIME_FORMS: string =
  "YYYY-MM-DD (midnight UTC) or YYYY-MM-DDTHH:MM[:SS[.ffffff]] followed by Z or an offset " +
  "like +02:00, e.g. 2026-03-01T00:00:00Z";

/** The text `meta-ingest show --help` prints. */
export const SHOW_HELP = `meta-ingest show: read the catalog back, as it is now or as it was.

Usage:
  meta-ingest show SYMBOL... [options]       the current row of each symbol
  meta-ingest show --all [options]           every current row
  meta-ingest show SYMBOL... --as-of TIME    the row valid at TIME (valid_from <= TIME < valid_until)
  meta-ingest show SYMBOL... --history       every version, oldest first, with what changed
  meta-ingest show --changed-since TIME      symbols whose current version began after TIME,
                                             with what changed since TIME

Options:
  --all                    every symbol instead of named ones
  --as-of TIME             the catalog as it was at TIME
  --history                every version of each symbol
  --changed-since TIME     only symbols that changed after TIME (all symbols unless named)
  --columns a,b,...        columns to print (symbol always comes first)
  --json                   one JSON document on stdout
  --ndjson                 one JSON document per row (for pipelines)
  --csv                    CSV with a header on stdout; text that a spreadsheet would run
                           as a formula (=, +, -, @, tab, CR first) gets a leading '
  --csv-raw                CSV with exact values (no '), for programs rather than spreadsheets
  --no-verify              skip checking the rows against the catalog's checksum (faster on
                           big catalogs; a damaged file is then printed as it is)
  --catalog-path PATH      catalog Parquet file (default ${DEFAULTS.catalogPath})
  --default-exchange EX    exchange for bare tickers (AAPL -> EX:AAPL)
${ROOT_HELP}
  -h, --help               this help
  -V, --version            the version

Examples:
  meta-ingest show NASDAQ:AAPL BINANCE:BTCUSDT
  meta-ingest show NASDAQ:AAPL --history
  meta-ingest show --all --as-of 2026-03-01 --csv > symbols.csv
  meta-ingest show --changed-since 2026-03-01T00:00:00Z --json

TIME: YYYY-MM-DD (midnight UTC), or YYYY-MM-DDTHH:MM[:SS[.ffffff]] followed by
Z or an offset like +02:00 (e.g. 2026-03-01T00:00:00Z).
Symbols are written EXCHANGE:TICKER (case does not matter); a symbol the catalog
did not know at that time is listed as unknown. Output times are ISO 8601 UTC.
Output streams as it is read. A table fits the terminal's width (long text is cut,
ending in …); piped, it is printed at full width.

Exit codes: 0 answered, 1 the catalog is missing or cannot be read, 2 usage
error (a path outside the project root included), ${SIGNAL_EXITS}.`;

function usage(message: string): IngestError {
  return new IngestError("usage", message, "run meta-ingest show --help for usage");
}

const TIME_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?(Z|[+-]\d{2}:?\d{2}))?$/i;

/**
 * Reads a time given on the command line, returning it as ISO 8601 UTC
 * (microsecond precision, the catalog's), or null when `text` is not one of
 * the {@linkcode TIME_FORMS}. A date alone is midnight UTC; a date with a
 * time must say its zone (`Z` or `+HH:MM`), so nothing depends on the
 * machine's zone.
 *
 * @example
 * ```ts
 * import { parseTime } from "./show_cli.ts";
 * parseTime("2026-03-01");                   // "2026-03-01T00:00:00Z"
 * parseTime("2026-03-01T02:30:00.5+02:00");  // "2026-03-01T00:30:00.500Z"
 * parseTime("2026-03-01T00:00:00");          // null (no zone)
 * parseTime("0001-01-01");                   // "0001-01-01T00:00:00Z"
 * ```
 */
export function parseTime(text: string): string | null {
  const match = TIME_RE.exec(text.trim());
  if (!match) return null;
  const [, y, mo, d, h = "00", mi = "00", s = "00", fraction = "", zone = "Z"] = match;
  const parts = [y, mo, d, h, mi, s].map(Number);
  // Not Date.UTC: it reads years 0-99 as 1900-1999.
  const check = new Date(0);
  check.setUTCFullYear(parts[0], parts[1] - 1, parts[2]);
  check.setUTCHours(parts[3], parts[4], parts[5], 0);
  const ms = check.getTime();
  // The Date rolls 2026-02-30 over into March: a round trip catches it.
  if (
    check.getUTCFullYear() !== parts[0] || check.getUTCMonth() !== parts[1] - 1 ||
    check.getUTCDate() !== parts[2] || check.getUTCHours() !== parts[3] ||
    check.getUTCMinutes() !== parts[4] || check.getUTCSeconds() !== parts[5]
  ) {
    return null;
  }
  let offsetMinutes = 0;
  if (zone.toUpperCase() !== "Z") {
    const digits = zone.slice(1).replace(":", "");
    const [oh, om] = [Number(digits.slice(0, 2)), Number(digits.slice(2))];
    if (oh > 23 || om > 59) return null;
    offsetMinutes = (zone[0] === "-" ? -1 : 1) * (oh * 60 + om);
  }
  const utc = new Date(ms - offsetMinutes * 60_000);
  if (utc.getUTCFullYear() < 1 || utc.getUTCFullYear() > 9999) return null;
  return `${utc.toISOString().slice(0, 19)}${fractionText(fraction)}Z`;
}

const timeFlag = (flag: string) =>
  stringFlag(
    z.string().transform((text, ctx) => {
      const iso = parseTime(text);
      if (iso === null) {
        ctx.addIssue({
          code: "custom",
          message: `${flag} "${text}" is not a time; use ${TIME_FORMS}`,
        });
        return z.NEVER;
      }
      return iso;
    }).optional(),
  );

/** The show command's flags, each declared once (see flags.ts). */
const SHOW_FLAGS = {
  "all": booleanFlag(),
  "as-of": timeFlag("--as-of"),
  "history": booleanFlag(),
  "changed-since": timeFlag("--changed-since"),
  "columns": stringFlag(
    z.string().transform((text, ctx) => {
      const names = text.split(",").map((c) => c.trim());
      if (names.some((c) => c === "")) {
        ctx.addIssue({
          code: "custom",
          message: `--columns must be comma-separated column names, got "${text}"`,
        });
        return z.NEVER;
      }
      return [...new Set(names)];
    }).optional(),
  ),
  "json": booleanFlag(),
  "ndjson": booleanFlag(),
  "csv": booleanFlag(),
  "csv-raw": booleanFlag(),
  "no-verify": booleanFlag(),
  "catalog-path": catalogPathFlag,
  "default-exchange": defaultExchangeFlag,
  "help": booleanFlag("h"),
  "version": booleanFlag("V"),
} as const satisfies FlagTable;

/**
 * Parses and validates a `show` command line (the words after `show`); see
 * the module doc.
 *
 * @example
 * ```ts
 * import { parseShowCli } from "./show_cli.ts";
 * parseShowCli(["--all", "--csv"]).kind; // "run"
 * parseShowCli(["--help"]).kind;         // "help"
 * ```
 */
export function parseShowCli(args: readonly string[]): ShowCommand {
  const { flags, positionals } = parseFlags(SHOW_FLAGS, args, { positionals: true, usage });
  if (flags.help) return { kind: "help" };
  if (flags.version) return { kind: "version" };

  const modes: ShowMode[] = [];
  if (flags["as-of"] !== undefined) modes.push({ kind: "as-of", at: flags["as-of"] });
  if (flags.history) modes.push({ kind: "history" });
  if (flags["changed-since"] !== undefined) {
    modes.push({ kind: "changed-since", since: flags["changed-since"] });
  }
  if (modes.length > 1) throw usage("give only one of --as-of, --history or --changed-since");
  const mode = modes[0] ?? { kind: "current" };
  const formats = [
    flags.json && "--json",
    flags.ndjson && "--ndjson",
    (flags.csv || flags["csv-raw"]) && (flags["csv-raw"] ? "--csv-raw" : "--csv"),
  ].filter((f) => typeof f === "string");
  if (formats.length > 1) {
    throw usage(`give only one of --json, --ndjson or --csv/--csv-raw (got ${formats.join(", ")})`);
  }

  const raw = positionals.flatMap(splitSymbols);
  const targets = normalizeTargets(raw, { defaultExchange: flags["default-exchange"] });
  if (targets.invalid.length) {
    const [first] = targets.invalid;
    throw usage(`symbol ${first.input} is not valid: ${first.reason}`);
  }
  const all = flags.all ?? false;
  if (all && targets.valid.length) throw usage("give symbols or --all, not both");
  if (!all && !targets.valid.length && mode.kind !== "changed-since") {
    throw usage("no symbols: name one or more (EXCHANGE:TICKER), or give --all");
  }

  return {
    kind: "run",
    options: {
      symbols: targets.valid,
      all: all || targets.valid.length === 0,
      mode,
      columns: flags.columns,
      format: flags.json
        ? "json"
        : flags.ndjson
        ? "ndjson"
        : flags.csv || flags["csv-raw"]
        ? "csv"
        : "table",
      csvRaw: flags["csv-raw"] ?? false,
      verify: !flags["no-verify"],
      catalogPath: flags["catalog-path"],
    },
  };
}
