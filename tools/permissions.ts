/**
 * The permission sets, from their one source of truth: the `permissions`
 * block of deno.json (`ingest` for production, `ingest-local` adding
 * loopback for mirrors and tests, `show` for reading the catalog: the
 * project root and DuckDB's addon, nothing else).
 *
 * `deno task ingest` uses the set natively (`-P=ingest`), where Deno resolves
 * its paths against the project (deno.json's folder, which is also where the
 * task runs). Everything else turns the same set into `--allow-*` flags with
 * {@linkcode permissionFlags}:
 * - `run`: for `deno run` in another working directory (the CLI tests). Read
 *   and write stay relative (`.`), so they resolve to the directory the tool
 *   runs in; the DuckDB addon path is made absolute, since the addon lives in
 *   this repository's node_modules.
 * - `compile`: for `deno compile`. Relative flags are stored as written and
 *   resolve where the binary runs (a deno.json set would be made absolute at
 *   compile time, pinning the binary to the build machine's folder). The
 *   embedded addon is extracted beside the binary at a path only known at run
 *   time, so ffi cannot name it: the compiled binary gets `--allow-ffi`
 *   without a path (what it can load is fixed at compile time anyway).
 *
 * @example
 * ```ts
 * import { permissionFlags } from "./permissions.ts";
 * const flags = await permissionFlags("ingest-local", "run");
 * // ["--allow-read=.", "--allow-write=.", "--allow-net=...", ...]
 * ```
 *
 * @module
 */
import { dirname, isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";

/** The repository root (where deno.json lives). */
export const REPO_ROOT: string = dirname(dirname(fileURLToPath(import.meta.url)));

/** The names of the permission sets. */
export type PermissionSetName = "ingest" | "ingest-local" | "show";

/** Every permission set, by name. */
export const PERMISSION_SETS: readonly PermissionSetName[] = ["ingest", "ingest-local", "show"];

const list = z.array(z.string().min(1)).optional();
const permissionSet = z.strictObject({
  read: list,
  write: list,
  net: list,
  env: list,
  sys: list,
  ffi: list,
});
const task = z.union([
  z.string(),
  z.looseObject({ command: z.string(), description: z.string().optional() }),
]);
const denoJson = z.looseObject({
  version: z.string(),
  permissions: z.record(z.string(), permissionSet),
  tasks: z.record(z.string(), task),
});

async function readDenoJson(): Promise<z.infer<typeof denoJson>> {
  return denoJson.parse(JSON.parse(await Deno.readTextFile(join(REPO_ROOT, "deno.json"))));
}

/**
 * A task of deno.json: its command line and its description (tasks are
 * `{ "description", "command" }` objects; a plain string has no description).
 *
 * @example
 * ```ts
 * import { readTask } from "./permissions.ts";
 * (await readTask("ingest")).command; // "deno run -q ... -P=ingest main.ts"
 * ```
 */
export async function readTask(name: string): Promise<{ command: string; description?: string }> {
  const found = (await readDenoJson()).tasks[name];
  if (found === undefined) throw new Error(`deno.json has no task "${name}"`);
  return typeof found === "string" ? { command: found } : found;
}

/** One permission set as deno.json states it. */
export type PermissionSet = z.infer<typeof permissionSet>;

/**
 * Reads a named permission set from deno.json.
 *
 * @example
 * ```ts
 * import { readPermissionSet } from "./permissions.ts";
 * (await readPermissionSet("ingest")).net; // ["scanner.tradingview.com"]
 * ```
 */
export async function readPermissionSet(name: PermissionSetName): Promise<PermissionSet> {
  const set = (await readDenoJson()).permissions[name];
  if (!set) throw new Error(`deno.json has no permission set "${name}"`);
  return set;
}

/**
 * The `--allow-*` flags for a permission set; see the module doc for modes.
 *
 * @example
 * ```ts
 * import { permissionFlags } from "./permissions.ts";
 * await permissionFlags("ingest", "compile"); // [..., "--allow-ffi"]
 * ```
 */
export async function permissionFlags(
  name: PermissionSetName,
  mode: "run" | "compile",
): Promise<string[]> {
  const set = await readPermissionSet(name);
  const flags: string[] = [];
  for (const kind of ["read", "write", "net", "env", "sys"] as const) {
    const values = set[kind];
    if (values?.length) flags.push(`--allow-${kind}=${values.join(",")}`);
  }
  if (set.ffi?.length) {
    if (mode === "compile") {
      flags.push("--allow-ffi");
    } else {
      const paths = set.ffi.map((p) => isAbsolute(p) ? p : join(REPO_ROOT, p));
      flags.push(`--allow-ffi=${paths.join(",")}`);
    }
  }
  return flags;
}

if (import.meta.main) {
  const [name, mode] = Deno.args;
  const set = PERMISSION_SETS.find((s) => s === name);
  if (!set || (mode !== "run" && mode !== "compile")) {
    console.error(`usage: permissions.ts ${PERMISSION_SETS.join("|")} run|compile`);
    Deno.exit(2);
  }
  console.log((await permissionFlags(set, mode)).join(" "));
}
