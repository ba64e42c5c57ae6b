/**
 * `meta-ingest probe` against the local mirror: agreement, a column that
 * disagrees, sampling the catalog without writing it, and its flags.
 */
import assert from "node:assert/strict";
import { IngestError } from "../lib/core/errors.ts";
import { DEFAULT_SAMPLE, parseProbeCli } from "../lib/input/probe_cli.ts";
import { runProbe, spread } from "../lib/probe.ts";
import { memoryLogger } from "../lib/report/log.ts";
import { type Cli, cliTest } from "../testing/cli.ts";
import { mirrorBody, mirrorSymbols, startMirror } from "../testing/mirror.ts";
import { listing, tempProject } from "../testing/tmp.ts";

const CATALOG = "data/lakehouse/symbols.parquet";
const SYMBOLS = mirrorSymbols().filter((_, i) => i % 97 === 0).slice(0, 30);

cliTest("probe: both endpoints agree, exit 0, a table and --json", async (cli: Cli) => {
  await using project = await tempProject();
  await using mirror = startMirror();
  const args = ["probe", "--symbols", SYMBOLS.join(","), "--base-url", mirror.url];
  const table = await cli.run(args, { cwd: project.dir });
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /meta-ingest probe: 30 symbols, 30 returned by both endpoints/);
  assert.match(table.stdout, /\n {2}pricescale +30 +0\n/);
  assert.match(table.stdout, /every field both endpoints carry agrees/);
  const json = await cli.run([...args, "--json"], { cwd: project.dir });
  assert.equal(json.code, 0);
  const report = JSON.parse(json.stdout);
  assert.deepEqual([report.symbols, report.compared, report.agree, report.exit_code], [
    30,
    30,
    true,
    0,
  ]);
  assert.ok(report.fields.every((f: { differ: number }) => f.differ === 0));
  assert.equal(report.http.symbol, 30);
  assert.ok(report.http.scan <= 2, `${report.http.scan} /scan requests`);
  assert.deepEqual(await listing(project.dir), [], "the probe writes nothing");
});

cliTest("probe: a column that disagrees is named, exit 3", async (cli: Cli) => {
  await using project = await tempProject();
  await using mirror = startMirror({ scanSkew: "pricescale" });
  const result = await cli.run(
    ["probe", "--symbols", SYMBOLS.join(","), "--base-url", mirror.url, "--json"],
    { cwd: project.dir },
  );
  assert.equal(result.code, 3, result.stderr);
  const report = JSON.parse(result.stdout);
  const differing = report.fields.filter((f: { differ: number }) => f.differ > 0).map((
    f: { field: string },
  ) => f.field);
  // tick_size is derived from pricescale, so it differs with it.
  assert.deepEqual(differing, ["pricescale", "tick_size"]);
  assert.equal(report.agree, false);
  const table = await cli.run(
    ["probe", "--symbols", SYMBOLS.slice(0, 3).join(","), "--base-url", mirror.url],
    { cwd: project.dir },
  );
  assert.equal(table.code, 3);
  assert.match(table.stdout, /pricescale +0 +3 +\S+: \/symbol \d+, \/scan \d+0/);
  assert.match(table.stdout, /the endpoints disagree/);
});

cliTest("probe --from-catalog samples the catalog and never writes it", async (cli: Cli) => {
  await using project = await tempProject();
  await using mirror = startMirror();
  const seed = await cli.run(["--symbols", SYMBOLS.join(","), "--base-url", mirror.url], {
    cwd: project.dir,
  });
  assert.equal(seed.code, 0, seed.stderr);
  const path = `${project.dir}/${CATALOG}`;
  const bytes = await Deno.readFile(path);
  const mtime = (await Deno.stat(path)).mtime;
  const before = await listing(`${project.dir}/data/lakehouse`);
  const result = await cli.run(
    ["probe", "--from-catalog", "--sample", "7", "--base-url", mirror.url, "--json"],
    { cwd: project.dir },
  );
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(JSON.parse(result.stdout).symbols, 7);
  assert.deepEqual(await Deno.readFile(path), bytes);
  assert.deepEqual((await Deno.stat(path)).mtime, mtime);
  assert.deepEqual(await listing(`${project.dir}/data/lakehouse`), before, "no lock, no temp");
});

cliTest("probe without a catalog or symbols fails with a hint", async (cli: Cli) => {
  await using project = await tempProject();
  const result = await cli.run(["probe", "--base-url", "http://127.0.0.1:9"], {
    cwd: project.dir,
  });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /no catalog at data\/lakehouse\/symbols\.parquet.*--symbols/s);
  assert.deepEqual(await listing(project.dir), []);
});

Deno.test("probe flags: defaults, validation, and no flag that writes", () => {
  const command = parseProbeCli([], {});
  assert.equal(command.kind, "probe");
  if (command.kind !== "probe") return;
  assert.deepEqual([command.options.source, command.options.sample], [
    { kind: "from-catalog" },
    DEFAULT_SAMPLE,
  ]);
  assert.equal(parseProbeCli(["--help"], {}).kind, "help");
  const usage = (args: string[], pattern: RegExp) =>
    assert.throws(
      () => parseProbeCli(args, {}),
      (err) => err instanceof IngestError && err.kind === "usage" && pattern.test(err.message),
    );
  usage(["--sample", "0"], /--sample must be a whole number from 1 to 5000/);
  usage(["--symbols", "A:B", "--from-catalog"], /only one of/);
  usage(["--dry-run"], /unknown flag --dry-run/);
  usage(["--retire-not-found"], /unknown flag --retire-not-found/);
});

Deno.test("spread picks an even sample, first and last kept", () => {
  const items = Array.from({ length: 10 }, (_, i) => i);
  assert.deepEqual(spread(items, 4), [0, 3, 6, 9]);
  assert.deepEqual(spread(items, 20), items);
  assert.deepEqual(spread(items, 1), [0]);
});

cliTest(
  "probe prints outside text escaped and --base-url without credentials",
  async (cli: Cli) => {
    await using project = await tempProject();
    // The description differs between the endpoints, so the table shows it.
    await using mirror = startMirror({ scanSkew: "description" });
    const evil = "Apple\x1b]0;pwned\x07\u009b2J\u202eInc";
    mirror.configure({
      overrides: { "NASDAQ:AAPL": { ...mirrorBody("NASDAQ:AAPL"), description: evil } },
    });
    const url = mirror.url.replace("http://", "http://user:secret@");
    const result = await cli.run(["probe", "--symbols", "NASDAQ:AAPL", "--base-url", url], {
      cwd: project.dir,
    });
    const out = result.stdout + result.stderr;
    assert.match(out, /Apple\\u001b\]0;pwned\\u0007\\x9b2J\\u202eInc/, out);
    // deno-lint-ignore no-control-regex
    assert.doesNotMatch(out, /[\x1b\x07\u009b\u202e]/);
    assert.doesNotMatch(out, /secret/);
  },
);

cliTest(
  "probe --from-catalog refuses a catalog path DuckDB would read as a glob",
  async (cli: Cli) => {
    await using project = await tempProject();
    const result = await cli.run(["probe", "--from-catalog", "--catalog-path", "data/s?.parquet"], {
      cwd: project.dir,
    });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /contains '\?'.*file pattern/);
  },
);

Deno.test("an interrupted probe reports the signal's exit code, the one the process exits with", async () => {
  await using project = await tempProject();
  await using mirror = startMirror({ latencyMs: 50 });
  const command = parseProbeCli(["--symbols", SYMBOLS.join(","), "--base-url", mirror.url], {});
  assert.equal(command.kind, "probe");
  if (command.kind !== "probe") return;
  const stop = new AbortController();
  setTimeout(() => stop.abort("SIGTERM"), 20);
  const report = await runProbe(command.options, {
    log: memoryLogger(),
    root: project.dir,
    signal: stop.signal,
  });
  assert.equal(report.exit_code, 143);
  assert.match(report.error ?? "", /interrupted by SIGTERM/);
});

Deno.test("probe: a failed second-round /scan batch is a failure, not 'not found'", async () => {
  await using project = await tempProject();
  // XCRYPTO is not in the exchange table: /global first (where a spot pair
  // is missing), then /crypto, which keeps failing.
  await using mirror = startMirror({
    overrides: { "XCRYPTO:BTCUSDT": { pricescale: 100, minmov: 1, type: "spot" } },
    fault: ({ endpoint, symbol }) =>
      endpoint === "scan" && symbol === "crypto/scan" ? { kind: "status", status: 503 } : undefined,
  });
  const command = parseProbeCli(
    ["--symbols", "XCRYPTO:BTCUSDT,NASDAQ:AAPL", "--base-url", mirror.url, "--max-retries", "0"],
    {},
  );
  assert.equal(command.kind, "probe");
  if (command.kind !== "probe") return;
  const report = await runProbe(command.options, { log: memoryLogger(), root: project.dir });
  assert.deepEqual(report.only_symbol, [], "no disagreement where there was a failure");
  assert.deepEqual(report.failed, [{
    symbol: "XCRYPTO:BTCUSDT",
    endpoint: "scan",
    reason: "HTTP 503 (gave up after 1 attempt)",
  }]);
  assert.equal(report.compared, 1);
  assert.equal(report.exit_code, 3);
});
