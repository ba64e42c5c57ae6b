/**
 * The `status` command line: which catalog, how fresh it must be, which
 * output.
 *
 * Promises: {@linkcode parseStatusCli} never exits or prints. It returns a
 * {@linkcode StatusCommand} or throws an {@linkcode IngestError} of kind
 * `usage` (exit 2) naming the flag at fault. Durations are read by
 * {@linkcode parseDuration}.
 *
 * @example
 * ```ts
 * import { parseStatusCli } from "./status_cli.ts";
 * parseStatusCli(["--stale-after", "26h"]);
 * // { kind: "run", options: { staleAfterMs: 93600000, json: false, ... } }
 * ```
 *
 * @module
 */
import { z } from "zod";
import { IngestError } from "../core/errors.ts";
import { catalogPathFlag, DEFAULTS, ROOT_HELP, SIGNAL_EXITS } from "./cli.ts";
import { booleanFlag, type FlagTable, parseFlags, stringFlag } from "./flags.ts";

/** Everything a `status` needs to know, validated. */
export interface StatusOptions {
  /** The catalog path as given (resolved inside the project root when read). */
  catalogPath: string;
  /**
   * `--stale-after`: symbols not checked for this long (or never) make the
   * answer "stale" (exit 3); null when not asked.
   */
  staleAfterMs: number | null;
  /** `--json`: one JSON document on stdout. */
  json: boolean;
}

/** What a `status` command line asks for. */
export type StatusCommand =
  | { kind: "help" }
  | { kind: "version" }
  | { kind: "run"; options: StatusOptions };

/** The exit code of a catalog with stale symbols under `--stale-after`. */
export const STALE_EXIT_CODE = 3;

/** The text `meta-ingest status --help` prints. */
export const STATUS_HELP = `meta-ingest status: what the catalog holds and when it was last checked.

Usage:
  meta-ingest status [--stale-after DURATION] [--json] [--catalog-path PATH]

Shows the catalog's size, its current symbols by exchange and type, retired
symbols, the last runs (time, outcome, endpoint), and how long ago its
symbols were last checked against the scanner (from the run log beside the
catalog, which every run that lands updates, even one that changed nothing).

Options:
  --stale-after DURATION   exit ${STALE_EXIT_CODE} when an active symbol was not checked for that
                           long, or never: 90m, 26h, 7d, 1w (units s, m, h, d, w)
  --json                   one JSON document on stdout
  --catalog-path PATH      catalog Parquet file, or s3://BUCKET/KEY.parquet
                           (default ${DEFAULTS.catalogPath})
${ROOT_HELP}
  -h, --help               this help
  -V, --version            the version

Examples:
  meta-ingest status
  meta-ingest status --stale-after 26h || echo "the nightly refresh is late"

Exit codes: 0 answered (and fresh), ${STALE_EXIT_CODE} stale symbols under --stale-after,
1 the catalog is missing or unreadable, 2 usage error (a path outside the
project root included), ${SIGNAL_EXITS}.`;

const UNITS: Readonly<Record<string, number>> = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * A duration like `90m`, `26h`, `7d`, `1w` or `30s`, in milliseconds; null
 * when it is not one.
 *
 * @example
 * ```ts
 * import { parseDuration } from "./status_cli.ts";
 * parseDuration("26h"); // 93600000
 * parseDuration("soon"); // null
 * ```
 */
export function parseDuration(text: string): number | null {
  const match = /^(\d{1,6})\s*([smhdw])$/i.exec(text.trim());
  if (!match) return null;
  const ms = Number(match[1]) * UNITS[match[2].toLowerCase()];
  return ms > 0 ? ms : null;
}

const STATUS_FLAGS = {
  "stale-after": stringFlag(
    z.string().transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === null) {
        ctx.addIssue({
          code: "custom",
          message:
            `--stale-after must be a duration like 90m, 26h, 7d or 1w (units s, m, h, d, w), got "${text}"`,
        });
        return z.NEVER;
      }
      return ms;
    }).optional(),
  ),
  "json": booleanFlag(),
  "catalog-path": catalogPathFlag,
  "help": booleanFlag("h"),
  "version": booleanFlag("V"),
} as const satisfies FlagTable;

function usage(message: string): IngestError {
  return new IngestError("usage", message, "run meta-ingest status --help for usage");
}

/**
 * Parses and validates a `status` command line; see the module doc.
 *
 * @example
 * ```ts
 * import { parseStatusCli } from "./status_cli.ts";
 * parseStatusCli(["--json"]).kind; // "run"
 * ```
 */
export function parseStatusCli(args: readonly string[]): StatusCommand {
  const { flags } = parseFlags(STATUS_FLAGS, args, { positionals: false, usage });
  if (flags.help) return { kind: "help" };
  if (flags.version) return { kind: "version" };
  return {
    kind: "run",
    options: {
      catalogPath: flags["catalog-path"],
      staleAfterMs: flags["stale-after"] ?? null,
      json: flags.json ?? false,
    },
  };
}
