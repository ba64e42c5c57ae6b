/**
 * Readers against a writer: `show --all` again and again while the real
 * merge replaces the catalog back to back. Every read must answer from one
 * whole version (or say the file kept changing); any other failure is a
 * defect. Too rare for the suite (it found about 3 failures in 1,000 reads
 * under load, DuckDB's external file cache serving bytes of a replaced
 * version), so it lives here, beside `tools/stress-test.sh`.
 *
 *   deno run -A tools/read_race.ts                 # 2 readers x 500 reads
 *   deno run -A tools/read_race.ts --readers 3 --reads 300
 *
 * Prints one line per reader and a total; exits 1 when any read failed.
 * Run it with busy loops on the cores (as tools/stress-test.sh does) to
 * widen the windows.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { fetched, mergeOnce } from "../testing/catalog.ts";
import { mirrorSymbols } from "../testing/mirror.ts";
import { showInProcess } from "../testing/show.ts";

const CATALOG = "data/lakehouse/symbols.parquet";
const SYMBOLS = mirrorSymbols().slice(0, 300);

/** Every symbol at version `n` (only the description changes). */
function round(n: number) {
  return SYMBOLS.map((s) => fetched(s, { description: `round ${n}` }));
}

/** Replaces the catalog with the next version until killed. */
async function write(dir: string): Promise<never> {
  for (let n = 1;; n++) {
    await mergeOnce(`${dir}/${CATALOG}`, round(n), { now: new Date(Date.UTC(2026, 0, 1, 0, n)) });
  }
}

/** `reads` reads, each by a fresh reader; prints the failures and a count. */
async function read(dir: string, reads: number): Promise<number> {
  let failed = 0;
  for (let i = 0; i < reads; i++) {
    const run = await showInProcess(dir, ["--all", "--csv", "--columns", "description"]);
    const versions = new Set(run.out.trimEnd().split("\r\n").slice(1).map((r) => r.split(",")[1]));
    const kept = run.log.some((line) => line.includes("kept changing"));
    if (run.code !== 0 && !kept) {
      failed++;
      console.log(`read ${i + 1}: exit ${run.code}: ${run.log.join(" | ")}`);
    } else if (run.code === 0 && versions.size !== 1) {
      failed++;
      console.log(`read ${i + 1}: mixed versions ${[...versions].join(" / ")}`);
    }
  }
  return failed;
}

const { values } = parseArgs({
  args: Deno.args,
  options: {
    readers: { type: "string", default: "2" },
    reads: { type: "string", default: "500" },
    role: { type: "string" },
    dir: { type: "string" },
  },
});
const count = (name: string, text: string) => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`--${name} must be a whole number >= 1, got ${text}`);
  }
  return n;
};
const reads = count("reads", values.reads);

if (values.role === "writer" && values.dir) {
  await write(values.dir);
} else if (values.role === "reader" && values.dir) {
  const failed = await read(values.dir, reads);
  console.log(`failed ${failed} of ${reads}`);
  Deno.exit(failed ? 1 : 0);
} else {
  const dir = await Deno.makeTempDir({ prefix: "meta-ingest-read-race-" });
  try {
    await Deno.mkdir(`${dir}/data/lakehouse`, { recursive: true });
    await mergeOnce(`${dir}/${CATALOG}`, round(0), { now: new Date(Date.UTC(2026, 0, 1)) });
    const self = (role: string) =>
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          import.meta.filename!,
          "--role",
          role,
          "--dir",
          dir,
          "--reads",
          `${reads}`,
        ],
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
    const writer = self("writer");
    // A writer that stopped early would leave the readers a quiet file.
    let writerEnded = false;
    writer.status.then(() => writerEnded = true);
    const readers = Array.from({ length: count("readers", values.readers) }, () => self("reader"));
    let failed = 0;
    for (const [i, reader] of readers.entries()) {
      const { code, stdout } = await reader.output();
      const lines = new TextDecoder().decode(stdout).trimEnd().split("\n");
      console.log(`reader ${i + 1}: ${lines.join("\n  ")}`);
      if (code !== 0) failed++;
    }
    const quiet = writerEnded; // read before the kill below ends it
    if (!quiet) writer.kill();
    await writer.status;
    if (failed) console.log(`FAIL: ${failed} reader(s) saw a failed read`);
    if (quiet) {
      console.log("FAIL: the writer stopped before the readers finished (its error is above)");
    }
    if (!failed && !quiet) console.log("PASS: every read was whole");
    Deno.exitCode = failed || quiet ? 1 : 0;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
