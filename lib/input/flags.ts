/**
 * Command-line flags declared once: one table per command yields both the
 * parsing and the zod validation.
 *
 * Promises: {@linkcode parseFlags} never exits or prints. It returns the
 * validated flags (typed from the table) and the positionals, or throws the
 * error `usage` makes of the first problem: an unknown flag (with the
 * nearest known one as a suggestion), a missing value, a value given to a
 * switch, a stray positional, or a value its schema refuses. Every message
 * is ours, in one voice: `--name` and what is wrong with it.
 *
 * The syntax: `--name value`, `--name=value`, `-h`-style one-letter aliases,
 * `--` ending the flags. A flag's value is the next word unless that word is
 * itself a long flag (`--symbols --dry-run` is a missing value), so `-`
 * (stdin) and `-1` (refused by the schema, with its range) are values. A flag
 * given twice keeps its last value, so a later flag can override an earlier
 * one (a Makefile's `ARGS`).
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import { booleanFlag, parseFlags, stringFlag } from "./flags.ts";
 * const table = { name: stringFlag(z.string().optional()), loud: booleanFlag() };
 * const { flags } = parseFlags(table, ["--name", "x", "--loud"], {
 *   positionals: false,
 *   usage: (message) => new Error(message),
 * });
 * flags.name; // "x"
 * ```
 *
 * @module
 */
import { z } from "zod";

/**
 * What a flag's value is checked with: any schema with zod's `safeParse`
 * (a zod schema is one), yielding `Out`.
 */
export interface FlagSchema<Out> {
  /** Checks a raw value (`undefined` when the flag is absent). */
  safeParse(value: unknown):
    | { success: true; data: Out }
    | { success: false; error: { issues: readonly { message: string }[] } };
}

/** One flag: how it is spelled on the command line and how its value is checked. */
export interface FlagSpec<Out = unknown> {
  /** `string` flags take a value; `boolean` flags are switches. */
  readonly type: "string" | "boolean";
  /** A one-letter alias (`-h`). */
  readonly short?: string;
  /** Validates (and may transform) the raw value, `undefined` when absent. */
  readonly schema: FlagSchema<Out>;
}

/** A command's flags, by long name (without `--`), in the order errors are checked. */
export type FlagTable = Readonly<Record<string, FlagSpec>>;

/** The validated values of a flag table. */
export type FlagValues<T extends FlagTable> = {
  [K in keyof T]: T[K] extends FlagSpec<infer Out> ? Out : never;
};

/**
 * A flag that takes a value, checked by `schema` (which sees `undefined`
 * when the flag is absent, so give it `.optional()` or `.default()`).
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import { stringFlag } from "./flags.ts";
 * stringFlag(z.string().min(1).optional());
 * ```
 */
export function stringFlag<Out>(schema: FlagSchema<Out>, short?: string): FlagSpec<Out> {
  return { type: "string", schema, ...(short ? { short } : {}) };
}

/**
 * A switch: `true` when given, `undefined` when not.
 *
 * @example
 * ```ts
 * import { booleanFlag } from "./flags.ts";
 * booleanFlag("h");
 * ```
 */
export function booleanFlag(short?: string): FlagSpec<boolean | undefined> {
  return { type: "boolean", schema: z.boolean().optional(), ...(short ? { short } : {}) };
}

/** Options for {@linkcode parseFlags}. */
export interface ParseFlagsOptions {
  /** Whether bare words (not flags) are allowed. */
  positionals: boolean;
  /** Turns a message into the error to throw (a usage error). */
  usage: (message: string) => Error;
}

/**
 * Flags every command takes, read by lib/commands.ts before a command's own
 * flags; named here so an unknown flag can be matched against them too.
 */
export const GLOBAL_FLAGS: readonly string[] = ["root"];

/** Edit distance with transpositions (optimal string alignment), for suggestions. */
function distance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) rows[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      rows[i][j] = Math.min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        rows[i][j] = Math.min(rows[i][j], rows[i - 2][j - 2] + 1);
      }
    }
  }
  return rows[a.length][b.length];
}

/**
 * The known name nearest to `given`, or null when none is near: a name that
 * starts with it (`al` → `all`, `symbol` → `symbols`), one spelled alike
 * but for case, `-` and `_` (`dryrun` → `dry-run`), or one at most two edits
 * away (a third of its length at most: `wrokers` → `workers`).
 *
 * @example
 * ```ts
 * import { nearest } from "./flags.ts";
 * nearest("dryrun", ["dry-run", "json"]); // "dry-run"
 * nearest("xyz", ["dry-run", "json"]);    // null
 * ```
 */
export function nearest(given: string, names: readonly string[]): string | null {
  const plain = (s: string) => s.toLowerCase().replace(/[-_]/g, "");
  const wanted = plain(given);
  if (wanted === "") return null;
  const same = names.find((n) => plain(n) === wanted);
  if (same !== undefined) return same;
  const prefixed = names.filter((n) => plain(n).startsWith(wanted));
  if (prefixed.length === 1) return prefixed[0];
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const name of names) {
    const d = distance(wanted, plain(name));
    if (d < bestDistance && d <= Math.min(2, Math.floor(plain(name).length / 3))) {
      best = name;
      bestDistance = d;
    }
  }
  return best;
}

function unknownFlag(spelled: string, names: readonly string[]): string {
  const name = spelled.replace(/^-+/, "");
  const near = nearest(name, names);
  return near === null
    ? `unknown flag ${spelled}`
    : `unknown flag ${spelled}; did you mean --${near}?`;
}

/**
 * Parses `args` against `table`; see the module doc.
 *
 * @example
 * ```ts
 * import { booleanFlag, parseFlags } from "./flags.ts";
 * const parsed = parseFlags({ all: booleanFlag() }, ["A:B", "--all"], {
 *   positionals: true,
 *   usage: (message) => new Error(message),
 * });
 * parsed.positionals; // ["A:B"]
 * ```
 */
export function parseFlags<T extends FlagTable>(
  table: T,
  args: readonly string[],
  options: ParseFlagsOptions,
): { flags: FlagValues<T>; positionals: string[] } {
  const names = Object.keys(table);
  const known = [...names, ...GLOBAL_FLAGS.filter((g) => !names.includes(g))];
  const byShort = new Map<string, string>();
  for (const [name, spec] of Object.entries(table)) if (spec.short) byShort.set(spec.short, name);
  const values: Record<string, unknown> = {};
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      positionals.push(arg);
      continue;
    }
    let name: string;
    let spelled: string;
    let inline: string | undefined;
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq === -1 ? undefined : arg.slice(eq + 1);
      spelled = `--${name}`;
    } else {
      const long = arg.length === 2 ? byShort.get(arg[1]) : undefined;
      if (long === undefined) {
        // A negative number or a one-letter typo: say which flags exist.
        throw options.usage(unknownFlag(arg, known));
      }
      name = long;
      spelled = arg;
    }
    const spec = Object.hasOwn(table, name) ? table[name] : undefined;
    if (spec === undefined) throw options.usage(unknownFlag(spelled, known));
    if (spec.type === "boolean") {
      if (inline !== undefined) throw options.usage(`${spelled} takes no value, got "${inline}"`);
      values[name] = true;
      continue;
    }
    let value = inline;
    if (value === undefined) {
      const next = args[i + 1];
      if (next === undefined || (next.startsWith("--") && next.length > 2)) {
        throw options.usage(
          next === undefined
            ? `${spelled} needs a value`
            : `${spelled} needs a value, got the flag ${next.split("=")[0]}`,
        );
      }
      value = next;
      i++;
    }
    values[name] = value;
  }
  if (positionals.length && !options.positionals) {
    throw options.usage(`unexpected argument "${positionals[0]}"`);
  }
  // Checked in table order, so the first problem reported is the first flag's.
  const flags: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(table)) {
    const result = spec.schema.safeParse(values[name]);
    if (!result.success) throw options.usage(result.error.issues[0].message);
    flags[name] = result.data;
  }
  // Each value came from its own flag's schema, so this is the table's values.
  return { flags: flags as FlagValues<T>, positionals };
}
