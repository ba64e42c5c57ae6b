/**
 * Command-line flags declared once: one table per command yields both the
 * `node:util` parseArgs configuration and the zod validation.
 *
 * Promises: {@linkcode parseFlags} never exits or prints. It returns the
 * validated flags (typed from the table) and the positionals, or throws the
 * error `usage` makes of the first problem: an unknown flag, a missing
 * value, a stray positional, or a value its schema refuses.
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
import { parseArgs } from "node:util";
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
  const config: Record<string, { type: "string" | "boolean"; short?: string }> = {};
  for (const [name, spec] of Object.entries(table)) {
    config[name] = spec.short ? { type: spec.type, short: spec.short } : { type: spec.type };
  }
  let values: Record<string, unknown>;
  let positionals: string[];
  try {
    const parsed = parseArgs({
      args: [...args],
      options: config,
      strict: true,
      allowPositionals: options.positionals,
    });
    values = parsed.values;
    positionals = parsed.positionals;
  } catch (err) {
    throw options.usage(err instanceof Error ? err.message.split("\n")[0] : String(err));
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
