/**
 * Keeping file paths inside the project root.
 *
 * The project root is the directory the tool runs in: the working directory,
 * or the folder `--root DIR` names ({@linkcode enterRoot} makes it the
 * working directory, so every relative path is relative to it). Deno's `--allow-read=.`
 * does not stop a symlink inside the root from pointing outside it, so every
 * path the user gives is checked twice: lexically (so Deno never has to refuse
 * a read, which would be a crash rather than a message), then with symlinks
 * resolved.
 *
 * Promises: the functions return absolute real paths inside `root`, or throw
 * an {@linkcode IngestError} whose message names the path: of kind `usage`
 * (exit 2) for a path outside the root, as the path came from the command
 * line, `input` for one that does not exist or cannot be resolved.
 *
 * @example
 * ```ts
 * import { projectRoot, resolveExistingInside } from "./paths.ts";
 * const root = await projectRoot();
 * const file = await resolveExistingInside("run/candidates.json", root, "candidates file");
 * ```
 *
 * @module
 */
import { basename, dirname, isAbsolute, join, relative, resolve } from "node:path";
import { IngestError } from "../core/errors.ts";

/**
 * The real path of the working directory: the project root.
 *
 * @example
 * ```ts
 * import { projectRoot } from "./paths.ts";
 * const root = await projectRoot(); // e.g. "/home/me/pipeline"
 * ```
 */
export async function projectRoot(): Promise<string> {
  return await Deno.realPath(Deno.cwd());
}

/**
 * True when `path` (absolute) is `root` or lies below it.
 *
 * @example
 * ```ts
 * import { isInside } from "./paths.ts";
 * isInside("/p", "/p/data/x.parquet"); // true
 * isInside("/p", "/p2/x");             // false
 * ```
 */
export function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}

function outside(label: string, given: string, real?: string): IngestError {
  const via = real && real !== resolve(given) ? ` (it resolves to ${real})` : "";
  return new IngestError(
    "usage",
    `${label} ${given} is outside the project root${via}`,
    "use a path inside the project root: the folder meta-ingest runs in, or --root DIR",
  );
}

/**
 * Makes `dir` (`--root DIR`) the working directory, and so the project
 * root, and answers its real path. A folder that does not exist, is not a
 * folder, or lies outside what this process may read (Deno's permission
 * flags were fixed where it started: `deno task`, a compiled binary) is a
 * usage error saying what to do instead.
 *
 * @example
 * ```ts
 * import { enterRoot } from "./paths.ts";
 * enterRoot("."); // the working directory's real path
 * ```
 */
export function enterRoot(dir: string): string {
  try {
    Deno.chdir(dir);
    return Deno.realPathSync(".");
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new IngestError("usage", `--root ${dir}: no such folder`, "check the path");
    }
    if (err instanceof Deno.errors.NotADirectory) {
      throw new IngestError("usage", `--root ${dir} is not a folder`, "give the project's folder");
    }
    if (err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied) {
      throw new IngestError(
        "usage",
        `--root ${dir}: this process may not read it (its permissions cover the folder it was started in)`,
        "run meta-ingest from that folder, or use the installed meta-ingest (make install), which scopes its permissions to --root",
      );
    }
    throw new IngestError("usage", `--root ${dir}: ${(err as Error).message}`);
  }
}

function lexicallyInside(path: string, root: string, label: string): string {
  const absolute = resolve(root, path);
  if (!isInside(root, absolute)) throw outside(label, path);
  return absolute;
}

async function realPathOrNull(path: string, label: string, given: string) {
  try {
    return await Deno.realPath(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    if (err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied) {
      throw outside(label, given);
    }
    throw new IngestError("input", `cannot resolve ${label} ${given}: ${(err as Error).message}`);
  }
}

/**
 * Resolves a path that must exist, following symlinks, and checks it lies
 * inside `root`.
 *
 * @example
 * ```ts
 * import { resolveExistingInside } from "./paths.ts";
 * await resolveExistingInside("data/c.json", "/p", "candidates file"); // "/p/data/c.json"
 * ```
 */
export async function resolveExistingInside(
  path: string,
  root: string,
  label: string,
): Promise<string> {
  const absolute = lexicallyInside(path, root, label);
  const real = await realPathOrNull(absolute, label, path);
  if (real === null) {
    // A missing file below a folder that leads outside is outside, not missing.
    await resolveWritableInside(path, root, label);
    throw new IngestError("input", `${label} not found: ${path}`, "check the path and try again");
  }
  if (!isInside(root, real)) throw outside(label, path, real);
  return real;
}

/**
 * Resolves a path that may not exist yet (a file the tool will write): the
 * deepest existing ancestor is resolved with symlinks followed, the rest is
 * appended, and the result must lie inside `root`.
 *
 * @example
 * ```ts
 * import { resolveWritableInside } from "./paths.ts";
 * await resolveWritableInside("data/lakehouse/symbols.parquet", "/p", "catalog");
 * ```
 */
export async function resolveWritableInside(
  path: string,
  root: string,
  label: string,
): Promise<string> {
  const absolute = lexicallyInside(path, root, label);
  const missing: string[] = [];
  let probe = absolute;
  for (;;) {
    const real = await realPathOrNull(probe, label, path);
    if (real !== null) {
      const full = missing.length ? join(real, ...missing.reverse()) : real;
      if (!isInside(root, full)) throw outside(label, path, full);
      return full;
    }
    const parent = dirname(probe);
    if (parent === probe) throw outside(label, path);
    missing.push(basename(probe));
    probe = parent;
  }
}
