/**
 * Fetch benchmarks: the whole command (start-up included) against the local
 * TradingView mirror.
 *
 * - 50 candidates, latency 200 ms, max-in-flight 3: wall time against the
 *   ideal ceil(50/3) x 0.2 s; target ratio <= 1.08 and zero 429s.
 * - 1,130 symbols via --from-catalog, same mirror: target ratio <= 1.05.
 * - A stingy mirror (token bucket 5/s, burst 5), 50 symbols: zero failed
 *   symbols and wall time within 1.3x of n / rate.
 *
 * @module
 */
import { fetched, mergeOnce } from "../testing/catalog.ts";
import { mirrorSymbols, startMirror } from "../testing/mirror.ts";
import { type BenchRow, median, scratchProject, timedRun } from "./support.ts";

const LATENCY_S = 0.2;

/** 50 candidates, 3 workers. */
export async function bench50(repeats = 3): Promise<BenchRow> {
  await using mirror = startMirror({ latencyMs: LATENCY_S * 1000, maxInFlight: 3 });
  const symbols = mirrorSymbols().filter((_, i) => i % 61 === 0).slice(0, 50);
  const times: number[] = [];
  let status429 = 0;
  let failures = 0;
  for (let i = 0; i < repeats; i++) {
    await using project = await scratchProject();
    await Deno.writeTextFile(`${project.dir}/candidates.json`, JSON.stringify(symbols));
    mirror.resetStats();
    const run = await timedRun(
      ["--candidates-file", "candidates.json", "--base-url", mirror.url],
      project.dir,
    );
    if (run.code !== 0) failures++;
    times.push(run.seconds);
    status429 += mirror.stats.status429;
  }
  const ideal = Math.ceil(50 / 3) * LATENCY_S;
  const wall = median(times);
  const ratio = wall / ideal;
  return {
    name: "fetch 50 candidates (3 workers, 200 ms)",
    figure: `${wall.toFixed(2)} s`,
    target: `${ideal.toFixed(2)} s ideal, ratio <= 1.08`,
    ratio,
    ok: ratio <= 1.08 && status429 === 0 && failures === 0,
    note: `median of ${repeats} (${times.map((t) => t.toFixed(2)).join(", ")}); ${status429} x 429`,
  };
}

/** 1,130 symbols, --from-catalog. */
export async function bench1130(): Promise<BenchRow> {
  await using mirror = startMirror({ latencyMs: LATENCY_S * 1000, maxInFlight: 3 });
  await using project = await scratchProject();
  const symbols = mirrorSymbols().filter((_, i) => i % 2 === 0).slice(0, 1130);
  if (symbols.length !== 1130) throw new Error(`the mirror offers only ${symbols.length} symbols`);
  await Deno.mkdir(`${project.dir}/data/lakehouse`, { recursive: true });
  await mergeOnce(`${project.dir}/data/lakehouse/symbols.parquet`, symbols.map((s) => fetched(s)));
  const run = await timedRun(["--from-catalog", "--base-url", mirror.url, "--json"], project.dir);
  const ideal = Math.ceil(1130 / 3) * LATENCY_S;
  const ratio = run.seconds / ideal;
  const requested = run.code === 0 ? JSON.parse(run.stdout).requested : -1;
  return {
    name: "fetch 1,130 symbols (--from-catalog)",
    figure: `${run.seconds.toFixed(2)} s`,
    target: `${ideal.toFixed(2)} s ideal, ratio <= 1.05`,
    ratio,
    ok: ratio <= 1.05 && mirror.stats.status429 === 0 && requested === 1130,
    note: `${mirror.stats.status429} x 429, exit ${run.code}`,
  };
}

/** A stingy mirror: token bucket 5/s. */
export async function benchStingy(n = 50, rate = 5): Promise<BenchRow> {
  await using mirror = startMirror({ latencyMs: LATENCY_S * 1000, rate, burst: rate });
  await using project = await scratchProject();
  const symbols = mirrorSymbols(["BINANCE", "BYBIT"]).slice(0, n);
  const run = await timedRun(
    ["--symbols", symbols.join(","), "--base-url", mirror.url, "--json"],
    project.dir,
  );
  const report = JSON.parse(run.stdout);
  const ideal = n / rate;
  const ratio = run.seconds / ideal;
  return {
    name: `stingy mirror (${rate}/s), ${n} symbols`,
    figure: `${run.seconds.toFixed(2)} s`,
    target: `n/rate = ${ideal.toFixed(2)} s, ratio <= 1.3, 0 failed`,
    ratio,
    ok: ratio <= 1.3 && report.failed.length === 0,
    note:
      `${report.failed.length} failed, ${mirror.stats.status429} x 429, ${report.http.retries} retries`,
  };
}

if (import.meta.main) {
  const { printTable } = await import("./support.ts");
  printTable([await bench50(), await benchStingy(), await bench1130()]);
}
