/**
 * Read benchmark: `meta-ingest show --as-of` for 50 symbols in a catalog of
 * 100,000 symbols with 1,000,000 history rows, as the whole command (a child
 * process under the `show` permission set, Deno and DuckDB start-up
 * included). Target: at most 0.5 s. Median of 5, after one warm-up run.
 *
 * @module
 */
import { denoRunner, runCli } from "../testing/cli.ts";
import { writeSyntheticCatalog } from "../testing/synthetic_catalog.ts";
import { type BenchRow, median, scratchProject } from "./support.ts";

/** The show row. */
export async function benchShow(): Promise<BenchRow> {
  await using project = await scratchProject();
  await Deno.mkdir(`${project.dir}/data/lakehouse`, { recursive: true });
  await writeSyntheticCatalog(`${project.dir}/data/lakehouse/symbols.parquet`, {
    symbols: 100_000,
    versions: 10,
  });
  // 50 symbols spread over the file; the as-of instant falls inside their histories.
  const symbols = Array.from(
    { length: 50 },
    (_, i) => `SYN:S${String(i * 1999 + 7).padStart(6, "0")}`,
  );
  const args = ["show", ...symbols, "--as-of", "2024-01-05T12:00:00Z", "--json"];
  const times: number[] = [];
  let rows = 0;
  for (let i = 0; i < 6; i++) {
    const started = performance.now();
    const result = await runCli(denoRunner, args, { cwd: project.dir, set: "show" });
    const seconds = (performance.now() - started) / 1000;
    if (result.code !== 0) throw new Error(`show failed: ${result.stderr}`);
    rows = JSON.parse(result.stdout).rows.length;
    if (i > 0) times.push(seconds);
  }
  const figure = median(times);
  return {
    name: "show --as-of: 50 of 100k symbols / 1M rows",
    figure: `${(figure * 1000).toFixed(0)} ms`,
    target: "<= 0.5 s",
    ratio: figure / 0.5,
    ok: figure <= 0.5 && rows === 50,
    note: `whole command, median of 5 (after a warm-up); ${rows} rows answered`,
  };
}

if (import.meta.main) {
  const { printTable } = await import("./support.ts");
  printTable([await benchShow()]);
}
