/**
 * The Makefile as the pipeline uses it: `make meta-ingest` with and without
 * CANDIDATES_FILE, against the local mirror, from this repository's root.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { currentRows, fetched, mergeOnce } from "../testing/catalog.ts";
import { REPO_ROOT } from "../tools/permissions.ts";
import { startMirror } from "../testing/mirror.ts";

async function make(args: string[]) {
  const output = await new Deno.Command("make", {
    args: ["-s", ...args],
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: output.code,
    stdout: new TextDecoder().decode(output.stdout),
    stderr: new TextDecoder().decode(output.stderr),
  };
}

Deno.test("make help lists every target, and what the README lists", async () => {
  const result = await make(["help"]);
  assert.equal(result.code, 0);
  const listed = [...result.stdout.matchAll(/^ {2}([a-z-]+)\s/gm)].map((m) => m[1]);
  for (
    const target of [
      "meta-ingest",
      "meta-show",
      "meta-status",
      "meta-probe",
      "install",
      "uninstall",
      "test",
      "check",
      "bench",
      "demo",
      "dist",
      "clean",
    ]
  ) {
    assert.ok(listed.includes(target), target);
  }
  assert.match(result.stdout, /CANDIDATES_FILE/);
  assert.match(result.stdout, /PREFIX=/);
  // The README's table of targets says nothing make help does not.
  const readme = await Deno.readTextFile(join(REPO_ROOT, "README.md"));
  const table = /^\| target +\|.*\n((?:\|.*\n)+)/m.exec(readme)?.[1] ?? "";
  const documented = [...table.matchAll(/^\| `([a-z-]+)` +\|/gm)].map((m) => m[1]);
  assert.ok(documented.length >= 1, "the README has a table of make targets");
  for (const target of documented) assert.ok(listed.includes(target), `README's ${target}`);
  // Both name the three binaries make dist builds.
  const dist = /^ {2}dist\s+(.*)$/m.exec(result.stdout)![1];
  for (const binary of ["dist/meta-ingest,", "dist/meta-ingest-local", "dist/meta-ingest-show"]) {
    assert.ok(`${dist},`.includes(binary), `make help's dist names ${binary}: ${dist}`);
  }
});

Deno.test("make meta-ingest: CANDIDATES_FILE's symbols, then a full refresh without it", async () => {
  await using mirror = startMirror();
  // The project root of `deno task` is this repository, so scratch files live in it.
  await Deno.mkdir(join(REPO_ROOT, ".scratch"), { recursive: true });
  const scratch = await Deno.makeTempDir({ dir: join(REPO_ROOT, ".scratch"), prefix: "make-" });
  try {
    const rel = scratch.slice(REPO_ROOT.length + 1);
    await Deno.writeTextFile(
      join(scratch, "candidates.json"),
      JSON.stringify(["NASDAQ:AAPL", "btcusdt"]),
    );
    const catalog = `${rel}/lakehouse/symbols.parquet`;
    const first = await make([
      "meta-ingest",
      `CANDIDATES_FILE=${rel}/candidates.json`,
      `BASE_URL=${mirror.url}`,
      `CATALOG_PATH=${catalog}`,
      `REPORT=${rel}/report.json`,
      "WORKERS=2",
      "ARGS=--default-exchange BINANCE",
    ]);
    assert.equal(first.code, 0, first.stderr);
    const report = JSON.parse(await Deno.readTextFile(join(scratch, "report.json")));
    assert.deepEqual([report.requested, report.new, report.exit_code], [2, 2, 0]);
    assert.ok(
      mirror.stats.peakInFlight <= 2,
      `${mirror.stats.peakInFlight} in flight with WORKERS=2`,
    );
    assert.deepEqual([...(await currentRows(join(REPO_ROOT, catalog))).keys()], [
      "BINANCE:BTCUSDT",
      "NASDAQ:AAPL",
    ]);

    mirror.resetStats();
    const full = await make(["meta-ingest", `BASE_URL=${mirror.url}`, `CATALOG_PATH=${catalog}`]);
    assert.equal(full.code, 0, full.stderr);
    assert.match(full.stderr, /requested 2, valid 2/);
    assert.match(
      full.stderr,
      /fetched 2, failed 0/,
      "--from-catalog refreshed the catalog's symbols",
    );
    assert.ok(mirror.stats.requests >= 2);
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
});

Deno.test("make meta-show: SYMBOLS as of AS_OF, under the show task, every variable quoted", async () => {
  await Deno.mkdir(join(REPO_ROOT, ".scratch"), { recursive: true });
  const scratch = await Deno.makeTempDir({ dir: join(REPO_ROOT, ".scratch"), prefix: "show-" });
  try {
    const rel = scratch.slice(REPO_ROOT.length + 1);
    // A folder with a space: CATALOG_PATH must reach the tool as one word.
    await Deno.mkdir(join(scratch, "my data"));
    const path = join(scratch, "my data", "symbols.parquet");
    await mergeOnce(path, [fetched("NASDAQ:AAPL"), fetched("NYSE:KO")], {
      now: new Date("2026-01-01T00:00:00Z"),
    });
    await mergeOnce(path, [fetched("NASDAQ:AAPL", { pricescale: 1000 })], {
      now: new Date("2026-02-01T00:00:00Z"),
    });
    const catalog = `CATALOG_PATH=${rel}/my data/symbols.parquet`;
    const result = await make([
      "meta-show",
      "SYMBOLS=nasdaq:aapl NYSE:KO",
      "AS_OF=2026-01-15 00:00Z",
      catalog,
      "ARGS=--csv --columns pricescale",
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "symbol,pricescale\r\nNASDAQ:AAPL,100\r\nNYSE:KO,100\r\n");
    const now = await make(["meta-show", catalog, "ARGS=--json"]);
    assert.equal(now.code, 0, now.stderr);
    assert.deepEqual(JSON.parse(now.stdout).rows.map((r: { pricescale: number }) => r.pricescale), [
      1000,
      100,
    ]);
    // A time without a zone reaches the time parser whole (it was split into
    // two words before, and read as a symbol), which refuses it by name.
    const zoneless = await make(["meta-show", "AS_OF=2026-12-05 13:00", catalog]);
    assert.equal(zoneless.code, 2);
    assert.match(zoneless.stderr, /--as-of "2026-12-05 13:00" is not a time/);
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
});

Deno.test("make meta-probe: SYMBOLS through /symbol and /scan, against a mirror", async () => {
  await using mirror = startMirror();
  const result = await make([
    "meta-probe",
    "SYMBOLS=NASDAQ:AAPL NYSE:KO",
    `BASE_URL=${mirror.url}`,
    "ARGS=--json",
  ]);
  assert.equal(result.code, 0, result.stderr);
  const report = JSON.parse(result.stdout);
  assert.equal(report.symbols, 2);
  assert.equal(report.exit_code, 0);
});
