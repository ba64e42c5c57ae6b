import assert from "node:assert/strict";
import {
  describeEntry,
  MAX_ENTRIES,
  normalizeTargets,
  parseCandidatesJson,
  readCandidatesFile,
} from "../lib/input/candidates.ts";
import { IngestError } from "../lib/core/errors.ts";
import { tempProject } from "../testing/tmp.ts";

Deno.test("a list of strings is accepted, folded and sorted", () => {
  const targets = normalizeTargets(["nasdaq:aapl", "BINANCE:BTCUSDT", "NASDAQ:AAPL "]);
  assert.deepEqual(targets, {
    requested: 3,
    valid: ["BINANCE:BTCUSDT", "NASDAQ:AAPL"],
    invalid: [],
  });
});

Deno.test("objects with symbol are accepted, other keys ignored, mixed with strings", () => {
  const targets = normalizeTargets([
    { symbol: "BINANCE:ETHUSDT", score: 0.9, meta: { a: 1 } },
    "NYSE:BRK.B",
  ]);
  assert.deepEqual(targets.valid, ["BINANCE:ETHUSDT", "NYSE:BRK.B"]);
  assert.deepEqual(targets.invalid, []);
});

Deno.test("junk entries are reported with index and reason, never thrown", () => {
  const targets = normalizeTargets([
    null,
    42,
    {},
    "",
    ["NASDAQ:AAPL"],
    { symbol: 7 },
    { symbol: null },
    "BIN\u0007ANCE:X",
    true,
    "NASDAQ:MSFT",
  ]);
  assert.deepEqual(targets.valid, ["NASDAQ:MSFT"]);
  assert.deepEqual(targets.invalid.map((e) => [e.index, e.input, e.reason]), [
    [0, "null", "null is not a symbol"],
    [1, "42", "a number is not a symbol"],
    [2, "{}", "object without a 'symbol' key"],
    [3, '""', "empty symbol"],
    [4, "array(1)", "a list is not a symbol"],
    [5, "object{symbol}", "'symbol' is a number, not a string"],
    [6, "object{symbol}", "'symbol' is null, not a string"],
    [7, '"BIN\\u0007ANCE:X"', "contains control characters"],
    [8, "true", "a boolean is not a symbol"],
  ]);
});

Deno.test("bare tickers take --default-exchange", () => {
  const targets = normalizeTargets(["btcusdt", { symbol: "ETHUSDT" }], {
    defaultExchange: "BINANCE",
  });
  assert.deepEqual(targets.valid, ["BINANCE:BTCUSDT", "BINANCE:ETHUSDT"]);
});

Deno.test("too many entries is one clear error", () => {
  assert.throws(
    () => normalizeTargets(new Array(MAX_ENTRIES + 1).fill("A:B")),
    (err) =>
      err instanceof IngestError &&
      err.message === "100,001 targets given; the limit is 100,000",
  );
});

Deno.test("- reads stdin with the same cap and rules; errors name stdin", async () => {
  const stream = (text: string) => new Response(text).body!;
  const targets = await readCandidatesFile("-", {
    root: "/nonexistent",
    stdin: stream('["nasdaq:aapl", {"symbol": "A:B"}]'),
  });
  assert.deepEqual(targets.valid, ["A:B", "NASDAQ:AAPL"]);
  for (
    const [text, pattern, maxBytes] of [
      ["[1,\n x]", /^stdin is not valid JSON: unexpected 'x' at line 2 column 2$/, undefined],
      ["x".repeat(2000), /^stdin is larger than 1,000 bytes$/, 1000],
      ['{"a": 1}', /^stdin has a root of the wrong shape \(an object\)$/, undefined],
    ] as const
  ) {
    await assert.rejects(
      () => readCandidatesFile("-", { root: "/nonexistent", stdin: stream(text), maxBytes }),
      (err) => err instanceof IngestError && err.kind === "input" && pattern.test(err.message),
      text.slice(0, 20),
    );
  }
});

Deno.test("the {data: [...]} wrapper is unwrapped", () => {
  assert.deepEqual(parseCandidatesJson('{"data": ["A:B"], "generated": "x"}', "f"), ["A:B"]);
});

Deno.test("a root of another shape is an error naming the file", () => {
  for (const text of ['{"symbols": []}', '"A:B"', "null", "3", '{"data": "A:B"}']) {
    assert.throws(
      () => parseCandidatesJson(text, "candidates file c.json"),
      (err) =>
        err instanceof IngestError && /c\.json has a root of the wrong shape/.test(err.message),
      text,
    );
  }
});

Deno.test("a JSON syntax error names the file, line and column", () => {
  assert.throws(
    () => parseCandidatesJson('[\n  "A:B",\n  oops\n]', "candidates file c.json"),
    (err) =>
      err instanceof IngestError && /c\.json is not valid JSON/.test(err.message) &&
      /line 3 column 3/.test(err.message),
  );
});

Deno.test("a UTF-8 byte order mark is ignored", () => {
  assert.deepEqual(parseCandidatesJson('\ufeff["A:B"]', "f"), ["A:B"]);
});

Deno.test("describeEntry never recurses into deep nesting", () => {
  let deep: unknown = [];
  for (let i = 0; i < 100_000; i++) deep = [deep];
  assert.equal(describeEntry(deep), "array(1)");
  assert.equal(describeEntry("x".repeat(200)).length, 80);
});

Deno.test("readCandidatesFile reads a file inside the root", async () => {
  await using project = await tempProject();
  await project.write("run/c.json", JSON.stringify({ data: ["nasdaq:aapl", { symbol: "A:B" }] }));
  const targets = await readCandidatesFile("run/c.json", { root: project.dir });
  assert.deepEqual(targets.valid, ["A:B", "NASDAQ:AAPL"]);
});

async function refused(path: string, root: string, pattern: RegExp, maxBytes?: number) {
  // A path outside the root is a usage error (the path is on the command line).
  const kind = /outside the project root/.test(pattern.source) ? "usage" : "input";
  await assert.rejects(
    () => readCandidatesFile(path, { root, maxBytes }),
    (err) => err instanceof IngestError && err.kind === kind && pattern.test(err.message),
  );
}

Deno.test("a file outside the root is refused", async () => {
  await using project = await tempProject();
  await using other = await tempProject();
  const outside = await other.write("c.json", '["A:B"]');
  await refused(outside, project.dir, /outside the project root/);
  await refused(
    "../" + outside.split("/").slice(-2).join("/"),
    project.dir,
    /outside the project root/,
  );
});

Deno.test("a symlink inside the root that points outside is refused", async () => {
  await using project = await tempProject();
  await using other = await tempProject();
  const outside = await other.write("c.json", '["A:B"]');
  await Deno.symlink(outside, `${project.dir}/link.json`);
  await refused("link.json", project.dir, /outside the project root \(it resolves to/);
});

Deno.test("a symlink to a file inside the root is followed", async () => {
  await using project = await tempProject();
  await project.write("real.json", '["A:B"]');
  await Deno.symlink(`${project.dir}/real.json`, `${project.dir}/link.json`);
  assert.deepEqual((await readCandidatesFile("link.json", { root: project.dir })).valid, ["A:B"]);
});

Deno.test("a missing file, a directory and a FIFO are refused", async () => {
  await using project = await tempProject();
  await refused("nope.json", project.dir, /not found: nope\.json/);
  await Deno.mkdir(`${project.dir}/dir.json`);
  await refused("dir.json", project.dir, /not a regular file \(a directory\)/);
  const mkfifo = await new Deno.Command("mkfifo", { args: [`${project.dir}/fifo.json`] }).output();
  assert.equal(mkfifo.code, 0);
  await refused("fifo.json", project.dir, /not a regular file \(a FIFO\)/);
});

Deno.test("an oversize file is refused", async () => {
  await using project = await tempProject();
  await project.write("big.json", JSON.stringify(new Array(100).fill("BINANCE:BTCUSDT")));
  await refused("big.json", project.dir, /larger than 1,000 bytes/, 1000);
});

Deno.test("invalid UTF-8 is refused", async () => {
  await using project = await tempProject();
  await project.write("bad.json", new Uint8Array([0x5b, 0x22, 0xff, 0xfe, 0x22, 0x5d]));
  await refused("bad.json", project.dir, /not valid UTF-8/);
});

Deno.test("the candidates file is closed when stat() of the opened file throws", async () => {
  await using project = await tempProject();
  const path = await project.write("c.json", '["A:B"]');
  const openOnIt = async () => {
    let n = 0;
    for await (const fd of Deno.readDir("/proc/self/fd")) {
      if (await Deno.readLink(`/proc/self/fd/${fd.name}`).catch(() => "") === path) n++;
    }
    return n;
  };
  const original = Deno.FsFile.prototype.stat;
  Deno.FsFile.prototype.stat = () => Promise.reject(new Error("injected stat failure"));
  try {
    await assert.rejects(readCandidatesFile("c.json", { root: project.dir }), /injected/);
  } finally {
    Deno.FsFile.prototype.stat = original;
  }
  assert.equal(await openOnIt(), 0, "the file is still open");
});

Deno.test("the entry cap can be lifted for trusted lists (the catalog's own targets)", () => {
  const entries = Array.from({ length: MAX_ENTRIES + 1 }, (_, i) => `A:B${i}`);
  assert.equal(normalizeTargets(entries, { maxEntries: Infinity }).valid.length, MAX_ENTRIES + 1);
});
