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

/** One flag: how it is spelled on the command line and how its value is checked. */
export interface FlagSpec<S extends z.ZodType = z.ZodType> {
  /** `string` flags take a value; `boolean` flags are switches. */
  readonly type: "string" | "boolean";
  /** A one-letter alias (`-h`). */
  readonly short?: string;
  /** Validates (and may transform) the raw value, `undefined` when absent. */
  readonly schema: S;
}

/** A command's flags, by long name (without `--`), in the order errors are checked. */
export type FlagTable = Readonly<Record<string, FlagSpec>>;

/** The validated values of a flag table. */
export type FlagValues<T extends FlagTable> = { [K in keyof T]: z.output<T[K]["schema"]> };

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
export function stringFlag<S extends z.ZodType>(schema: S, short?: string): FlagSpec<S> {
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
export function booleanFlag(short?: string): FlagSpec<z.ZodOptional<z.ZodBoolean>> {
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
  const shape: Record<string, z.ZodType> = {};
  for (const [name, spec] of Object.entries(table)) {
    config[name] = spec.short ? { type: spec.type, short: spec.short } : { type: spec.type };
    shape[name] = spec.schema;
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
  const result = z.object(shape).safeParse(values);
  if (!result.success) throw options.usage(result.error.issues[0].message);
  // The shape was built from the table, so its output is the table's values.
  return { flags: result.data as FlagValues<T>, positionals };
}
