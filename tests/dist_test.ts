/**
 * What `make dist` relies on, proved: how `deno compile` stores permission
 * flags, and that the dist target fails with one clear line when Deno's
 * compile runtime (denort) cannot be had.
 *
 * The metadata checks compile a tiny probe with DENORT_BIN pointing at a
 * small stand-in executable (`/bin/true`, or this Deno where there is none):
 * the result is not a working binary, but `deno compile` writes the same
 * metadata, which is what these tests read, without copying a 100 MB runtime
 * for each probe.
 */
import assert from "node:assert/strict";
import { ENV_NAMES } from "../lib/input/cli.ts";
import { join } from "node:path";
import { permissionFlags, REPO_ROOT } from "../tools/permissions.ts";
import { tempProject } from "../testing/tmp.ts";

/** Reads the JSON metadata `deno compile` embeds (after a "d3n0l4nd" marker). */
async function compiledMetadata(binary: string): Promise<Record<string, unknown>> {
  const bytes = await Deno.readFile(binary);
  const marker = new TextEncoder().encode("d3n0l4nd");
  const view = new DataView(bytes.buffer);
  for (let i = bytes.indexOf(marker[0]); i !== -1; i = bytes.indexOf(marker[0], i + 1)) {
    if (!marker.every((b, k) => bytes[i + k] === b)) continue;
    const length = Number(view.getBigUint64(i + 8, true));
    if (length <= 0 || length > 10_000_000) continue;
    try {
      return JSON.parse(new TextDecoder().decode(bytes.subarray(i + 16, i + 16 + length)));
    } catch {
      // another occurrence of the marker bytes; keep looking
    }
  }
  throw new Error(`no compile metadata in ${binary}`);
}

/** Any executable will do as the runtime a probe's metadata is appended to. */
const STAND_IN_RUNTIME = await Deno.stat("/bin/true").then(
  () => "/bin/true",
  () => Deno.execPath(),
);

async function compileProbe(
  dir: string,
  flags: string[],
  builtIn: string[] = [],
): Promise<Record<string, unknown>> {
  await Deno.writeTextFile(`${dir}/probe.ts`, "console.log('probe');\n");
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["compile", "-q", ...flags, "--output", `${dir}/probe`, `${dir}/probe.ts`, ...builtIn],
    cwd: dir,
    env: { DENORT_BIN: STAND_IN_RUNTIME },
    stderr: "piped",
  }).output();
  assert.ok(output.success, new TextDecoder().decode(output.stderr));
  const meta = await compiledMetadata(`${dir}/probe`);
  await Deno.remove(`${dir}/probe`);
  return meta;
}

Deno.test("deno compile stores relative --allow-* paths as written (they resolve where the binary runs)", async () => {
  await using project = await tempProject();
  const meta = await compileProbe(project.dir, ["--allow-read=.,data", "--allow-write=."]);
  const permissions = meta.permissions as Record<string, unknown>;
  assert.deepEqual(permissions.allow_read, [".", "data"]);
  assert.deepEqual(permissions.allow_write, ["."]);
});

Deno.test("deno compile makes a deno.json permission set absolute (why dist does not use -P)", async () => {
  await using project = await tempProject();
  await Deno.writeTextFile(
    `${project.dir}/deno.json`,
    JSON.stringify({ permissions: { x: { read: ["."] } } }),
  );
  const meta = await compileProbe(project.dir, ["-P=x"]);
  assert.deepEqual((meta.permissions as Record<string, unknown>).allow_read, [project.dir]);
});

Deno.test("dist's flags: the production set, relative, no prompts, self-extracting", async () => {
  await using project = await tempProject();
  const flags = await permissionFlags("ingest", "compile");
  const meta = await compileProbe(project.dir, ["--self-extracting", "--no-prompt", ...flags]);
  const p = meta.permissions as Record<string, unknown>;
  assert.deepEqual(p.allow_read, ["."]);
  assert.deepEqual(p.allow_write, ["."]);
  assert.deepEqual(p.allow_net, ["scanner.tradingview.com"]);
  assert.deepEqual(p.allow_env, [...ENV_NAMES]);
  assert.deepEqual(p.allow_sys, ["hostname"]);
  assert.deepEqual(p.allow_run, null);
  assert.equal(p.prompt, false);
  assert.ok(meta.self_extracting, "self-extracting, so libduckdb.so lands beside duckdb.node");
  assert.ok(!JSON.stringify(p).includes(REPO_ROOT), "nothing pinned to the build folder");
});

Deno.test("dist's show binary: the read-only set, with `show` built in", async () => {
  await using project = await tempProject();
  const flags = await permissionFlags("show", "compile");
  const meta = await compileProbe(project.dir, ["--self-extracting", "--no-prompt", ...flags], [
    "show",
  ]);
  const p = meta.permissions as Record<string, unknown>;
  assert.deepEqual(p.allow_read, ["."]);
  assert.deepEqual(p.allow_write, [".meta-ingest"], "only an S3 catalog's private copies");
  assert.deepEqual(p.allow_net, ["127.0.0.1", "localhost"]);
  assert.deepEqual(p.allow_env, ENV_NAMES.filter((n) => n.startsWith("AWS_")));
  for (const kind of ["allow_sys", "allow_run"]) assert.equal(p[kind], null, kind);
  assert.deepEqual(meta.argv, ["show"]);
});

async function dist(env: Record<string, string>) {
  await using out = await tempProject("meta-ingest-dist-");
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(REPO_ROOT, "tools/dist.ts"), "--out", out.dir],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const built = [];
  for await (const entry of Deno.readDir(out.dir)) built.push(entry.name);
  return {
    code: output.code,
    stderr: new TextDecoder().decode(output.stderr),
    built: built.sort(),
  };
}

/**
 * A Deno cache with this machine's packages but without downloaded runtimes
 * (`dl/`, where a fetched denort is kept), so `deno compile` must download
 * denort.
 */
async function cacheWithoutRuntimes(dir: string): Promise<string> {
  const info = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    stdout: "piped",
  })
    .output();
  const real = JSON.parse(new TextDecoder().decode(info.stdout)).denoDir as string;
  const cache = join(dir, "deno-dir");
  await Deno.mkdir(cache);
  for await (const entry of Deno.readDir(real)) {
    // The package and module folders; not the SQLite caches, which Deno rebuilds.
    if (entry.isDirectory && entry.name !== "dl") {
      await Deno.symlink(join(real, entry.name), join(cache, entry.name));
    }
  }
  return cache;
}

Deno.test("make dist without a reachable runtime or DENORT_BIN fails with one clear line", async () => {
  await using scratch = await tempProject("meta-ingest-dist-cache-");
  // An unreachable proxy makes the download fail the same way everywhere,
  // and a cache without runtimes makes the download necessary.
  const result = await dist({
    DENORT_BIN: "",
    DENO_DIR: await cacheWithoutRuntimes(scratch.dir),
    HTTPS_PROXY: "http://127.0.0.1:9",
    https_proxy: "http://127.0.0.1:9",
  });
  assert.equal(result.code, 1, result.stderr);
  assert.deepEqual(result.stderr.trim().split("\n"), [
    "make dist: cannot get Deno's compile runtime (denort 2.9.6) from dl.deno.land and DENORT_BIN is not set; " +
    "set DENORT_BIN to a denort 2.9.6 binary, or run on a connected machine",
  ]);
  assert.deepEqual(result.built, []);
});

Deno.test("make dist with DENORT_BIN naming nothing fails with one clear line", async () => {
  const result = await dist({ DENORT_BIN: "/nonexistent/denort" });
  assert.equal(result.code, 1);
  assert.deepEqual(result.stderr.trim().split("\n"), [
    "make dist: DENORT_BIN=/nonexistent/denort is not a file; point it at a denort 2.9.6 binary",
  ]);
});
