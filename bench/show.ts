/**
 * Read benchmarks, each the whole `meta-ingest show` command (a child
 * process under the `show` permission set, Deno and DuckDB start-up
 * included), on catalogs this tool wrote (so they carry a row checksum,
 * which `show` verifies):
 * - `show --as-of` for 50 symbols in a catalog of 100,000 symbols with
 *   1,000,000 rows, verified and with `--no-verify` (the difference is the
 *   cost of the check). Target: at most 0.5 s. Median of 5, after a warm-up.
 * - `show --all --csv` over that catalog, streamed: within 2x the merge
 *   benchmark's time (the merge of bench/merge.ts, run here beside it on the
 *   same machine, as a ratio) and at most 256 MiB peak RSS.
 * - Every output form of `show --all` at 100,000 symbols x 3 versions, the
 *   case measured before streaming (table 918 MB, CSV 930 MB, JSON 1.07 GB).
 * - For scale, `show --all --history --csv`: all 1,000,000 rows out.
 *
 * @module
 */
import { join } from "node:path";
import { permissionFlags, REPO_ROOT } from "../tools/permissions.ts";
import { fetched, mergeOnce } from "../testing/catalog.ts";
import { mirrorSymbols } from "../testing/mirror.ts";
import { writeSyntheticCatalog } from "../testing/synthetic_catalog.ts";
import { type BenchRow, median, scratchProject } from "./support.ts";

const MIB = 1024 * 1024;

/** A synthetic catalog rewritten by one real merge, so it has every column and a checksum. */
async function verifiedCatalog(path: string, symbols: number, versions: number): Promise<void> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  await writeSyntheticCatalog(path, { symbols, versions });
  await mergeOnce(path, [fetched("NASDAQ:AAPL")], { now: new Date("2025-01-01T00:00:00Z") });
}

interface Measured {
  seconds: number;
  peakMiB: number;
  bytes: number;
  code: number;
  stderr: string;
}

/**
 * Runs `show ARGS` in `cwd` as `deno task show` does, under /usr/bin/time
 * for its peak RSS; stdout is drained as it comes (a pipe, as in a
 * pipeline) and only counted.
 */
async function runShow(args: string[], cwd: string): Promise<Measured> {
  const timeFile = join(cwd, ".time");
  const command = new Deno.Command("/usr/bin/time", {
    args: [
      "-f",
      "%M",
      "-o",
      timeFile,
      Deno.execPath(),
      "run",
      "-q",
      "--no-prompt",
      "--no-remote",
      "--cached-only",
      "--frozen",
      "--config",
      join(REPO_ROOT, "deno.json"),
      ...(await permissionFlags("show", "run")),
      join(REPO_ROOT, "main.ts"),
      "show",
      ...args,
    ],
    cwd,
    stdout: "piped",
    stderr: "piped",
  });
  const started = performance.now();
  const child = command.spawn();
  let bytes = 0;
  const drain = (async () => {
    for await (const chunk of child.stdout) bytes += chunk.length;
  })();
  const stderr = new Response(child.stderr).text();
  const status = await child.status;
  await drain;
  const seconds = (performance.now() - started) / 1000;
  const kib = Number((await Deno.readTextFile(timeFile)).trim().split("\n").at(-1));
  return { seconds, peakMiB: kib / 1024, bytes, code: status.code, stderr: await stderr };
}

async function mustRun(args: string[], cwd: string): Promise<Measured> {
  const result = await runShow(args, cwd);
  if (result.code !== 0) throw new Error(`show ${args.join(" ")} failed: ${result.stderr}`);
  return result;
}

/** The merge benchmark's first row (bench/merge.ts): 50 new symbols into 100k / 1M rows. */
async function mergeSeconds(dir: string): Promise<number> {
  const path = `${dir}/merge/symbols.parquet`;
  await Deno.mkdir(`${dir}/merge`, { recursive: true });
  await writeSyntheticCatalog(path, { symbols: 100_000, versions: 10 });
  const symbols = mirrorSymbols().filter((_, i) => i % 61 === 0).slice(0, 50);
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-q", "-A", join(REPO_ROOT, "bench/merge_child.ts"), path, symbols.join(",")],
    stderr: "inherit",
  }).output();
  if (!output.success) throw new Error("merge child failed");
  return JSON.parse(new TextDecoder().decode(output.stdout)).ms / 1000;
}

/** The as-of rows: verified, and what the check costs. */
async function benchAsOf(dir: string): Promise<BenchRow[]> {
  // 50 symbols spread over the file; the as-of instant falls inside their histories.
  const symbols = Array.from(
    { length: 50 },
    (_, i) => `SYN:S${String(i * 1999 + 7).padStart(6, "0")}`,
  );
  const args = [...symbols, "--as-of", "2024-01-05T12:00:00Z", "--json"];
  const verified: number[] = [];
  const unverified: number[] = [];
  let rows = 0;
  for (let i = 0; i < 6; i++) {
    // Interleaved, so both see the same load.
    const a = await mustRun(args, dir);
    const b = await mustRun([...args, "--no-verify"], dir);
    if (i > 0) {
      verified.push(a.seconds);
      unverified.push(b.seconds);
    }
    rows = a.bytes;
  }
  const [v, u] = [median(verified), median(unverified)];
  return [
    {
      name: "show --as-of: 50 of 100k symbols / 1M rows (verified)",
      figure: `${(v * 1000).toFixed(0)} ms`,
      target: "<= 0.5 s",
      ratio: v / 0.5,
      ok: v <= 0.5 && rows > 0,
      note: `whole command, median of 5 (after a warm-up), checksum checked`,
    },
    {
      name: "  the same with --no-verify",
      figure: `${(u * 1000).toFixed(0)} ms`,
      target: "-",
      ratio: u / 0.5,
      ok: true,
      note: `the check costs ${((v - u) * 1000).toFixed(0)} ms (${
        (100 * (v - u) / u).toFixed(0)
      }%)`,
    },
  ];
}

/** The streaming rows. */
async function benchStream(dir: string): Promise<BenchRow[]> {
  const merge = await mergeSeconds(dir);
  const runs: Measured[] = [];
  for (let i = 0; i < 3; i++) runs.push(await mustRun(["--all", "--csv"], dir));
  const seconds = median(runs.map((r) => r.seconds));
  const peak = Math.max(...runs.map((r) => r.peakMiB));
  const history = await mustRun(["--all", "--history", "--csv"], dir);
  return [
    {
      name: "show --all --csv over 100k symbols / 1M rows",
      figure: `${seconds.toFixed(2)} s, ${peak.toFixed(0)} MiB peak`,
      target: "<= 2x merge, <= 256 MiB",
      ratio: seconds / merge,
      ok: seconds <= 2 * merge && peak <= 256,
      note: `ratio against the merge bench run here (${merge.toFixed(2)} s); memory ${
        (peak / 256).toFixed(2)
      } of 256 MiB; ${(runs[0].bytes / MIB).toFixed(0)} MiB of CSV`,
    },
    {
      name: "  --all --history --csv: all 1M rows out",
      figure: `${history.seconds.toFixed(2)} s, ${history.peakMiB.toFixed(0)} MiB peak`,
      target: "-",
      ratio: history.seconds / merge,
      ok: true,
      note: `for scale (DuckDB sorts every row before the first is out); ${
        (history.bytes / MIB).toFixed(0)
      } MiB of CSV`,
    },
  ];
}

/** The case: every form at 100k symbols x 3 versions, beside the figures before streaming. */
async function benchForms(): Promise<BenchRow[]> {
  await using project = await scratchProject();
  await verifiedCatalog(`${project.dir}/data/lakehouse/symbols.parquet`, 100_000, 3);
  const before: Record<string, string> = {
    "": "12.9 s, 918 MB",
    "--csv": "13.8 s, 930 MB",
    "--json": "22.3 s, 1.07 GB",
    "--ndjson": "(new)",
  };
  const rows: BenchRow[] = [];
  for (const [flag, was] of Object.entries(before)) {
    const result = await mustRun(["--all", ...(flag ? [flag] : [])], project.dir);
    rows.push({
      name: `  show --all ${flag || "(table)"} at 100k symbols x 3`,
      figure: `${result.seconds.toFixed(2)} s, ${result.peakMiB.toFixed(0)} MiB peak`,
      target: "<= 256 MiB",
      ratio: result.peakMiB / 256,
      ok: result.peakMiB <= 256,
      note: `before streaming: ${was} (at load ~7)`,
    });
  }
  return rows;
}

/** Every show row. */
export async function benchShow(): Promise<BenchRow[]> {
  await using project = await scratchProject();
  await verifiedCatalog(`${project.dir}/data/lakehouse/symbols.parquet`, 100_000, 10);
  return [
    ...await benchAsOf(project.dir),
    ...await benchStream(project.dir),
    ...await benchForms(),
  ];
}

if (import.meta.main) {
  const { printTable } = await import("./support.ts");
  printTable(await benchShow());
}
