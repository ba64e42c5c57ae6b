import assert from "node:assert/strict";
import { DEFAULTS, parseCli, type RunOptions } from "../lib/input/cli.ts";
import { IngestError } from "../lib/core/errors.ts";

function options(args: string[], env = {}): RunOptions {
  const command = parseCli(args, env);
  assert.equal(command.kind, "run");
  return (command as { options: RunOptions }).options;
}

function usageError(args: string[], pattern: RegExp, env = {}) {
  assert.throws(
    () => parseCli(args, env),
    (err) => err instanceof IngestError && err.kind === "usage" && pattern.test(err.message),
    args.join(" "),
  );
}

Deno.test("defaults are documented values", () => {
  const o = options(["--from-catalog"]);
  assert.deepEqual(o, {
    source: { kind: "from-catalog" },
    endpoint: "auto",
    verify: 3,
    catalogPath: "data/lakehouse/symbols.parquet",
    workers: 3,
    defaultExchange: undefined,
    baseUrl: "https://scanner.tradingview.com",
    timeoutMs: DEFAULTS.timeoutMs,
    maxRetries: DEFAULTS.maxRetries,
    maxThrottleS: 300,
    lockTimeoutMs: 60_000,
    retireNotFound: false,
    dryRun: false,
    json: false,
    quiet: false,
  });
});

Deno.test("exactly one target source is required", () => {
  usageError([], /no targets/);
  usageError(["--symbols", "A:B", "--from-catalog"], /only one of/);
  usageError(["--candidates-file", "c.json", "--symbols", "A:B"], /only one of/);
  assert.deepEqual(options(["--candidates-file", "c.json"]).source, {
    kind: "candidates-file",
    path: "c.json",
  });
  assert.deepEqual(options(["--symbols", "A:B,c:d"]).source, {
    kind: "symbols",
    list: ["A:B", "c:d"],
  });
});

Deno.test("--workers is a whole number 1..16, never clamped", () => {
  assert.equal(options(["--from-catalog", "--workers", "16"]).workers, 16);
  assert.equal(options(["--from-catalog", "--workers=1"]).workers, 1);
  for (const bad of ["0", "17", "-1", "2.5", "three", "", "1e1", "0x3"]) {
    usageError(
      ["--from-catalog", `--workers=${bad}`],
      /--workers must be a whole number from 1 to 16/,
    );
  }
  usageError(["--from-catalog", "--workers", "-1"], /--workers/);
});

Deno.test("timeouts and retries are validated", () => {
  const o = options([
    "--from-catalog",
    "--timeout-ms",
    "2500",
    "--max-retries",
    "0",
    "--lock-timeout-ms",
    "0",
  ]);
  assert.deepEqual([o.timeoutMs, o.maxRetries, o.lockTimeoutMs], [2500, 0, 0]);
  usageError(["--from-catalog", "--timeout-ms", "5"], /--timeout-ms/);
  usageError(["--from-catalog", "--max-retries", "11"], /--max-retries/);
  usageError(["--from-catalog", "--lock-timeout-ms", "x"], /--lock-timeout-ms/);
});

Deno.test("--max-throttle-s is a whole number of seconds 0..3600", () => {
  assert.equal(options(["--from-catalog"]).maxThrottleS, DEFAULTS.maxThrottleS);
  assert.equal(options(["--from-catalog", "--max-throttle-s", "0"]).maxThrottleS, 0);
  assert.equal(options(["--from-catalog", "--max-throttle-s=3600"]).maxThrottleS, 3600);
  for (const bad of ["3601", "-1", "1.5", "five", ""]) {
    usageError(
      ["--from-catalog", `--max-throttle-s=${bad}`],
      /--max-throttle-s must be a whole number from 0 to 3600, got/,
    );
  }
});

Deno.test("--default-exchange is upper-cased and checked", () => {
  assert.equal(
    options(["--from-catalog", "--default-exchange", "binance"]).defaultExchange,
    "BINANCE",
  );
  usageError(["--from-catalog", "--default-exchange", "BIN ANCE"], /--default-exchange/);
});

Deno.test("base URL: flag, then META_INGEST_BASE_URL, then the default", () => {
  assert.equal(
    options(["--from-catalog", "--base-url", "http://127.0.0.1:8080/"]).baseUrl,
    "http://127.0.0.1:8080",
  );
  assert.equal(
    options(["--from-catalog"], { META_INGEST_BASE_URL: "http://localhost:9" }).baseUrl,
    "http://localhost:9",
  );
  assert.equal(
    options(["--from-catalog", "--base-url", "https://a.example"], {
      META_INGEST_BASE_URL: "http://b",
    })
      .baseUrl,
    "https://a.example",
  );
  usageError(["--from-catalog", "--base-url", "ftp://x"], /--base-url must be an http\(s\) URL/);
  for (const url of ["http://127.0.0.1:8080/?x=1", "http://127.0.0.1:8080/#top", "http://h/?"]) {
    usageError(
      ["--from-catalog", "--base-url", url],
      /--base-url must not have a \?query or #fragment/,
    );
  }
  usageError(["--from-catalog"], /META_INGEST_BASE_URL must be/, { META_INGEST_BASE_URL: "nope" });
  usageError(["--from-catalog"], /META_INGEST_BASE_URL must not have a \?query/, {
    META_INGEST_BASE_URL: "http://h/?token=x",
  });
});

Deno.test("endpoint: flag, then META_INGEST_ENDPOINT, then auto", () => {
  assert.equal(options(["--from-catalog"]).endpoint, "auto");
  assert.equal(options(["--from-catalog"], { META_INGEST_ENDPOINT: "symbol" }).endpoint, "symbol");
  assert.equal(options(["--from-catalog", "--verify", "0"]).verify, 0);
  usageError(["--from-catalog", "--verify", "51"], /--verify must be a whole number from 0 to 50/);
  assert.equal(options(["--from-catalog", "--endpoint", "scan"]).endpoint, "scan");
  assert.equal(options(["--from-catalog"], { META_INGEST_ENDPOINT: "scan" }).endpoint, "scan");
  assert.equal(
    options(["--from-catalog", "--endpoint", "symbol"], { META_INGEST_ENDPOINT: "scan" }).endpoint,
    "symbol",
  );
  usageError(["--from-catalog", "--endpoint", "batch"], /--endpoint must be auto, symbol or scan/);
  usageError(["--from-catalog"], /META_INGEST_ENDPOINT must be auto, symbol or scan/, {
    META_INGEST_ENDPOINT: "fast",
  });
});

Deno.test("unknown flags, missing values and positionals are usage errors", () => {
  usageError(
    ["--from-catalog", "--wrokers", "3"],
    /^unknown flag --wrokers; did you mean --workers\?$/,
  );
  usageError(["--from-catalog", "extra"], /^unexpected argument "extra"$/);
  usageError(
    ["NASDAQ:AAPL"],
    /^unexpected argument "NASDAQ:AAPL"; did you mean --symbols NASDAQ:AAPL\?$/,
  );
  usageError(["--candidates-file"], /^--candidates-file needs a value$/);
  usageError(["--symbols", "--dry-run"], /^--symbols needs a value, got the flag --dry-run$/);
  usageError(["--from-catalog", "--dry-run=yes"], /^--dry-run takes no value, got "yes"$/);
  usageError(["--from-catalog", "-x"], /^unknown flag -x$/);
});

Deno.test("did you mean: the flags people mistype", () => {
  for (
    const [given, meant] of [
      ["--symbol", "--symbols"],
      ["--dryrun", "--dry-run"],
      ["--worker", "--workers"],
      ["--dry_run", "--dry-run"],
      ["--catalog", "--catalog-path"],
      ["--retire", "--retire-not-found"],
      ["--jsno", "--json"],
      ["--roots", "--root"],
    ]
  ) {
    usageError([given, "x"], new RegExp(`^unknown flag ${given}; did you mean ${meant}\\?$`));
  }
  usageError(["--frobnicate"], /^unknown flag --frobnicate$/);
});

Deno.test("node's parser text never leaks: every parse error is in our words", () => {
  for (
    const args of [
      ["--bogus"],
      ["--symbols"],
      ["--symbols", "--json"],
      ["--json=1", "--symbols", "A:B"],
      ["-q"],
      ["--from-catalog", "a", "b"],
    ]
  ) {
    assert.throws(
      () => parseCli(args, {}),
      (err) =>
        err instanceof IngestError && err.kind === "usage" &&
        !/Unknown option|ambiguous|positional|'--'|To specify|argument missing/.test(err.message),
      args.join(" "),
    );
  }
});

Deno.test("--symbols takes commas and spaces alike; empty pieces are no entries", () => {
  for (const text of ["A:B,C:D", "A:B C:D", "A:B, C:D", " A:B\tC:D ,", "A:B,,C:D"]) {
    assert.deepEqual(options(["--symbols", text]).source, {
      kind: "symbols",
      list: ["A:B", "C:D"],
    });
  }
});

Deno.test("- is a value (stdin), and so is a negative number (refused with its range)", () => {
  assert.deepEqual(options(["--candidates-file", "-"]).source, {
    kind: "candidates-file",
    path: "-",
  });
  usageError(
    ["--from-catalog", "--workers", "-1"],
    /--workers must be a whole number from 1 to 16/,
  );
});

Deno.test("a flag given twice keeps its last value (a Makefile's ARGS can override)", () => {
  assert.equal(options(["--from-catalog", "--workers", "2", "--workers", "5"]).workers, 5);
});

Deno.test("--help and --version win over everything else", () => {
  assert.equal(parseCli(["--help", "--from-catalog"], {}).kind, "help");
  assert.equal(parseCli(["-h"], {}).kind, "help");
  assert.equal(parseCli(["--version"], {}).kind, "version");
  assert.equal(parseCli(["-V"], {}).kind, "version");
});

Deno.test("flags for the run", () => {
  const o = options(["--from-catalog", "--dry-run", "--json", "--retire-not-found", "--quiet"]);
  assert.deepEqual([o.dryRun, o.json, o.retireNotFound, o.quiet], [true, true, true, true]);
});

Deno.test("--default-exchange with a non-ASCII letter is refused, not upper-cased into ASCII", () => {
  usageError(
    ["--from-catalog", "--default-exchange", "ß"],
    /--default-exchange must be an exchange code/,
  );
});
