import assert from "node:assert/strict";
import { noteEngineVersion } from "../lib/catalog/engine.ts";
import { VERSION } from "../lib/core/version.ts";
import {
  emptyReport,
  finishReport,
  formatSummary,
  outcomeCode,
  partialLine,
  type RunReport,
  settle,
  signalExitCode,
} from "../lib/report/report.ts";

function report(changes: Partial<RunReport>): RunReport {
  return { ...emptyReport("data/lakehouse/symbols.parquet", false), ...changes };
}

Deno.test("exit codes: 0 all merged, 3 partial, 1 nothing merged", () => {
  assert.equal(outcomeCode(report({ valid: 2, fetched: 2 })), 0);
  assert.equal(outcomeCode(report({})), 0, "nothing to do");
  const invalid = [{ index: 0, input: "null", reason: "null is not a symbol" }];
  const failed = [{ symbol: "A:B", reason: "HTTP 503" }];
  assert.equal(outcomeCode(report({ valid: 2, fetched: 1, failed })), 3);
  assert.equal(outcomeCode(report({ valid: 1, fetched: 1, invalid })), 3);
  assert.equal(outcomeCode(report({ valid: 1, fetched: 0, failed })), 1);
  assert.equal(outcomeCode(report({ invalid })), 1);
  assert.equal(outcomeCode(report({ valid: 1, failed, retired: 1 })), 3, "a retirement was merged");
});

Deno.test("the summary has every count people look for", () => {
  const text = formatSummary(report({
    requested: 5,
    valid: 4,
    fetched: 3,
    new: 1,
    changed: 1,
    unchanged: 1,
    http: {
      requests: 6,
      retries: 2,
      status429: 1,
      status403: 0,
      empty_bodies: 0,
      pauses: 0,
      paused_ms: 0,
    },
    catalog: { path: "c.parquet", rows: 10, current: 8 },
    duration_ms: 1234,
  }));
  assert.equal(
    text,
    [
      "meta-ingest: requested 5, valid 4, invalid 0",
      "  fetched 3, failed 0; new 1, changed 1, unchanged 1",
      "  http: 6 requests, 2 retries, 1 x 429; 1.23 s",
      "  catalog c.parquet: 10 rows, 8 current",
    ].join("\n"),
  );
});

Deno.test("failed and invalid entries are listed with reasons: the first 20, then a count", () => {
  const failed = Array.from(
    { length: 23 },
    (_, i) => ({ symbol: `EX:S${i}`, reason: `HTTP ${i}` }),
  );
  const invalid = [{ index: 4, input: '""', reason: "empty symbol" }];
  const lines = formatSummary(report({ failed, invalid })).split("\n");
  assert.ok(lines.includes("invalid entries (1):"));
  // Entry numbers are 1-based for people (the 5th entry); JSON keeps index 4.
  assert.ok(lines.includes('  - #5 "": empty symbol'));
  assert.ok(lines.includes("failed symbols (23):"));
  assert.equal(lines.filter((l) => l.startsWith("  - EX:S")).length, 20);
  assert.equal(lines.at(-1), "  ... and 3 more");
});

Deno.test("symbols that failed for one reason share one line; a reason the error says is not repeated", () => {
  const failed = Array.from({ length: 23 }, (_, i) => ({ symbol: `EX:S${i}`, reason: "HTTP 503" }));
  const skipped = [
    { symbol: "EX:T1", reason: "unreachable: cannot reach h: refused" },
    { symbol: "EX:T2", reason: "unreachable: cannot reach h: refused" },
  ];
  const lines = formatSummary({
    ...report({ failed }),
    skipped,
    error: "cannot reach h: refused (check the network)",
  }).split("\n");
  assert.ok(lines.includes("failed symbols (23):"));
  assert.ok(
    lines.includes(
      "  - EX:S0, EX:S1, EX:S2, EX:S3, EX:S4, EX:S5, EX:S6, EX:S7, EX:S8, EX:S9, ... and 13 more: HTTP 503",
    ),
    lines.join("\n"),
  );
  assert.ok(lines.includes("skipped symbols (2), never fetched:"));
  assert.ok(lines.includes("  - EX:T1, EX:T2: the error below"), lines.join("\n"));
});

Deno.test("a dry run lists what would change, field: old → new", () => {
  const text = formatSummary({
    ...report({ changed: 1, new: 1 }),
    dry_run: true,
    changes: [
      {
        symbol: "NASDAQ:AAPL",
        action: "changed",
        fields: [{ field: "pricescale", old: "100", new: "1000" }],
      },
      { symbol: "NYSE:KO", action: "new", fields: [] },
    ],
  });
  assert.match(text, /^meta-ingest \(dry run, nothing written\)/);
  assert.match(
    text,
    /would change \(2\):\n {2}- NASDAQ:AAPL changed \(pricescale: "100" → "1000"\)\n {2}- NYSE:KO new/,
  );
});

Deno.test("a catalog that was not read is null in the report and 'not read' in the summary", () => {
  const fresh = report({});
  assert.deepEqual(fresh.catalog, {
    path: "data/lakehouse/symbols.parquet",
    rows: null,
    current: null,
  });
  assert.match(formatSummary(fresh), /catalog data\/lakehouse\/symbols\.parquet: not read$/m);
  const read = report({ catalog: { path: "c", rows: 0, current: 0 } });
  assert.match(formatSummary(read), /catalog c: 0 rows, 0 current$/m);
});

Deno.test("settle: exit 1 always carries an error; 0 and 3 never get one", () => {
  const failed = [{ symbol: "A:B", reason: "HTTP 503" }];
  const invalid = [{ index: 0, input: "null", reason: "null is not a symbol" }];
  const allFailed = report({ requested: 1, valid: 1, failed });
  settle(allFailed);
  assert.deepEqual([allFailed.exit_code, allFailed.error], [
    1,
    "every symbol failed (1 of 1); nothing written",
  ]);
  const allInvalid = report({ requested: 1, invalid });
  settle(allInvalid);
  assert.deepEqual([allInvalid.exit_code, allInvalid.error], [
    1,
    "every entry was invalid (1 of 1); nothing fetched or written",
  ]);
  const partial = report({ requested: 2, valid: 2, fetched: 1, failed });
  settle(partial);
  assert.deepEqual([partial.exit_code, partial.error], [3, null]);
  assert.deepEqual([signalExitCode("SIGINT"), signalExitCode("SIGTERM")], [130, 143]);
});

Deno.test("a report says when it ran (ISO 8601 UTC) and with which tool and DuckDB", () => {
  const r = emptyReport("c.parquet", false, new Date("2026-03-01T03:17:00Z"));
  assert.equal(r.started_at, "2026-03-01T03:17:00.000Z");
  assert.equal(r.finished_at, null, "not finished yet");
  assert.equal(r.version, VERSION);
  assert.equal(r.duckdb_version, null, "DuckDB not loaded yet");
  finishReport(r, new Date("2026-03-01T03:18:01.250Z"));
  assert.equal(r.finished_at, "2026-03-01T03:18:01.250Z");
  noteEngineVersion("v9.9.9");
  finishReport(r, new Date("2026-03-01T03:18:02Z"));
  assert.equal(r.duckdb_version, "v9.9.9", "the DuckDB this process opened");
  // The keys sit beside duration_ms; the rest of the JSON is as it was.
  const keys = Object.keys(r);
  assert.deepEqual(
    keys.slice(keys.indexOf("duration_ms"), keys.indexOf("dry_run")),
    ["duration_ms", "started_at", "finished_at", "version", "duckdb_version"],
  );
});

Deno.test("--quiet's one line on exit 3 names how many failed, were skipped or invalid", () => {
  const failed = [{ symbol: "A:B", reason: "HTTP 503" }, { symbol: "A:C", reason: "HTTP 503" }];
  assert.equal(
    partialLine(report({ requested: 10, valid: 10, fetched: 8, failed, exit_code: 3 })),
    "partial: 2 of 10 symbols failed; 8 fetched and merged (exit 3)",
  );
  assert.equal(
    partialLine(report({
      requested: 1_500,
      valid: 1_499,
      fetched: 1_000,
      skipped: Array.from({ length: 499 }, (_, i) => ({ symbol: `A:S${i}`, reason: "halted: x" })),
      invalid: [{ index: 0, input: "null", reason: "null is not a symbol" }],
      exit_code: 3,
    })),
    "partial: 499 skipped (never fetched), 1 of 1,500 entries invalid; 1,000 fetched and merged (exit 3)",
  );
  for (const exit_code of [0, 1, 2, 130]) assert.equal(partialLine(report({ exit_code })), null);
});

Deno.test("people read grouped numbers and plurals; JSON keeps them raw", () => {
  const r = report({
    requested: 100_001,
    valid: 100_001,
    fetched: 1,
    http: {
      requests: 1,
      retries: 1,
      status429: 1_234,
      status403: 0,
      empty_bodies: 0,
      pauses: 1,
      paused_ms: 2_500_000,
    },
    catalog: { path: "c.parquet", rows: 1, current: 1 },
  });
  const text = formatSummary(r);
  assert.match(text, /^meta-ingest: requested 100,001, valid 100,001, invalid 0$/m);
  assert.match(text, /^ {2}http: 1 request, 1 retry, 1,234 x 429, paused 1 time, 2,500 s; /m);
  assert.match(text, /catalog c\.parquet: 1 row, 1 current$/m);
  assert.equal(JSON.parse(JSON.stringify(r)).requested, 100_001);
});
