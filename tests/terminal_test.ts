/**
 * Text from outside never reaches the terminal raw (issue 13 item 3): keys
 * and entries of the candidates file, API values, a foreign lock file's
 * fields. Real CLI runs; the JSON report keeps the exact values.
 */
import assert from "node:assert/strict";
import { hostname } from "node:os";
import { type Cli, cliTest } from "../testing/cli.ts";
import { tempProject } from "../testing/tmp.ts";
import { mirrorBody, startMirror } from "../testing/mirror.ts";

const CATALOG = "data/lakehouse/symbols.parquet";

/** Anything but a line break that a terminal would act on. */
const RAW_CONTROL =
  // deno-lint-ignore no-control-regex
  /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

function assertClean(stderr: string): void {
  const found = stderr.match(RAW_CONTROL);
  assert.equal(
    found,
    null,
    `raw control U+${found?.[0].charCodeAt(0).toString(16)} in:\n${stderr}`,
  );
}

cliTest("keys and entries of the candidates file are printed escaped", async (cli: Cli) => {
  await using project = await tempProject();
  await using mirror = startMirror();
  const evilKey = "\x1b]0;pwned\x07\x1b[2J\rerror: forged";
  await project.write(
    "run/candidates.json",
    JSON.stringify([
      "NASDAQ:AAPL",
      { [evilKey]: 1 },
      "NASDAQ:\u009b2JX",
      "NASDAQ:\u202eLPAA",
      "x".repeat(5000),
    ]),
  );
  const result = await cli.run(
    ["--candidates-file", "run/candidates.json", "--base-url", mirror.url, "--json"],
    { cwd: project.dir },
  );
  assert.equal(result.code, 3, result.stderr);
  assertClean(result.stderr);
  assert.match(result.stderr, /#2 object\{\\x1b\]0;pwned\\x07\\x1b\[2J\\x0derror: forged\}/);
  assert.match(result.stderr, /\\x9b2JX/);
  assert.match(result.stderr, /\\u202eLPAA/);
  assert.doesNotMatch(result.stderr, /^error: forged/m);
  assert.ok(result.stderr.length < 3000, "long entries are capped");
  const report = JSON.parse(result.stdout);
  assert.equal(report.invalid[0].input, `object{${evilKey}}`, "the report keeps exact values");
  assert.equal(report.invalid[2].input, JSON.stringify("NASDAQ:\u202eLPAA"));
});

cliTest("API values in a --dry-run diff are printed escaped", async (cli: Cli) => {
  await using project = await tempProject();
  await using mirror = startMirror();
  const args = ["--symbols", "NASDAQ:AAPL", "--base-url", mirror.url];
  assert.equal((await cli.run(args, { cwd: project.dir })).code, 0);
  const evil = "Apple\x1b[31m\u009b2J\u202eInc\x07";
  mirror.configure({
    overrides: { "NASDAQ:AAPL": { ...mirrorBody("NASDAQ:AAPL"), description: evil } },
  });
  const result = await cli.run([...args, "--dry-run", "--json"], { cwd: project.dir });
  assert.equal(result.code, 0, result.stderr);
  assertClean(result.stderr);
  assert.match(
    result.stderr,
    /description: "Apple Inc\." → "Apple\\u001b\[31m\\x9b2J\\u202eInc\\u0007"/,
  );
  const report = JSON.parse(result.stdout);
  assert.equal(report.changes[0].fields[0].new, evil, "the report keeps exact values");
});

cliTest("a foreign lock file's fields are printed escaped", async (cli: Cli) => {
  await using project = await tempProject();
  await using mirror = startMirror();
  await project.write(
    `${CATALOG}.lock`,
    JSON.stringify({
      pid: 999999,
      host: hostname(),
      started_at: "2026\x1b[2J\u202e",
      tool: "meta-ingest\r\nerror: forged",
      version: "\u009b31m",
      token: "x",
    }),
  );
  const result = await cli.run(["--symbols", "NASDAQ:AAPL", "--base-url", mirror.url], {
    cwd: project.dir,
  });
  assert.equal(result.code, 0, result.stderr);
  assertClean(result.stderr);
  assert.match(
    result.stderr,
    /took over a stale lock from pid 999999 .*meta-ingest\\x0d\\x0aerror: forged \\x9b31m, since 2026\\x1b\[2J\\u202e/,
  );
  assert.doesNotMatch(result.stderr, /^error: forged/m);
});

cliTest("a --base-url with credentials is printed without them", async (cli: Cli) => {
  await using project = await tempProject();
  await using mirror = startMirror();
  const url = mirror.url.replace("http://", "http://user:s3cret@");
  const result = await cli.run(["--symbols", "NASDAQ:AAPL", "--base-url", url, "--dry-run"], {
    cwd: project.dir,
  });
  assert.doesNotMatch(result.stderr, /s3cret|user:/);
  assert.match(
    result.stderr,
    /fetching 1 symbol from http:\/\/\*\*\*@127\.0\.0\.1:\d+ \(.*\) with/,
  );
});

cliTest(
  "server values in failure reasons and paths in error texts are printed escaped",
  async (cli: Cli) => {
    await using project = await tempProject();
    await using mirror = startMirror({
      overrides: {
        "NASDAQ:AAPL": { ...mirrorBody("NASDAQ:AAPL"), pricescale: "1\u202e\u009b2J\x1b]0;t\x07" },
      },
    });
    const failed = await cli.run(
      [
        "--symbols",
        "NASDAQ:AAPL,NYSE:KO",
        "--base-url",
        mirror.url,
        "--max-retries",
        "0",
        "--json",
      ],
      { cwd: project.dir },
    );
    assert.equal(failed.code, 3, failed.stderr);
    assertClean(failed.stderr);
    assert.match(failed.stderr, /NASDAQ:AAPL: invalid response: .*\\u202e\\x9b2J/);
    assert.match(
      JSON.parse(failed.stdout).failed[0].reason,
      /\u202e\u009b2J/,
      "exact in the report",
    );

    const missing = await cli.run(
      ["--candidates-file", "run/\x1b[2J\u202ec.json\nerror: forged", "--base-url", mirror.url],
      { cwd: project.dir },
    );
    assert.equal(missing.code, 1, missing.stderr);
    assertClean(missing.stderr);
    assert.match(
      missing.stderr,
      /error: candidates file not found: run\/\\x1b\[2J\\u202ec\.json\\x0aerror: forged/,
    );
    assert.doesNotMatch(missing.stderr, /^error: forged/m);
  },
);
