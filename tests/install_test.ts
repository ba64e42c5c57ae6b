/**
 * `make install`: a `meta-ingest` command that runs from any folder, as a
 * pipeline's own Makefile calls it, confined to that folder (or --root DIR):
 * it ingests from the mirror, `show` reads the catalog back, and every path
 * that tries to leave the folder is refused and touches nothing outside.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { MARKER } from "../tools/install.ts";
import { permissionFlags, REPO_ROOT } from "../tools/permissions.ts";
import { listing, tempProject } from "../testing/tmp.ts";
import { startMirror } from "../testing/mirror.ts";

const decoder = new TextDecoder();

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(command: string, args: string[], cwd: string): Promise<Ran> {
  const output = await new Deno.Command(command, {
    args,
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** Every file and folder under `dir`, as relative paths, sorted. */
async function tree(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const rel = `${prefix}${entry.name}`;
    out.push(rel);
    if (entry.isDirectory) out.push(...await tree(join(dir, entry.name), `${rel}/`));
  }
  return out.sort();
}

/** A pipeline's own Makefile, calling the installed command as any tool. */
function pipelineMakefile(command: string): string {
  return [
    `META_INGEST := ${command}`,
    "CATALOG := data/lakehouse/symbols.parquet",
    "",
    "refresh:",
    "\t$(META_INGEST) --candidates-file run/candidates.json --catalog-path $(CATALOG) \\",
    '\t\t--base-url "$(BASE_URL)" --json > run/report.json',
    "",
    "check:",
    "\t$(META_INGEST) show NASDAQ:AAPL NYSE:KO --catalog-path $(CATALOG) --csv --columns pricescale",
    "",
    "fresh:",
    "\t$(META_INGEST) status --catalog-path $(CATALOG) --stale-after 1h --json",
    "",
  ].join("\n");
}

Deno.test("make install: meta-ingest runs from a folder outside the repository, and stays in it", async () => {
  await using prefix = await tempProject("meta-ingest-prefix-");
  await using project = await tempProject("meta-ingest-pipeline-");
  await using outside = await tempProject("meta-ingest-outside-");
  await using mirror = startMirror();
  assert.ok(!project.dir.startsWith(REPO_ROOT), "the project is outside the repository");

  const installed = await run("make", ["-s", "install", `PREFIX=${prefix.dir}`], REPO_ROOT);
  assert.equal(installed.code, 0, installed.stderr);
  const command = join(prefix.dir, "bin", "meta-ingest");
  const script = await Deno.readTextFile(command);
  assert.ok(script.includes(MARKER));
  assert.ok(((await Deno.stat(command)).mode ?? 0) & 0o111, "executable");

  // The pipeline's own Makefile, in its own folder.
  await project.write("Makefile", pipelineMakefile(command));
  await project.write("run/candidates.json", JSON.stringify(["NASDAQ:AAPL", "nyse:ko"]));
  await outside.write("c.json", JSON.stringify(["NASDAQ:MSFT"]));
  const outsideBefore = await tree(outside.dir);

  const refresh = await run("make", ["-s", "refresh", `BASE_URL=${mirror.url}`], project.dir);
  assert.equal(refresh.code, 0, refresh.stderr);
  const report = JSON.parse(await Deno.readTextFile(join(project.dir, "run/report.json")));
  assert.deepEqual([report.exit_code, report.new], [0, 2]);
  assert.equal(mirror.stats.requests, 2);
  const check = await run("make", ["-s", "check"], project.dir);
  assert.equal(check.code, 0, check.stderr);
  assert.equal(check.stdout, "symbol,pricescale\r\nNASDAQ:AAPL,100\r\nNYSE:KO,100\r\n");
  // status reads the run log the ingest wrote: both symbols checked just now.
  const fresh = await run("make", ["-s", "fresh"], project.dir);
  assert.equal(fresh.code, 0, fresh.stderr);
  const status = JSON.parse(fresh.stdout);
  assert.deepEqual(
    [status.current, status.never_checked, status.stale, status.exit_code],
    [2, 0, 0, 0],
    fresh.stdout,
  );
  assert.deepEqual(await tree(project.dir), [
    "Makefile",
    "data",
    "data/lakehouse",
    "data/lakehouse/exchanges.parquet",
    "data/lakehouse/symbols.parquet",
    "data/lakehouse/symbols.runs.parquet",
    "run",
    "run/candidates.json",
    "run/report.json",
  ]);

  // --root DIR from anywhere: the same folder, the same confinement.
  const rooted = await run(
    command,
    ["--root", project.dir, "show", "--all", "--csv", "--columns", "pricescale"],
    outside.dir,
  );
  assert.equal(rooted.code, 0, rooted.stderr);
  assert.equal(rooted.stdout, "symbol,pricescale\r\nNASDAQ:AAPL,100\r\nNYSE:KO,100\r\n");

  // Every way out is refused (exit 2), and nothing outside is touched.
  await Deno.symlink(outside.dir, join(project.dir, "escape"));
  const ways: [string, string[]][] = [
    ["catalog ../", [
      "--symbols",
      "NASDAQ:MSFT",
      "--catalog-path",
      `../${outside.dir.split("/").pop()}/s.parquet`,
    ]],
    ["catalog absolute", [
      "--symbols",
      "NASDAQ:MSFT",
      "--catalog-path",
      join(outside.dir, "s.parquet"),
    ]],
    ["catalog via symlink", ["--symbols", "NASDAQ:MSFT", "--catalog-path", "escape/s.parquet"]],
    ["candidates absolute", ["--candidates-file", join(outside.dir, "c.json")]],
    ["candidates via symlink", ["--candidates-file", "escape/c.json"]],
    ["show absolute", ["show", "--all", "--catalog-path", join(outside.dir, "s.parquet")]],
    ["show via symlink", ["show", "--all", "--catalog-path", "escape/s.parquet"]],
    ["--root, then ..", [
      "--root",
      "data",
      "--symbols",
      "NASDAQ:MSFT",
      "--catalog-path",
      "../x.parquet",
    ]],
  ];
  for (const [what, args] of ways) {
    const ingest = args[0] !== "show";
    const result = await run(
      command,
      ingest ? [...args, "--base-url", mirror.url] : args,
      project.dir,
    );
    assert.equal(result.code, 2, `${what}: ${result.stderr}`);
    assert.match(result.stderr, /outside the project root/, what);
    assert.doesNotMatch(result.stderr, /NotCapable|Uncaught|at file:/, what);
  }
  assert.deepEqual(await tree(outside.dir), outsideBefore, "nothing written outside");
  assert.equal(mirror.stats.requests, 2, "nothing refused was fetched");
  assert.deepEqual(await listing(join(project.dir, "data")), ["lakehouse"]);

  // The launcher passes deno.json's sets as the tests' runner does, whose
  // confinement by Deno itself tests/permissions_test.ts proves.
  for (const set of ["show", "ingest", "ingest-local"] as const) {
    for (const flag of await permissionFlags(set, "run")) {
      assert.ok(script.includes(`'${flag}'`), `${set}: ${flag}`);
    }
  }

  const removed = await run("make", ["-s", "uninstall", `PREFIX=${prefix.dir}`], REPO_ROOT);
  assert.equal(removed.code, 0, removed.stderr);
  assert.deepEqual(await listing(join(prefix.dir, "bin")), []);
});

Deno.test("make uninstall leaves a meta-ingest it did not write", async () => {
  await using prefix = await tempProject("meta-ingest-prefix-");
  await prefix.write("bin/meta-ingest", "#!/bin/sh\necho mine\n");
  const result = await run("make", ["-s", "uninstall", `PREFIX=${prefix.dir}`], REPO_ROOT);
  assert.notEqual(result.code, 0);
  assert.match(result.stderr, /was not written by make install/);
  assert.equal(
    await Deno.readTextFile(join(prefix.dir, "bin/meta-ingest")),
    "#!/bin/sh\necho mine\n",
  );
});

Deno.test("the launcher allows loopback when a base URL is given, by flag or variable", async () => {
  await using prefix = await tempProject("meta-ingest-prefix-");
  await using project = await tempProject("meta-ingest-pipeline-");
  await using mirror = startMirror();
  const installed = await run("make", ["-s", "install", `PREFIX=${prefix.dir}`], REPO_ROOT);
  assert.equal(installed.code, 0, installed.stderr);
  const command = join(prefix.dir, "bin", "meta-ingest");
  const probe = await run(
    command,
    ["probe", "--symbols", "NASDAQ:AAPL", "--base-url", mirror.url, "--json"],
    project.dir,
  );
  assert.equal(probe.code, 0, probe.stderr);
  const output = await new Deno.Command(command, {
    args: ["--symbols", "NASDAQ:AAPL", "--json"],
    cwd: project.dir,
    env: { META_INGEST_BASE_URL: mirror.url },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 0, decoder.decode(output.stderr));
  assert.equal(JSON.parse(decoder.decode(output.stdout)).new, 1);
});
