/**
 * Start-up: `--help`, and a no-op run (an empty candidates list), as whole
 * commands under the ingest-local permission set. Median of 7.
 *
 * @module
 */
import { type BenchRow, median, scratchProject, timedRun } from "./support.ts";

async function timeIt(args: string[], cwd: string, repeats = 7): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) times.push((await timedRun(args, cwd)).seconds);
  return median(times);
}

/** Both start-up rows. */
export async function benchStartup(): Promise<BenchRow[]> {
  await using project = await scratchProject();
  await Deno.writeTextFile(`${project.dir}/empty.json`, "[]");
  const help = await timeIt(["--help"], project.dir);
  const noop = await timeIt(["--candidates-file", "empty.json"], project.dir);
  return [
    {
      name: "start-up: --help",
      figure: `${(help * 1000).toFixed(0)} ms`,
      target: "(reported)",
      ratio: null,
      ok: true,
      note: "median of 7, deno run main.ts",
    },
    {
      name: "start-up: no-op run (empty candidates)",
      figure: `${(noop * 1000).toFixed(0)} ms`,
      target: "(reported)",
      ratio: null,
      ok: true,
      note: "median of 7; DuckDB is not loaded",
    },
  ];
}

if (import.meta.main) {
  const { printTable } = await import("./support.ts");
  printTable(await benchStartup());
}
