/**
 * The permission sets in deno.json are the one source of truth, and Deno
 * itself enforces them on the tool's process.
 */
import assert from "node:assert/strict";
import { ENV_NAMES } from "../lib/input/cli.ts";
import { join } from "node:path";
import { permissionFlags, readPermissionSet, readTask, REPO_ROOT } from "../tools/permissions.ts";
import { tempProject } from "../testing/tmp.ts";

async function probe(set: "ingest" | "ingest-local", cwd: string, wanted: Record<string, string>) {
  const flags = await permissionFlags(set, "run");
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-q",
      "--no-prompt",
      ...flags,
      join(REPO_ROOT, "testing/probe.ts"),
      JSON.stringify(wanted),
    ],
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  return JSON.parse(new TextDecoder().decode(output.stdout));
}

Deno.test("tasks use the deno.json permission sets, nothing broader, and say what they do", async () => {
  // --no-prompt: on a terminal Deno would otherwise stop and ask (DuckDB's
  // loader probes /proc/self/exe), and a pipeline run would hang.
  // --no-remote --cached-only --frozen: see tests/supply_chain_test.ts.
  const run = "deno run -q --no-prompt --no-remote --cached-only --frozen";
  const expected: Record<string, string> = {
    "ingest": `${run} -P=ingest main.ts`,
    "ingest:local": `${run} -P=ingest-local main.ts`,
    "show": `${run} -P=show main.ts show`,
    "status": `${run} -P=show main.ts status`,
    "probe": `${run} -P=ingest main.ts probe`,
    "probe:local": `${run} -P=ingest-local main.ts probe`,
  };
  for (const [name, command] of Object.entries(expected)) {
    const task = await readTask(name);
    assert.equal(task.command, command, name);
    assert.ok(task.description && task.description.length > 10, `${name} has a description`);
  }
  const denoJson = JSON.parse(await Deno.readTextFile(join(REPO_ROOT, "deno.json")));
  for (const [name, task] of Object.entries(denoJson.tasks)) {
    assert.equal(typeof (task as { description?: unknown }).description, "string", name);
  }
});

/** Each platform's DuckDB addon, as deno.lock pins the bindings' optional packages. */
async function addonPaths(): Promise<string[]> {
  const lock = JSON.parse(await Deno.readTextFile(join(REPO_ROOT, "deno.lock")));
  const bindings = Object.keys(lock.npm).find((k) => k.startsWith("@duckdb/node-bindings@"))!;
  const version = bindings.split("@").at(-1);
  return (lock.npm[bindings].optionalDependencies as string[]).map((name) => {
    const bare = name.replace(/@[^@/]+$/, "");
    const folder = bare.replace("/", "+");
    return `node_modules/.deno/${folder}@${version}/node_modules/${bare}/duckdb.node`;
  }).sort();
}

Deno.test("every set may load DuckDB's addon on every platform the bindings ship for", async () => {
  const wanted = await addonPaths();
  assert.equal(wanted.length, 8, wanted.join("\n"));
  for (const platform of ["linux-x64", "linux-arm64", "darwin-x64", "darwin-arm64", "win32-x64"]) {
    assert.ok(wanted.some((p) => p.includes(`node-bindings-${platform}/`)), platform);
  }
  for (const name of ["ingest", "ingest-local", "show"] as const) {
    assert.deepEqual([...(await readPermissionSet(name)).ffi!].sort(), wanted, name);
  }
  // Deno takes allow-list paths that do not exist (the other platforms' addons):
  // this platform's run loads DuckDB under the full list.
  const here = wanted.filter((p) => {
    try {
      Deno.statSync(join(REPO_ROOT, p));
      return true;
    } catch {
      return false;
    }
  });
  assert.ok(here.length >= 1 && here.length < wanted.length, here.join(", "));
});

Deno.test("the production set: project root, TradingView, DuckDB's addon, our env vars", async () => {
  const set = await readPermissionSet("ingest");
  assert.deepEqual(set.read, ["."]);
  assert.deepEqual(set.write, ["."]);
  assert.deepEqual(set.net, ["scanner.tradingview.com"]);
  // Exactly the variables the tool reads (lib/input/cli.ts), and no other.
  assert.deepEqual(set.env, [...ENV_NAMES]);
  assert.deepEqual(set.sys, ["hostname"]);
  for (const path of set.ffi!) {
    assert.match(path, /^node_modules\/.*@duckdb\/node-bindings-[a-z0-9-]+\/duckdb\.node$/);
  }
  const local = await readPermissionSet("ingest-local");
  assert.deepEqual({ ...local, net: undefined }, { ...set, net: undefined });
  assert.deepEqual(local.net, ["scanner.tradingview.com", "127.0.0.1", "localhost"]);
});

Deno.test("the read-only set: the root, the AWS variables, a store on loopback, one work folder", async () => {
  const set = await readPermissionSet("show");
  assert.deepEqual(set.read, ["."]);
  assert.deepEqual(set.write, [".meta-ingest"], "only the private copies of an S3 catalog");
  assert.deepEqual(set.net, ["127.0.0.1", "localhost"]);
  assert.deepEqual(set.env, ENV_NAMES.filter((n) => n.startsWith("AWS_")));
  assert.equal(set.sys, undefined);
});

Deno.test("compile flags stay relative so the binary is scoped where it runs", async () => {
  const flags = await permissionFlags("ingest", "compile");
  assert.ok(flags.includes("--allow-read=."));
  assert.ok(flags.includes("--allow-write=."));
  assert.ok(!flags.some((f) => f.includes(REPO_ROOT)), flags.join(" "));
});

Deno.test("Deno refuses reads and writes outside the root under the set", async () => {
  await using project = await tempProject();
  await using other = await tempProject();
  const secret = await other.write("secret.json", "[]");
  await project.write("inside.json", "[]");
  const results = await probe("ingest", project.dir, {
    "read:inside": "inside.json",
    "read:outside": secret,
    "read:etc": "/etc/hostname",
    "read:parent": "../" + secret.split("/").slice(-2).join("/"),
    "write:inside": "out.txt",
    "write:outside": `${other.dir}/x.txt`,
  });
  assert.deepEqual(results, {
    "read:inside": "allowed",
    "read:outside": "refused",
    "read:etc": "refused",
    "read:parent": "refused",
    "write:inside": "allowed",
    "write:outside": "refused",
  });
});

Deno.test("Deno refuses other hosts, env vars, subprocesses and libraries", async () => {
  await using project = await tempProject();
  const prod = await probe("ingest", project.dir, {
    "net:loopback": "127.0.0.1",
    "net:other": "example.com",
    "env:home": "HOME",
    "env:ours": "META_INGEST_BASE_URL",
    "env:endpoint": "META_INGEST_ENDPOINT",
    "run:sh": "sh",
    "ffi:libc": "libc.so.6",
    "sys:release": "osRelease",
  });
  assert.deepEqual(prod, {
    "net:loopback": "refused",
    "net:other": "refused",
    "env:home": "refused",
    "env:ours": "allowed",
    "env:endpoint": "allowed",
    "run:sh": "refused",
    "ffi:libc": "refused",
    "sys:release": "refused",
  });
  const local = await probe("ingest-local", project.dir, { "net:other": "example.com" });
  assert.equal(local["net:other"], "refused");
});
