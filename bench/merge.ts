/**
 * Merge benchmarks: 50 fetched records into a catalog of 100,000 symbols
 * with 1,000,000 history rows (wall time <= 1.5 s, peak memory <= 512 MiB on
 * a 2-core machine), and the idle rerun (nothing changed: <= 0.3 s, no
 * write).
 *
 * @module
 */
import { join } from "node:path";
import { REPO_ROOT } from "../tools/permissions.ts";
import { mirrorSymbols } from "../testing/mirror.ts";
import { writeSyntheticCatalog } from "../testing/synthetic_catalog.ts";
import { type BenchRow, scratchProject } from "./support.ts";

async function child(path: string, symbols: string[]) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-q", "-A", join(REPO_ROOT, "bench/merge_child.ts"), path, symbols.join(",")],
    stderr: "inherit",
  }).output();
  if (!output.success) throw new Error("merge child failed");
  return JSON.parse(new TextDecoder().decode(output.stdout)) as {
    ms: number;
    wrote: boolean;
    new: number;
    peakMiB: number;
  };
}

/** Both merge rows. */
export async function benchMerge(): Promise<BenchRow[]> {
  await using project = await scratchProject();
  const path = `${project.dir}/symbols.parquet`;
  await writeSyntheticCatalog(path, { symbols: 100_000, versions: 10 });
  const symbols = mirrorSymbols().filter((_, i) => i % 61 === 0).slice(0, 50);
  const first = await child(path, symbols);
  const mtime = (await Deno.stat(path)).mtime?.getTime();
  const idle = await child(path, symbols);
  const untouched = (await Deno.stat(path)).mtime?.getTime() === mtime;
  return [
    {
      name: "merge 50 into 100k symbols / 1M rows",
      figure: `${(first.ms / 1000).toFixed(2)} s, ${first.peakMiB.toFixed(0)} MiB peak`,
      target: "<= 1.5 s, <= 512 MiB",
      ratio: first.ms / 1500,
      ok: first.ms <= 1500 && first.peakMiB <= 512 && first.wrote && first.new === 50,
      note: "ratio against 1.5 s; peak RSS of the whole process",
    },
    {
      name: "idle rerun of that merge (nothing changed)",
      figure: `${(idle.ms / 1000).toFixed(3)} s`,
      target: "<= 0.3 s, no write",
      ratio: idle.ms / 300,
      ok: idle.ms <= 300 && !idle.wrote && untouched,
      note: untouched ? "file untouched (same mtime)" : "FILE WAS REWRITTEN",
    },
  ];
}

if (import.meta.main) {
  const { printTable } = await import("./support.ts");
  printTable(await benchMerge());
}
