/**
 * The CLI contract, as a child process under the real permission sets.
 */
import assert from "node:assert/strict";
import { COMMANDS } from "../lib/commands.ts";
import { VERSION } from "../lib/core/version.ts";
import { cliTest } from "../testing/cli.ts";
import { startMirror } from "../testing/mirror.ts";
import { listing, tempProject } from "../testing/tmp.ts";

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
    [["--from-catalog", "--bogus"], /unknown flag --bogus/],
    [["--from-catalog", "--dryrun"], /unknown flag --dryrun; did you mean --dry-run\?/],
    [
      ["show", "--al"],
      /^error: unknown flag --al; did you mean --all\? \(run meta-ingest show --help for usage\)$/m,
    ],
    [["shwo"], /unknown command "shwo"; did you mean show\?/],
    [
      ["--symbols", "A:B", "--catalog-path", "x.csv"],
      /--catalog-path x\.csv does not end in \.parquet/,
    ],
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
  code = 1,
) {
  const result = await cli.run([...args, "--json"], { cwd });
  assert.equal(result.code, code, result.stderr);
  assert.match(result.stderr, pattern);
  assert.doesNotMatch(result.stderr, /NotCapable|Uncaught|at file:/);
  const report = JSON.parse(result.stdout);
  assert.equal(report.exit_code, code);
  assert.match(report.error, pattern);
}

cliTest("with --json, every usage error prints a report, a flag's as a path's", async (cli) => {
  await using project = await tempProject();
  const cases: [string[], RegExp][] = [
    [["--from-catalog", "--bogus"], /unknown flag --bogus/],
    [["--symbols"], /--symbols needs a value/],
    [["--from-catalog", "--workers", "0"], /--workers must be a whole number/],
    [["ingest", "--symbols", "A:B", "--catalog-path", "x.csv"], /does not end in \.parquet/],
    [["--symbols", "A:B", "--catalog-path", "../x.parquet"], /outside the project root/],
    [["--root", "nowhere", "--symbols", "A:B"], /--root nowhere: no such folder/],
  ];
  for (const [args, pattern] of cases) {
    const result = await cli.run([...args, "--json"], { cwd: project.dir });
    assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
    const report = JSON.parse(result.stdout);
    assert.equal(report.exit_code, 2);
    assert.match(report.error, pattern);
    assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
    assert.equal(report.duckdb_version, null, "nothing loaded DuckDB");
    assert.match(report.started_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  }
  // show's --json prints rows, not a run report: a usage error there is stderr only.
  const show = await cli.run(["show", "--al", "--json"], { cwd: project.dir, set: "show" });
  assert.equal(show.code, 2);
  assert.equal(show.stdout, "");
  assert.deepEqual(await listing(project.dir), [], "nothing was written");
});

cliTest(
  "help [COMMAND], -h and -V for every command; examples and every exit code",
  async (cli) => {
    await using project = await tempProject();
    const top = await cli.run(["help"], { cwd: project.dir });
    assert.equal(top.code, 0);
    assert.match(top.stdout, /^ {2}help\s+this help/m);
    assert.match(top.stdout, /--root DIR/);
    assert.deepEqual(COMMANDS.map((c) => c.name), ["ingest", "show", "status", "probe"]);
    for (const { name: command } of COMMANDS) {
      const help = await cli.run(["help", command], { cwd: project.dir });
      assert.equal(help.code, 0, help.stderr);
      const flag = await cli.run([command, "-h"], { cwd: project.dir });
      assert.equal(flag.stdout, help.stdout, `${command} -h is help ${command}`);
      assert.match(help.stdout, /^Examples:$/m, command);
      assert.match(
        help.stdout,
        /130 stopped by SIGINT \(Ctrl-C\), 143 stopped by SIGTERM/,
        command,
      );
      assert.match(help.stdout, /-V, --version/, command);
      assert.match(help.stdout, /--root DIR/, command);
    }
    for (const args of [["-V"], ["show", "-V"], ["status", "-V"], ["probe", "--version"]]) {
      const version = await cli.run(args, { cwd: project.dir });
      assert.equal(version.stdout.trim(), `meta-ingest ${VERSION}`, args.join(" "));
    }
    const unknown = await cli.run(["help", "shwo"], { cwd: project.dir });
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /did you mean show\?/);
  },
);

cliTest(
  "candidates outside the root are refused with exit 2 (a path on the command line)",
  async (cli) => {
    await using project = await tempProject();
    await using other = await tempProject();
    const outside = await other.write("c.json", '["NASDAQ:AAPL"]');
    await Deno.symlink(outside, `${project.dir}/link.json`);
    await assertRefused(
      cli,
      project.dir,
      ["--candidates-file", outside],
      /outside the project root/,
      2,
    );
    await assertRefused(
      cli,
      project.dir,
      ["--candidates-file", "../x.json"],
      /outside the project root/,
      2,
    );
    await assertRefused(
      cli,
      project.dir,
      ["--candidates-file", "link.json"],
      /link\.json is outside the project root \(it resolves to/,
      2,
    );
    await assertRefused(
      cli,
      project.dir,
      ["--candidates-file", "/proc/self/environ"],
      /outside/,
      2,
    );
  },
);

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
    /larger than 16,777,216 bytes/,
  );
  await assertRefused(
    cli,
    project.dir,
    ["--candidates-file", "missing.json"],
    /not found: missing\.json/,
  );
});

cliTest("--candidates-file - reads stdin: same cap, same rules, errors say stdin", async (cli) => {
  await using project = await tempProject();
  await using mirror = startMirror();
  const args = ["--candidates-file", "-", "--base-url", mirror.url, "--json"];
  const piped = await cli.run(args, {
    cwd: project.dir,
    stdin: JSON.stringify({ data: ["nasdaq:aapl", { symbol: "NYSE:KO" }, 5] }),
  });
  assert.equal(piped.code, 3, piped.stderr);
  const report = JSON.parse(piped.stdout);
  assert.deepEqual([report.requested, report.valid, report.new], [3, 2, 2]);
  assert.equal(report.invalid[0].index, 2, "JSON keeps the 0-based index");
  assert.match(piped.stderr, /#3 5: a number is not a symbol/, "people read 1-based numbers");
  assert.equal(mirror.stats.requests, 2);

  await assertRefusedStdin(
    cli,
    project.dir,
    '["NASDAQ:AAPL",\n  nope]',
    /^stdin is not valid JSON: unexpected 'n' at line 2 column 3/,
  );
  await assertRefusedStdin(
    cli,
    project.dir,
    new Uint8Array([0x5b, 0xff, 0x5d]),
    /^stdin is not valid UTF-8 text$/,
  );
  await assertRefusedStdin(cli, project.dir, "{}", /^stdin has a root of the wrong shape/);
  const big = `[${'"NASDAQ:AAPL",'.repeat(1_300_000)}"NASDAQ:AAPL"]`;
  await assertRefusedStdin(cli, project.dir, big, /^stdin is larger than 16,777,216 bytes/);
  assert.equal(mirror.stats.requests, 2, "nothing refused was fetched");
});

async function assertRefusedStdin(
  cli: Parameters<Parameters<typeof cliTest>[1]>[0],
  cwd: string,
  stdin: string | Uint8Array,
  pattern: RegExp,
) {
  const result = await cli.run(["--candidates-file", "-", "--json"], { cwd, stdin });
  assert.equal(result.code, 1, result.stderr);
  const report = JSON.parse(result.stdout);
  assert.match(report.error, pattern);
  assert.doesNotMatch(result.stderr, /candidates file -/);
}

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

cliTest(
  "a catalog path outside the root is a usage error (2), not a permission crash",
  async (cli) => {
    await using project = await tempProject();
    await using other = await tempProject();
    await assertRefused(
      cli,
      project.dir,
      ["--symbols", "NASDAQ:AAPL", "--catalog-path", `${other.dir}/symbols.parquet`],
      /catalog path .* is outside the project root/,
      2,
    );
    await Deno.symlink(other.dir, `${project.dir}/data`);
    await assertRefused(
      cli,
      project.dir,
      ["--symbols", "NASDAQ:AAPL"],
      /catalog path data\/lakehouse\/symbols\.parquet is outside the project root/,
      2,
    );
  },
);

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

cliTest(
  "a run's report: when, which tool, which DuckDB; --quiet still says a run was partial",
  async (cli) => {
    await using project = await tempProject();
    await using mirror = startMirror();
    mirror.configure({ overrides: { "NASDAQ:NOSUCH": "not-found" } });
    const before = new Date().toISOString();
    const result = await cli.run(
      ["--symbols", "NASDAQ:AAPL NASDAQ:NOSUCH", "--base-url", mirror.url, "--json", "--quiet"],
      { cwd: project.dir },
    );
    const after = new Date().toISOString();
    assert.equal(result.code, 3, result.stderr);
    const report = JSON.parse(result.stdout);
    assert.equal(report.version, VERSION);
    assert.match(report.duckdb_version, /^v\d+\.\d+\.\d+/, "the merge loaded DuckDB");
    assert.ok(before <= report.started_at && report.started_at <= report.finished_at);
    assert.ok(report.finished_at <= after);
    assert.equal(
      result.stderr,
      "warning: partial: 1 of 2 symbols failed; 1 fetched and merged (exit 3)\n",
      "one line, however quiet",
    );
    // Quiet and fully done: nothing at all.
    const done = await cli.run(["--symbols", "NASDAQ:AAPL", "--base-url", mirror.url, "--quiet"], {
      cwd: project.dir,
    });
    assert.equal(done.code, 0, done.stderr);
    assert.equal(done.stderr, "");
  },
);

Deno.test("testing/mirror.ts --help prints its options; an unknown flag is one line, not a crash", async () => {
  const mirror = new URL("../testing/mirror.ts", import.meta.url).pathname;
  const run = async (args: string[]) => {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", mirror, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decode = (b: Uint8Array) => new TextDecoder().decode(b);
    return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
  };
  const help = await run(["--help"]);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /--latency-ms N/);
  assert.match(help.stdout, /--soft-throttle L,W,P/);
  const bad = await run(["--bogus"]);
  assert.equal(bad.code, 2);
  assert.doesNotMatch(bad.stderr, /Uncaught|at file:/);
  assert.match(bad.stderr, /--help for its options/);
});
