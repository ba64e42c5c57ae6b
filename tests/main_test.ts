/**
 * The CLI contract, as a child process under the real permission sets.
 */
import assert from "node:assert/strict";
import { VERSION } from "../lib/core/version.ts";
import { cliTest } from "../testing/cli.ts";
import { tempProject } from "../testing/tmp.ts";

cliTest("--help prints usage and exits 0", async (cli) => {
  await using project = await tempProject();
  const result = await cli.run(["--help"], { cwd: project.dir });
  assert.equal(result.code, 0);
  assert.match(result.stdout, /--candidates-file PATH/);
  assert.match(result.stdout, /Exit codes: 0 done, 3 partial/);
});

cliTest("--version prints the version", async (cli) => {
  await using project = await tempProject();
  const result = await cli.run(["--version"], { cwd: project.dir });
  assert.equal(result.code, 0);
  assert.equal(result.stdout.trim(), `meta-ingest ${VERSION}`);
});

cliTest("usage errors exit 2 with one line on stderr", async (cli) => {
  await using project = await tempProject();
  const cases: [string[], RegExp][] = [
    [[], /no targets/],
    [["--symbols", "A:B", "--from-catalog"], /only one of/],
    [["--from-catalog", "--workers", "17"], /--workers must be a whole number from 1 to 16/],
    [["--from-catalog", "--bogus"], /Unknown option '--bogus'/],
  ];
  for (const [args, pattern] of cases) {
    const result = await cli.run(args, { cwd: project.dir });
    assert.equal(result.code, 2, args.join(" "));
    assert.match(result.stderr, pattern);
    assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
    assert.equal(result.stdout, "");
  }
});

async function assertRefused(
  cli: Parameters<Parameters<typeof cliTest>[1]>[0],
  cwd: string,
  args: string[],
  pattern: RegExp,
) {
  const result = await cli.run([...args, "--json"], { cwd });
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stderr, pattern);
  assert.doesNotMatch(result.stderr, /NotCapable|Uncaught|at file:/);
  const report = JSON.parse(result.stdout);
  assert.equal(report.exit_code, 1);
  assert.match(report.error, pattern);
}

cliTest("candidates outside the root are refused with exit 1", async (cli) => {
  await using project = await tempProject();
  await using other = await tempProject();
  const outside = await other.write("c.json", '["NASDAQ:AAPL"]');
  await Deno.symlink(outside, `${project.dir}/link.json`);
  await assertRefused(cli, project.dir, ["--candidates-file", outside], /outside the project root/);
  await assertRefused(
    cli,
    project.dir,
    ["--candidates-file", "../x.json"],
    /outside the project root/,
  );
  await assertRefused(
    cli,
    project.dir,
    ["--candidates-file", "link.json"],
    /link\.json is outside the project root \(it resolves to/,
  );
  await assertRefused(cli, project.dir, ["--candidates-file", "/proc/self/environ"], /outside/);
});

cliTest("a FIFO, a directory and an oversize file are refused", async (cli) => {
  await using project = await tempProject();
  const mkfifo = await new Deno.Command("mkfifo", { args: [`${project.dir}/fifo.json`] }).output();
  assert.equal(mkfifo.code, 0);
  await Deno.mkdir(`${project.dir}/dir.json`);
  await project.write("big.json", `[${'"NASDAQ:AAPL",'.repeat(1_300_000)}"NASDAQ:AAPL"]`);
  await assertRefused(
    cli,
    project.dir,
    ["--candidates-file", "fifo.json"],
    /not a regular file \(a FIFO\)/,
  );
  await assertRefused(
    cli,
    project.dir,
    ["--candidates-file", "dir.json"],
    /not a regular file \(a directory\)/,
  );
  await assertRefused(
    cli,
    project.dir,
    ["--candidates-file", "big.json"],
    /larger than 16777216 bytes/,
  );
  await assertRefused(
    cli,
    project.dir,
    ["--candidates-file", "missing.json"],
    /not found: missing\.json/,
  );
});

cliTest("bad JSON names the file and position", async (cli) => {
  await using project = await tempProject();
  await project.write("c.json", '["NASDAQ:AAPL",\n  nope]');
  await assertRefused(
    cli,
    project.dir,
    ["--candidates-file", "c.json"],
    /candidates file c\.json is not valid JSON: unexpected 'n' at line 2 column 3/,
  );
});

cliTest("a catalog path outside the root is a clear error, not a permission crash", async (cli) => {
  await using project = await tempProject();
  await using other = await tempProject();
  await assertRefused(
    cli,
    project.dir,
    ["--symbols", "NASDAQ:AAPL", "--catalog-path", `${other.dir}/symbols.parquet`],
    /catalog path .* is outside the project root/,
  );
  await Deno.symlink(other.dir, `${project.dir}/data`);
  await assertRefused(
    cli,
    project.dir,
    ["--symbols", "NASDAQ:AAPL"],
    /catalog path data\/lakehouse\/symbols\.parquet is outside the project root/,
  );
});

cliTest("all entries invalid: exit 1 and nothing fetched", async (cli) => {
  await using project = await tempProject();
  await project.write("c.json", '[null, 5, {}, "", "BTCUSDT"]');
  const result = await cli.run(["--candidates-file", "c.json", "--json"], { cwd: project.dir });
  assert.equal(result.code, 1);
  const report = JSON.parse(result.stdout);
  assert.equal(report.requested, 5);
  assert.equal(report.valid, 0);
  assert.equal(report.invalid.length, 5);
  assert.equal(report.http.requests, 0);
  assert.equal(report.exit_code, 1);
  assert.equal(report.error, "every entry was invalid (5 of 5); nothing fetched or written");
});
