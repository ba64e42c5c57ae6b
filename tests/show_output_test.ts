/**
 * How `show` lays its answer out: tables measured in display columns and
 * fitted to a terminal, output written in pieces as rows arrive.
 */
import assert from "node:assert/strict";
import { DuckDBInstance } from "@duckdb/node-api";
import { CatalogReader, layoutOf, streamItems } from "../lib/catalog/reader.ts";
import { IngestError } from "../lib/core/errors.ts";
import { displayWidth, fitWidth } from "../lib/core/width.ts";
import { query } from "../testing/catalog.ts";
import { showInProcess } from "../testing/show.ts";
import { writeSyntheticCatalog } from "../testing/synthetic_catalog.ts";
import { tempProject } from "../testing/tmp.ts";

const CATALOG = "data/lakehouse/symbols.parquet";

async function catalogIn(dir: string): Promise<string> {
  await Deno.mkdir(`${dir}/data/lakehouse`, { recursive: true });
  return `${dir}/${CATALOG}`;
}

Deno.test("display width: wide characters count 2, combining marks 0", () => {
  assert.equal(displayWidth("Apple"), 5);
  assert.equal(displayWidth("日本語"), 6);
  assert.equal(displayWidth("ｱｲｳ"), 3, "halfwidth katakana are narrow");
  assert.equal(displayWidth("ＡＢ"), 4, "fullwidth forms are wide");
  assert.equal(displayWidth("한국"), 4);
  assert.equal(displayWidth("Cafe\u0301"), 4);
  assert.equal(displayWidth("😀"), 2);
  assert.equal(displayWidth("a\u200bb"), 2, "a zero-width space has no width");
  assert.equal(fitWidth("日本語の銘柄", 7), "日本語…");
  assert.equal(fitWidth("Cafe\u0301 au lait", 5), "Cafe\u0301…");
  assert.equal(fitWidth("short", 10), "short");
});

async function wideCatalog(dir: string): Promise<void> {
  const path = await catalogIn(dir);
  await query(
    `COPY (SELECT * FROM (VALUES
       ('TSE:7203', 'トヨタ自動車', 100::BIGINT, TIMESTAMP '2026-01-01'),
       ('EURONEXT:CAFE', 'Cafe\u0301 de Paris', 1000::BIGINT, TIMESTAMP '2026-01-01'),
       ('NASDAQ:AAPL', 'Apple Inc. ' || repeat('and a very long description ', 4), 10::BIGINT, TIMESTAMP '2026-01-01'))
       AS t(symbol, description, pricescale, valid_from))
     TO '${path}' (FORMAT parquet)`,
  );
}

Deno.test("a piped table is aligned by display width, at full width", async () => {
  await using project = await tempProject();
  await wideCatalog(project.dir);
  const table = await showInProcess(project.dir, ["--all", "--columns", "pricescale,description"]);
  assert.equal(table.code, 0, table.log.join("\n"));
  const lines = table.out.trimEnd().split("\n");
  assert.equal(lines.length, 5);
  // The description column starts at the same display column on every line.
  const at = (line: string) =>
    displayWidth(line.slice(0, line.indexOf(line.trim().split(/\s{2,}/)[2])));
  const starts = lines.filter((_, i) => i !== 1).map(at);
  assert.equal(new Set(starts).size, 1, starts.join(" "));
  assert.match(table.out, /トヨタ自動車/);
  assert.match(table.out, /Cafe\u0301 de Paris/);
  assert.match(table.out, /(and a very long description ){3}and a very long description$/m);
  assert.doesNotMatch(table.out, /…/);
});

Deno.test("a table on a terminal fits its width: long text is cut with …, numbers never", async () => {
  await using project = await tempProject();
  await wideCatalog(project.dir);
  const table = await showInProcess(project.dir, ["--all", "--columns", "pricescale,description"], {
    terminalWidth: 50,
  });
  assert.equal(table.code, 0, table.log.join("\n"));
  const lines = table.out.trimEnd().split("\n");
  for (const line of lines) assert.ok(displayWidth(line) <= 50, `${displayWidth(line)}: ${line}`);
  assert.match(table.out, /NASDAQ:AAPL\s+10\s+Apple Inc\. and a very.*…$/m);
  assert.match(table.out, /TSE:7203\s+100\s+トヨタ自動車$/m);
  assert.match(table.out, /EURONEXT:CAFE\s+1000\s+Cafe\u0301 de Paris$/m);
  // Too narrow for everything: text columns stop at a few characters, the rest wraps.
  const narrow = await showInProcess(
    project.dir,
    ["--all", "--columns", "pricescale,description"],
    {
      terminalWidth: 10,
    },
  );
  assert.match(narrow.out, /^NASDAQ:AAPL\s+10\s+Apple I…$/m);
  assert.match(narrow.out, /^EURONEXT:CAFE\s+1000\s+Cafe\u0301 de…$/m);
});

Deno.test("the answer is written in pieces as it streams, not as one text at the end", async () => {
  await using project = await tempProject();
  await writeSyntheticCatalog(await catalogIn(project.dir), { symbols: 5_000, versions: 2 });
  for (const args of [["--all", "--csv"], ["--all", "--ndjson"], ["--all", "--json"], ["--all"]]) {
    const pieces: number[] = [];
    let out = "";
    const result = await showInProcess(project.dir, args, {
      write: (text) => {
        pieces.push(text.length);
        out += text;
      },
    });
    assert.equal(result.code, 0, result.log.join("\n"));
    assert.ok(pieces.length > 3, `${args.join(" ")}: ${pieces.length} pieces`);
    assert.ok(Math.max(...pieces) < 70_000, `${args.join(" ")}: pieces of ${Math.max(...pieces)}`);
    assert.ok(out.includes("SYN:S004999"));
  }
});

Deno.test("an answer streams from the file it started on, though the file is replaced before it is consumed", async () => {
  await using project = await tempProject();
  const path = await catalogIn(project.dir);
  const version = async (description: string, target: string) =>
    await query(
      `COPY (SELECT 'SYN:S' || lpad(range::VARCHAR, 6, '0') AS symbol, '${description}' AS description
       FROM range(20000)) TO '${target}' (FORMAT parquet, ROW_GROUP_SIZE 2048)`,
    );
  await version("old", path);
  await version("new", `${path}.next`);
  await using reader = await CatalogReader.open(path);
  const at = await reader.read({ symbols: [], all: true, mode: { kind: "current" } });
  const description = at.columns.indexOf("description");
  // The answer has started (its first rows are in); now an ingest replaces the file.
  await Deno.rename(`${path}.next`, path);
  const seen = new Map<string, number>();
  for await (const item of at.items) {
    if (item.kind !== "row") continue;
    const value = String(item.row.values[description]);
    seen.set(value, (seen.get(value) ?? 0) + 1);
  }
  assert.deepEqual([...seen], [["old", 20000]]);
  const again = await reader.read({ symbols: [], all: true, mode: { kind: "current" } });
  for await (const item of again.items) {
    if (item.kind === "row") assert.equal(item.row.values[description], "new");
  }
});

Deno.test("a stream that stops before its end row is an error, never a short answer", async () => {
  // DuckDB ends a stream that fails midway exactly like one that is done
  // (the C API's fetch returns null for both); the read's last row says
  // "end", so its absence is caught. A real DuckDB stream that fails after
  // a few million rows, in the read statement's shape:
  const instance = await DuckDBInstance.create(":memory:", { threads: "1" });
  await using _ = { [Symbol.asyncDispose]: () => Promise.resolve(instance.closeSync()) };
  const connection = await instance.connect();
  const layout = layoutOf([]);
  const row = (value: string) =>
    `0::INTEGER, 1::BIGINT, true, NULL::VARCHAR, 'X', ${value} || repeat(chr(31) || '\\N', ${
      layout.columns.length - 1
    })`;
  const drain = async (sql: string) => {
    const result = await connection.stream(sql);
    const started = { result, first: await result.fetchChunk() };
    let rows = 0;
    for await (const item of streamItems(started, layout, "/p/symbols.parquet")) {
      if (item.kind === "row") rows++;
    }
    return rows;
  };
  const failing = `SELECT ${
    row("CASE WHEN range < 1000000 THEN 'S' || range ELSE error('boom') END")
  } FROM range(3000000)`;
  await assert.rejects(
    () => drain(failing),
    (err: Error) => {
      assert.ok(err instanceof IngestError);
      assert.match(err.message, /stopped before its last row.*what was printed is incomplete/);
      return true;
    },
  );
  // Done but without its end row: the same.
  await assert.rejects(() => drain(`SELECT ${row("'S'")} FROM range(5)`), /stopped before/);
  // With it: every row, and nothing after the end.
  assert.equal(
    await drain(
      `SELECT * FROM (SELECT ${row("'S'")} FROM range(5000)
       UNION ALL SELECT 2, NULL, NULL, NULL, NULL, ''
       UNION ALL SELECT 3, NULL, NULL, NULL, NULL, 'after the end') ORDER BY 1`,
    ),
    5000,
  );
});
