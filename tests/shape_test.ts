/**
 * The shape of the code: lib/ is laid out by pipeline stage, and imports
 * only point down. This test reads every import (doc examples included) and
 * fails on an upward or sideways arrow between stages, or on a cycle.
 */
import assert from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";
import { REPO_ROOT } from "../tools/permissions.ts";

/**
 * Each stage of lib/ and its level: a module may import its own folder and
 * folders of a lower level, never a higher or equal one.
 */
const LEVELS: Readonly<Record<string, number>> = {
  "lib/core": 0, // errors, version: shared by every stage
  "lib/std": 0, // stand-ins for @std/async
  "lib/fs": 1, // lock, atomic replace, capped reads, paths
  "lib/record": 2, // the record type, symbols, exchanges, the TradingView mapping
  "lib/fetch": 3, // the client and pacer
  "lib/catalog": 3, // the SCD2 catalog in DuckDB
  "lib/store": 3, // where the catalog lives: a local file and its lock, or an S3 object
  "lib/input": 4, // cli, candidates
  "lib/report": 5, // report, log, progress
  "lib": 6, // job.ts and the other commands: orchestration
  ".": 7, // main.ts
};

/** Top-level folders outside lib/ and what each may import. */
const OUTSIDE: Readonly<Record<string, readonly string[]>> = {
  testing: ["lib", "tools", "testing"],
  tests: ["lib", "tools", "testing", "tests"],
  bench: ["lib", "tools", "testing", "bench"],
  tools: ["lib", "tools", "testing"],
};

async function* sources(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) yield* sources(path);
    else if (entry.name.endsWith(".ts")) yield path;
  }
}

/**
 * Relative imports of a file, as repo paths: static and dynamic ones, and
 * with `examples` those of its doc examples too (lines inside comments).
 */
async function importsOf(file: string, examples: boolean): Promise<string[]> {
  let text = await Deno.readTextFile(join(REPO_ROOT, file));
  if (!examples) text = text.split("\n").filter((line) => !/^\s*\*/.test(line)).join("\n");
  const found: string[] = [];
  for (const match of text.matchAll(/(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+\.ts)["']/g)) {
    found.push(relative(REPO_ROOT, resolve(REPO_ROOT, dirname(file), match[1])));
  }
  return found;
}

function stageOf(file: string): string {
  const folder = dirname(file);
  if (folder === "." || folder === "lib") return folder;
  if (folder.startsWith("lib/")) return folder.split("/").slice(0, 2).join("/");
  return folder.split("/")[0];
}

async function graph(examples = true): Promise<Map<string, string[]>> {
  const files = ["main.ts"];
  for (const top of ["lib", ...Object.keys(OUTSIDE)]) {
    for await (const path of sources(join(REPO_ROOT, top))) files.push(relative(REPO_ROOT, path));
  }
  const edges = new Map<string, string[]>();
  for (const file of files.sort()) edges.set(file, await importsOf(file, examples));
  return edges;
}

/** The reason an import breaks the layout, or null when it is allowed. */
function violation(from: string, to: string): string | null {
  const [a, b] = [stageOf(from), stageOf(to)];
  if (a === b) return null;
  if (a in LEVELS) {
    if (!(b in LEVELS)) return `${from} imports ${to}: lib/ never imports ${b}/`;
    if (LEVELS[b] < LEVELS[a]) return null;
    return `${from} imports ${to}: ${a} (level ${LEVELS[a]}) may only import lower stages, ` +
      `not ${b} (level ${LEVELS[b]})`;
  }
  const allowed = OUTSIDE[a] ?? [];
  const top = b in LEVELS ? "lib" : b;
  return allowed.includes(top) ? null : `${from} imports ${to}: ${a}/ may not import ${top}/`;
}

Deno.test("every lib/ module lives in a known stage folder", async () => {
  const strays: string[] = [];
  for (const file of (await graph()).keys()) {
    if (file.startsWith("lib/") && !(stageOf(file) in LEVELS)) strays.push(file);
  }
  assert.deepEqual(strays, []);
});

Deno.test("imports point down the stages, and tests and bench only share testing/", async () => {
  const wrong: string[] = [];
  for (const [file, targets] of await graph()) {
    for (const target of targets) {
      const reason = violation(file, target);
      if (reason) wrong.push(reason);
    }
  }
  assert.deepEqual(wrong, []);
});

Deno.test("the import graph of lib/ has no cycle", async () => {
  // Doc examples may show a module next to its neighbour; only code counts.
  const edges = await graph(false);
  const state = new Map<string, "open" | "done">();
  const cycles: string[] = [];
  const visit = (file: string, trail: string[]) => {
    if (state.get(file) === "done") return;
    if (state.get(file) === "open") {
      cycles.push([...trail.slice(trail.indexOf(file)), file].join(" -> "));
      return;
    }
    state.set(file, "open");
    for (const next of edges.get(file) ?? []) {
      if (next !== file && next.startsWith("lib/")) visit(next, [...trail, file]);
    }
    state.set(file, "done");
  };
  for (const file of edges.keys()) if (file.startsWith("lib/")) visit(file, []);
  assert.deepEqual(cycles, []);
});

Deno.test("the shape check itself catches an upward import", () => {
  assert.match(violation("lib/catalog/catalog.ts", "lib/report/report.ts") ?? "", /lower stages/);
  assert.match(violation("lib/fetch/client.ts", "lib/catalog/sql.ts") ?? "", /lower stages/);
  assert.match(violation("bench/fetch.ts", "tests/x_test.ts") ?? "", /may not import tests/);
  assert.equal(violation("lib/job.ts", "lib/catalog/catalog.ts"), null);
});
