/**
 * Errors a user can act on.
 *
 * Every failure the tool expects (bad flags, a refused path, an unreadable
 * catalog, a lock held too long) is an {@linkcode IngestError}: a one-line
 * message saying what failed and on which input, a `kind` that decides the exit
 * code, and an optional hint saying what to do about it.
 *
 * @example
 * ```ts
 * import { IngestError } from "./errors.ts";
 * throw new IngestError("input", "candidates file not found: run/c.json", "check the path");
 * ```
 *
 * @module
 */

/** What went wrong, coarsely; decides the exit code. */
export type ErrorKind = "usage" | "input" | "catalog" | "lock" | "network" | "internal";

/** An expected failure with a message for people. */
export class IngestError extends Error {
  /** Coarse category; `usage` maps to exit 2, the rest to exit 1. */
  readonly kind: ErrorKind;
  /** What the user can do about it, if we know. */
  readonly hint?: string;

  constructor(kind: ErrorKind, message: string, hint?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "IngestError";
    this.kind = kind;
    this.hint = hint;
  }
}

/**
 * Renders an error as the line the user sees, hint included.
 *
 * @example
 * ```ts
 * import { IngestError, describeError } from "./errors.ts";
 * describeError(new IngestError("usage", "--workers must be 1..16", "try --workers 3"));
 * // "--workers must be 1..16 (try --workers 3)"
 * ```
 */
export function describeError(err: unknown): string {
  if (err instanceof IngestError) {
    return err.hint ? `${err.message} (${err.hint})` : err.message;
  }
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

/**
 * Short text of any thrown value, for reasons in the run report.
 *
 * @example
 * ```ts
 * import { errorMessage } from "./errors.ts";
 * errorMessage(new TypeError("boom")); // "boom"
 * ```
 */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
