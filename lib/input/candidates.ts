/**
 * Reading the run's candidates: an untrusted file from an upstream stage.
 *
 * Promises:
 * - The file is read only if its real path (symlinks followed) lies inside the
 *   project root and it is a regular file no larger than
 *   {@linkcode MAX_CANDIDATES_BYTES}; the cap is enforced while reading, so a
 *   file that grows under us is still refused.
 * - The path `-` is stdin (a pipeline's previous step): the same cap, enforced
 *   while reading, and the same rules; errors name it `stdin`.
 * - Bad JSON, a root of the wrong shape or too many entries is one
 *   {@linkcode IngestError} naming the file (and position for JSON errors).
 * - Bad entries never throw: each is reported with its index and reason, and
 *   never reaches the network. Valid symbols come back normalised, without
 *   duplicates, sorted.
 *
 * Accepted shapes: `["BINANCE:BTCUSDT", ...]`, `[{"symbol": "..."}, ...]`, any
 * mix of both, and the `{"data": [...]}` wrapper of upstream exports.
 *
 * @example
 * ```ts
 * import { readCandidatesFile } from "./candidates.ts";
 * const targets = await readCandidatesFile("run/candidates.json", { root: Deno.cwd() });
 * console.log(targets.valid, targets.invalid);
 * ```
 *
 * @module
 */
import { z } from "zod";
import { IngestError } from "../core/errors.ts";
import { grouped } from "../core/text.ts";
import { locateJsonError } from "./json_position.ts";
import { resolveExistingInside } from "../fs/paths.ts";
import { readCapped } from "../fs/read_capped.ts";
import { normalizeSymbol } from "../record/symbols.ts";

/** Largest candidates file we read: 16 MiB. */
export const MAX_CANDIDATES_BYTES = 16 * 1024 * 1024;
/** Most entries a target list may have. */
export const MAX_ENTRIES = 100_000;

/** One entry we refused, with why. */
export interface InvalidEntry {
  /** Position in the input list (0-based). */
  index: number;
  /** A short rendering of what was there. */
  input: string;
  /** Why it was refused. */
  reason: string;
}

/** The validated targets of a run. */
export interface Targets {
  /** Number of entries given. */
  requested: number;
  /** Canonical `EXCHANGE:TICKER` symbols, unique, sorted. */
  valid: string[];
  /** Entries refused, in input order. */
  invalid: InvalidEntry[];
}

/** Options for reading and normalising targets. */
export interface TargetOptions {
  /** Exchange given to bare tickers; without it they are invalid. */
  defaultExchange?: string;
  /**
   * Most entries accepted; defaults to {@linkcode MAX_ENTRIES}. The cap guards
   * untrusted lists (a candidates file, `--symbols`); the catalog's own
   * targets pass `Infinity`.
   */
  maxEntries?: number;
}

/** Options for {@linkcode readCandidatesFile}. */
export interface ReadOptions extends TargetOptions {
  /** The project root (a real path); the file must lie inside it. */
  root: string;
  /**
   * Size cap in bytes, enforced while reading.
   *
   * @default {MAX_CANDIDATES_BYTES}
   */
  maxBytes?: number;
  /**
   * What the path `-` reads.
   *
   * @default {Deno.stdin.readable}
   */
  stdin?: ReadableStream<Uint8Array>;
}

/** The path that names stdin as the candidates file. */
export const STDIN_PATH = "-";

const entryObject = z.looseObject({ symbol: z.unknown() });
const rootSchema = z.union([
  z.array(z.unknown()),
  z.looseObject({ data: z.array(z.unknown()) }).transform((o) => o.data),
]);

/**
 * A short, safe rendering of any JSON value for the report. Never recurses,
 * so deeply nested junk cannot overflow the stack.
 *
 * @example
 * ```ts
 * import { describeEntry } from "./candidates.ts";
 * describeEntry(null);        // "null"
 * describeEntry([1, [2]]);    // "array(2)"
 * describeEntry("BTC\u0000"); // "\"BTC\\u0000\""
 * ```
 */
export function describeEntry(value: unknown): string {
  let text: string;
  if (value === null || typeof value !== "object") {
    text = JSON.stringify(value) ?? String(value);
  } else if (Array.isArray(value)) {
    text = `array(${value.length})`;
  } else {
    const keys = Object.keys(value);
    text = keys.length === 0 ? "{}" : `object{${keys.slice(0, 5).join(",")}}`;
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "an object";
  return `a ${typeof value}`;
}

/**
 * Validates and normalises raw entries (strings or `{symbol}` objects).
 *
 * @example
 * ```ts
 * import { normalizeTargets } from "./candidates.ts";
 * normalizeTargets(["binance:btcusdt", {symbol: "BINANCE:BTCUSDT"}, null]);
 * // { requested: 3, valid: ["BINANCE:BTCUSDT"], invalid: [{ index: 2, input: "null", ... }] }
 * ```
 */
export function normalizeTargets(
  entries: readonly unknown[],
  options: TargetOptions = {},
): Targets {
  const limit = options.maxEntries ?? MAX_ENTRIES;
  if (entries.length > limit) {
    throw new IngestError(
      "input",
      `${grouped(entries.length)} targets given; the limit is ${grouped(limit)}`,
      "split the list into several runs",
    );
  }
  const valid = new Set<string>();
  const invalid: InvalidEntry[] = [];
  entries.forEach((entry, index) => {
    let raw: unknown = entry;
    if (entry !== null && typeof entry === "object" && !Array.isArray(entry)) {
      const parsed = entryObject.safeParse(entry);
      if (!parsed.success || !("symbol" in entry)) {
        invalid.push({
          index,
          input: describeEntry(entry),
          reason: "object without a 'symbol' key",
        });
        return;
      }
      raw = parsed.data.symbol;
      if (typeof raw !== "string") {
        invalid.push({
          index,
          input: describeEntry(entry),
          reason: `'symbol' is ${kindOf(raw)}, not a string`,
        });
        return;
      }
    }
    if (typeof raw !== "string") {
      invalid.push({
        index,
        input: describeEntry(entry),
        reason: `${kindOf(raw)} is not a symbol`,
      });
      return;
    }
    const result = normalizeSymbol(raw, options.defaultExchange);
    if (result.ok) valid.add(result.symbol);
    else invalid.push({ index, input: describeEntry(raw), reason: result.reason });
  });
  return { requested: entries.length, valid: [...valid].sort(), invalid };
}

/**
 * Parses candidates JSON text (already decoded) into entries; `label` names
 * the source in errors.
 *
 * @example
 * ```ts
 * import { parseCandidatesJson } from "./candidates.ts";
 * parseCandidatesJson('{"data": ["NASDAQ:AAPL"]}', "c.json"); // ["NASDAQ:AAPL"]
 * ```
 */
export function parseCandidatesJson(text: string, label: string): unknown[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (err) {
    throw new IngestError(
      "input",
      `${label} is not valid JSON: ${jsonErrorWhere(err, text)}`,
      "fix the upstream export; expected a JSON list of symbols",
    );
  }
  const root = rootSchema.safeParse(parsed);
  if (!root.success) {
    throw new IngestError(
      "input",
      `${label} has a root of the wrong shape (${kindOf(parsed)})`,
      'expected a list of symbols or objects with "symbol", or {"data": [...]}',
    );
  }
  return root.data;
}

function jsonErrorWhere(err: unknown, text: string): string {
  const where = locateJsonError(text);
  if (where) return `unexpected ${where.found} at line ${where.line} column ${where.column}`;
  return err instanceof Error ? err.message.split("\n")[0] : String(err);
}

/**
 * Reads, checks and normalises a candidates file; see the module doc.
 *
 * @example
 * ```ts
 * import { readCandidatesFile } from "./candidates.ts";
 * await readCandidatesFile("run/candidates.json", { root: "/p", defaultExchange: "BINANCE" });
 * ```
 */
export async function readCandidatesFile(path: string, options: ReadOptions): Promise<Targets> {
  const maxBytes = options.maxBytes ?? MAX_CANDIDATES_BYTES;
  if (path === STDIN_PATH) {
    const bytes = await readCapped(options.stdin ?? Deno.stdin.readable, maxBytes);
    if (bytes === null) throw tooBig("stdin", maxBytes);
    const text = decodeUtf8(bytes, "stdin");
    return normalizeTargets(parseCandidatesJson(text, "stdin"), options);
  }
  const label = `candidates file ${path}`;
  const text = await readCappedText(path, options.root, maxBytes);
  return normalizeTargets(parseCandidatesJson(text, label), options);
}

function tooBig(label: string, maxBytes: number): IngestError {
  return new IngestError(
    "input",
    `${label} is larger than ${grouped(maxBytes)} bytes`,
    "a run's candidates should be a small JSON list; check the upstream stage",
  );
}

function decodeUtf8(bytes: Uint8Array, label: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new IngestError("input", `${label} is not valid UTF-8 text`);
  }
}

async function readCappedText(path: string, root: string, maxBytes: number): Promise<string> {
  const real = await resolveExistingInside(path, root, "candidates file");
  const info = await Deno.stat(real);
  if (!info.isFile) {
    throw new IngestError(
      "input",
      `candidates file ${path} is not a regular file (${fileKind(info)})`,
      "pass a JSON file",
    );
  }
  const label = `candidates file ${path}`;
  if (info.size > maxBytes) throw tooBig(label, maxBytes);
  const file = await Deno.open(real, { read: true });
  try {
    const opened = await file.stat();
    if (!opened.isFile || opened.ino !== info.ino) {
      throw new IngestError("input", `candidates file ${path} changed while it was being opened`);
    }
  } catch (err) {
    file.close();
    throw err;
  }
  // The stream closes the file when it ends or is cancelled.
  const bytes = await readCapped(file.readable, maxBytes);
  if (bytes === null) throw tooBig(label, maxBytes);
  return decodeUtf8(bytes, label);
}

function fileKind(info: Deno.FileInfo): string {
  if (info.isDirectory) return "a directory";
  if (info.isFifo) return "a FIFO";
  if (info.isCharDevice || info.isBlockDevice) return "a device";
  if (info.isSocket) return "a socket";
  return "not a file";
}
