/**
 * The subcommands (`ingest` is the default, `show`), the show command line,
 * and the flag table every command declares its flags in once.
 */
import assert from "node:assert/strict";
import { z } from "zod";
import { COMMANDS, parseCommandLine, topLevelHelp } from "../lib/commands.ts";
import { IngestError } from "../lib/core/errors.ts";
import { booleanFlag, parseFlags, stringFlag } from "../lib/input/flags.ts";
import { parseShowCli, parseTime, type ShowOptions } from "../lib/input/show_cli.ts";
import { cliTest } from "../testing/cli.ts";
import { tempProject } from "../testing/tmp.ts";

function usageError(fn: () => unknown, pattern: RegExp) {
  assert.throws(
    fn,
    (err) => err instanceof IngestError && err.kind === "usage" && pattern.test(err.message),
  );
}

function showOptions(args: string[]): ShowOptions {
  const command = parseShowCli(args);
  assert.equal(command.kind, "run");
  return (command as { options: ShowOptions }).options;
}

Deno.test("the bare form and `ingest` parse to the same run", () => {
  for (
    const args of [
      ["--candidates-file", "c.json", "--workers", "2"],
      ["--from-catalog", "--dry-run", "--json"],
      ["--symbols", "A:B", "--base-url", "http://127.0.0.1:1"],
    ]
  ) {
    assert.equal(parseCommandLine(args, {}).command, "ingest");
    assert.equal(parseCommandLine(["ingest", ...args], {}).command, "ingest");
  }
  assert.equal(parseCommandLine(["show", "A:B"], {}).command, "show");
  usageError(
    () => parseCommandLine(["shwo", "A:B"], {}),
    /^unknown command "shwo"; did you mean show\?$/,
  );
  usageError(() => parseCommandLine(["ingest", "--bogus"], {}), /^unknown flag --bogus$/);
});

Deno.test("--help lists the subcommands; a command's --help is its own", () => {
  const help = topLevelHelp();
  for (const command of COMMANDS) assert.match(help, new RegExp(`^  ${command.name}\\s+\\S`, "m"));
  assert.match(help, /--candidates-file PATH/);
  assert.deepEqual(COMMANDS.map((c) => c.name).slice(0, 2), ["ingest", "show"]);
});

cliTest("meta-ingest show --help and meta-ingest --help", async (cli) => {
  await using project = await tempProject();
  const top = await cli.run(["--help"], { cwd: project.dir });
  assert.equal(top.code, 0);
  assert.match(top.stdout, /^ {2}show\s+read the catalog/m);
  assert.match(top.stdout, /^ {2}ingest\s+refresh metadata/m);
  const show = await cli.run(["show", "--help"], { cwd: project.dir, set: "show" });
  assert.equal(show.code, 0);
  assert.match(show.stdout, /--as-of TIME/);
  assert.match(show.stdout, /--changed-since TIME/);
});

Deno.test("parseTime: the accepted forms, in UTC, and nothing else", () => {
  const good: [string, string][] = [
    ["2026-03-01", "2026-03-01T00:00:00Z"],
    ["2026-03-01T00:00:00Z", "2026-03-01T00:00:00Z"],
    ["2026-03-01T12:30Z", "2026-03-01T12:30:00Z"],
    ["2026-03-01 12:30:05.25z", "2026-03-01T12:30:05.250Z"],
    ["2026-03-01T00:00:00.000001Z", "2026-03-01T00:00:00.000001Z"],
    ["2026-03-01T01:00:00+02:00", "2026-02-28T23:00:00Z"],
    ["2026-03-01T01:00:00-0130", "2026-03-01T02:30:00Z"],
  ];
  for (const [input, iso] of good) assert.equal(parseTime(input), iso, input);
  for (
    const bad of [
      "",
      "yesterday",
      "2026-3-1",
      "2026-02-30",
      "2026-13-01",
      "2026-03-01T00:00:00", // no zone
      "2026-03-01T24:00:00Z",
      "2026-03-01T00:00:00.1234567Z", // finer than the catalog keeps
      "1772323200",
    ]
  ) {
    assert.equal(parseTime(bad), null, bad);
  }
});

Deno.test("show's command line: modes, symbols, formats and conflicts", () => {
  const o = showOptions([" nasdaq:aapl ", "NYSE:KO,nasdaq:aapl"]);
  assert.deepEqual(o, {
    symbols: ["NASDAQ:AAPL", "NYSE:KO"],
    all: false,
    mode: { kind: "current" },
    columns: undefined,
    format: "table",
    csvRaw: false,
    verify: true,
    catalogPath: "data/lakehouse/symbols.parquet",
  });
  assert.deepEqual(showOptions(["AAPL", "--default-exchange", "nasdaq"]).symbols, ["NASDAQ:AAPL"]);
  assert.deepEqual(showOptions(["--all", "--as-of", "2026-03-01", "--csv"]).mode, {
    kind: "as-of",
    at: "2026-03-01T00:00:00Z",
  });
  const feed = showOptions(["--changed-since", "2026-03-01", "--json"]);
  assert.deepEqual([feed.all, feed.format, feed.mode.kind], [true, "json", "changed-since"]);
  assert.equal(showOptions(["--all", "--ndjson"]).format, "ndjson");
  const raw = showOptions(["--all", "--csv-raw", "--no-verify"]);
  assert.deepEqual([raw.format, raw.csvRaw, raw.verify], ["csv", true, false]);
  assert.deepEqual(showOptions(["A:B", "--columns", "pricescale, tick_size"]).columns, [
    "pricescale",
    "tick_size",
  ]);
  assert.equal(parseShowCli(["-h"]).kind, "help");

  usageError(() => parseShowCli([]), /no symbols: name one or more/);
  usageError(() => parseShowCli(["A:B", "--all"]), /symbols or --all, not both/);
  usageError(
    () => parseShowCli(["A:B", "--json", "--csv"]),
    /only one of --json, --ndjson or --csv/,
  );
  usageError(
    () => parseShowCli(["A:B", "--history", "--as-of", "2026-01-01"]),
    /only one of --as-of, --history or --changed-since/,
  );
  usageError(() => parseShowCli(["AAPL"]), /symbol "AAPL" is not valid: no exchange prefix/);
  usageError(() => parseShowCli(["A:B", "--as-of", "2026-03-01T00:00"]), /accepted|use YYYY-MM-DD/);
  usageError(() => parseShowCli(["A:B", "--columns", "a,,b"]), /--columns must be/);
  usageError(() => parseShowCli(["A:B", "--as-of"]), /argument missing|--as-of/);
});

Deno.test("a flag table yields both the parser config and the validation", () => {
  const table = {
    n: stringFlag(z.string().regex(/^\d+$/, "--n must be digits").transform(Number).optional()),
    on: booleanFlag("o"),
  };
  const usage = (message: string) => new Error(message);
  const parsed = parseFlags(table, ["--n", "12", "-o", "rest"], { positionals: true, usage });
  assert.deepEqual(parsed, { flags: { n: 12, on: true }, positionals: ["rest"] });
  assert.throws(
    () => parseFlags(table, ["--n", "x"], { positionals: false, usage }),
    /--n must be digits/,
  );
  assert.throws(
    () => parseFlags(table, ["--m"], { positionals: false, usage }),
    /^Error: unknown flag --m$/,
  );
  assert.throws(
    () => parseFlags(table, ["x"], { positionals: false, usage }),
    /unexpected argument "x"/,
  );
  assert.deepEqual(
    parseFlags(table, ["--", "--n"], { positionals: true, usage }).positionals,
    ["--n"],
    "-- ends the flags",
  );
});

Deno.test("--root DIR: every command, anywhere before --, the last one wins", () => {
  assert.equal(parseCommandLine(["--root", "p", "show", "A:B"], {}).root, "p");
  assert.equal(parseCommandLine(["show", "A:B", "--root=p"], {}).root, "p");
  assert.equal(parseCommandLine(["status", "--root", "p", "--root", "q"], {}).root, "q");
  assert.equal(parseCommandLine(["--from-catalog"], {}).root, undefined);
  // After --, --root is a word like any other (here a symbol show refuses).
  usageError(() => parseCommandLine(["show", "A:B", "--", "--root", "p"], {}), /symbol "--root"/);
  usageError(() => parseCommandLine(["--root"], {}), /--root needs a folder/);
  usageError(() => parseCommandLine(["--root", "--json", "--from-catalog"], {}), /--root needs/);
  usageError(() => parseCommandLine(["--root="], {}), /--root needs a folder/);
});
