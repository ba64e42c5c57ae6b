/**
 * `make dist`: compiles main.ts into dist/meta-ingest (production permission
 * set), dist/meta-ingest-local (plus loopback, for mirrors and tests) and
 * dist/meta-ingest-show (`meta-ingest show` built in, under the read-only
 * `show` set: `meta-ingest-show NASDAQ:AAPL --history`).
 *
 * - Permissions come from deno.json's sets, as `--allow-*` flags with
 *   relative paths (tools/permissions.ts): stored as written, they resolve
 *   where the binary runs, so it is scoped to the project it runs in, not to
 *   this build machine's folder.
 * - `--self-extracting`: DuckDB's `duckdb.node` needs `libduckdb.so` beside
 *   it, which the default (virtual file system) mode does not provide; the
 *   self-extracting binary writes its files to disk on first run (next to
 *   the binary, in `.meta-ingest/`) and loads the addon from there.
 * - `deno compile` needs Deno's runtime (denort) from dl.deno.land, or a
 *   local copy named by DENORT_BIN. When neither can be had, this prints one
 *   line saying so and exits 1.
 *
 * Usage: deno run -A tools/dist.ts [--out DIR]
 *
 * @module
 */
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { permissionFlags, type PermissionSetName, REPO_ROOT } from "./permissions.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { out: { type: "string", default: "dist" } },
});
const outDir = resolve(REPO_ROOT, values.out!);
const version = Deno.version.deno;

function fail(line: string): never {
  console.error(`make dist: ${line}`);
  Deno.exit(1);
}

const denort = Deno.env.get("DENORT_BIN");
if (denort) {
  const info = await Deno.stat(denort).catch(() => null);
  if (!info?.isFile) {
    fail(`DENORT_BIN=${denort} is not a file; point it at a denort ${version} binary`);
  }
}

const RUNTIME_PATTERN =
  /dl\.deno\.land|denort|error sending request|dns error|Setting up base binary/i;
const noRuntime = () =>
  fail(
    `cannot get Deno's compile runtime (denort ${version}) from dl.deno.land and DENORT_BIN is not set; ` +
      `set DENORT_BIN to a denort ${version} binary, or run on a connected machine`,
  );

// Without DENORT_BIN, make sure the runtime can be had before compiling:
// a one-line probe fails at once where main.ts would fail only after a
// whole type check (seconds). On a connected machine this downloads denort
// into Deno's cache, where the real compiles find it.
if (!denort) {
  const scratch = await Deno.makeTempDir({ prefix: "meta-ingest-dist-" });
  await Deno.writeTextFile(join(scratch, "probe.ts"), "export {};\n");
  const probe = await new Deno.Command(Deno.execPath(), {
    args: ["compile", "--quiet", "--no-check", "--output", join(scratch, "probe"), "probe.ts"],
    cwd: scratch,
    stdout: "piped",
    stderr: "piped",
  }).output().finally(() => Deno.remove(scratch, { recursive: true }).catch(() => {}));
  if (!probe.success && RUNTIME_PATTERN.test(new TextDecoder().decode(probe.stderr))) noRuntime();
}

await Deno.mkdir(outDir, { recursive: true });
const targets: [string, PermissionSetName, string[]][] = [
  ["meta-ingest", "ingest", []],
  ["meta-ingest-local", "ingest-local", []],
  // Arguments after the script are built into the binary, before the user's.
  ["meta-ingest-show", "show", ["show"]],
];
for (const [name, set, builtIn] of targets) {
  const output = join(outDir, name);
  const command = new Deno.Command(Deno.execPath(), {
    args: [
      "compile",
      "--quiet",
      "--self-extracting",
      "--no-prompt",
      "--config",
      join(REPO_ROOT, "deno.json"),
      // Only the glibc build of DuckDB's bindings is needed on this platform.
      "--exclude",
      join(REPO_ROOT, "node_modules/.deno/@duckdb+node-bindings-linux-x64-musl@1.5.6-r.1"),
      ...(await permissionFlags(set, "compile")),
      "--output",
      output,
      join(REPO_ROOT, "main.ts"),
      ...builtIn,
    ],
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "piped",
  });
  const result = await command.output();
  if (!result.success) {
    const stderr = new TextDecoder().decode(result.stderr);
    if (!denort && RUNTIME_PATTERN.test(stderr)) noRuntime();
    fail(`deno compile of ${name} failed: ${stderr.trim().split("\n").slice(0, 3).join(" | ")}`);
  }
  console.log(`built ${output} (${set} permissions)`);
}
