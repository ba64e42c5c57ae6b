import assert from "node:assert/strict";
import {
  emptyReport,
  formatSummary,
  outcomeCode,
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
  const failed = Array.from({ length: 23 }, (_, i) => ({ symbol: `EX:S${i}`, reason: "HTTP 503" }));
  const invalid = [{ index: 4, input: '""', reason: "empty symbol" }];
  const lines = formatSummary(report({ failed, invalid })).split("\n");
  assert.ok(lines.includes("invalid entries (1):"));
  // Entry numbers are 1-based for people (the 5th entry); JSON keeps index 4.
  assert.ok(lines.includes('  - #5 "": empty symbol'));
  assert.ok(lines.includes("failed symbols (23):"));
  assert.equal(lines.filter((l) => l.startsWith("  - EX:S")).length, 20);
  assert.equal(lines.at(-1), "  ... and 3 more");
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
