/**
 * Throttle benchmarks (issue 8): the whole command, default flags, against
 * the local mirror's harsher modes.
 *
 * - Soft throttle: 60 symbols, 50 ms latency, 20 requests per 10 s then 30 s
 *   of empty 200s. Every symbol lands, exit 0, at most 12 empty answers,
 *   wall at most 120 s.
 * - Block-all-403, refreshing a 30-symbol catalog: at most 10 requests, exit 1.
 * - Unreachable host (connection refused), 10 symbols: at most 5 attempts,
 *   under 5 s.
 * - Silent server (accepts, never answers), 30 symbols: one error within
 *   60 s (issue 13).
 * - A 429 storm (issue 19, item 5): 60 symbols behind a token bucket of 5
 *   requests/s (burst 5) that answers 429 with a Retry-After: at most 14 s
 *   (the limit is 12 s) and at most 3 429s, median of 3 runs.
 *
 * @module
 */
import { fetched, mergeOnce } from "../testing/catalog.ts";
import { mirrorSymbols, startMirror } from "../testing/mirror.ts";
import { type BenchRow, median, scratchProject, timedRun } from "./support.ts";

function report(stdout: string): { http: Record<string, number>; fetched: number } | null {
  try {
    return JSON.parse(stdout);
  } catch {
    return null;
  }
}

/** Soft throttle: 20 per 10 s, 30 s penalty. */
export async function benchSoftThrottle(): Promise<BenchRow> {
  await using mirror = startMirror({
    latencyMs: 50,
    softThrottle: { limit: 20, windowMs: 10_000, penaltyMs: 30_000 },
  });
  await using project = await scratchProject();
  const symbols = mirrorSymbols(["BINANCE", "NASDAQ"]).filter((_, i) => i % 3 === 0).slice(0, 60);
  const run = await timedRun(
    ["--symbols", symbols.join(","), "--base-url", mirror.url, "--json"],
    project.dir,
  );
  const r = report(run.stdout);
  const empty = mirror.stats.empty;
  return {
    name: "soft throttle (20/10 s, 30 s penalty), 60 symbols",
    figure: `${run.seconds.toFixed(1)} s`,
    target: "all land, exit 0, <= 12 empty, <= 120 s",
    ratio: run.seconds / 120,
    ok: run.code === 0 && r?.fetched === 60 && empty <= 12 && run.seconds <= 120,
    note: `exit ${run.code}, ${r?.fetched ?? "?"} fetched, ${empty} empty, ` +
      `${mirror.stats.requests} requests, ${r?.http.pauses ?? "?"} pauses ` +
      `(${((r?.http.paused_ms ?? 0) / 1000).toFixed(0)} s)`,
  };
}

/** A 429 storm: 60 symbols behind 5 requests/s, default flags; the median of `repeats` runs. */
export async function benchStorm(repeats = 3): Promise<BenchRow> {
  const symbols = mirrorSymbols(["BINANCE", "NASDAQ"]).filter((_, i) => i % 5 === 0).slice(0, 60);
  const runs: { seconds: number; status429: number; ok: boolean }[] = [];
  for (let i = 0; i < repeats; i++) {
    await using mirror = startMirror({ latencyMs: 50, rate: 5, burst: 5 });
    await using project = await scratchProject();
    const run = await timedRun(
      ["--symbols", symbols.join(","), "--base-url", mirror.url, "--json"],
      project.dir,
    );
    const r = report(run.stdout);
    runs.push({
      seconds: run.seconds,
      status429: mirror.stats.status429,
      ok: run.code === 0 && r?.fetched === 60,
    });
  }
  const seconds = median(runs.map((r) => r.seconds));
  const status429 = median(runs.map((r) => r.status429));
  return {
    name: "429 storm (5 requests/s), 60 symbols",
    figure: `${seconds.toFixed(1)} s`,
    target: "all land, <= 14 s (limit 12 s), <= 3 x 429",
    ratio: seconds / 12,
    ok: runs.every((r) => r.ok) && seconds <= 14 && status429 <= 3,
    note:
      `median of ${repeats}: ${
        runs.map((r) => `${r.seconds.toFixed(1)} s/${r.status429}`).join(", ")
      } ` +
      `(s/429s)${runs.every((r) => r.ok) ? "" : "; some run failed"}`,
  };
}

/** Every request answered 403, refreshing a 30-symbol catalog. */
export async function benchBlocked(): Promise<BenchRow> {
  await using mirror = startMirror({ latencyMs: 50, block403: true });
  await using project = await scratchProject();
  const symbols = mirrorSymbols(["NYSE"]).slice(0, 30);
  await Deno.mkdir(`${project.dir}/data/lakehouse`, { recursive: true });
  await mergeOnce(`${project.dir}/data/lakehouse/symbols.parquet`, symbols.map((s) => fetched(s)));
  const run = await timedRun(["--from-catalog", "--base-url", mirror.url, "--json"], project.dir);
  const requests = mirror.stats.requests;
  const error = JSON.parse(run.stdout).error as string | null;
  return {
    name: "blocked (403 to everything), 30-symbol catalog",
    figure: `${requests} requests`,
    target: "<= 10 requests, exit 1, error set",
    ratio: null,
    ok: requests <= 10 && run.code === 1 && /^blocked: /.test(error ?? ""),
    note: `exit ${run.code} after ${run.seconds.toFixed(1)} s (two pauses)`,
  };
}

/** Nothing listens at the base URL. */
export async function benchUnreachable(): Promise<BenchRow> {
  await using mirror = startMirror({ unreachable: "refused" });
  await using project = await scratchProject();
  const symbols = mirrorSymbols(["NASDAQ"]).slice(0, 10);
  const run = await timedRun(
    ["--symbols", symbols.join(","), "--base-url", mirror.url, "--json"],
    project.dir,
  );
  const attempts = report(run.stdout)?.http.requests ?? -1;
  return {
    name: "unreachable host (refused), 10 symbols",
    figure: `${run.seconds.toFixed(2)} s`,
    target: "<= 5 attempts, < 5 s, exit 1",
    ratio: run.seconds / 5,
    ok: attempts >= 0 && attempts <= 5 && run.seconds < 5 && run.code === 1,
    note: `${attempts} attempts, exit ${run.code}`,
  };
}

/** A server that accepts connections and never answers, default flags. */
export async function benchSilent(): Promise<BenchRow> {
  await using mirror = startMirror({ unreachable: "silent" });
  await using project = await scratchProject();
  const symbols = mirrorSymbols(["NYSE"]).slice(0, 30);
  const run = await timedRun(
    ["--symbols", symbols.join(","), "--base-url", mirror.url, "--json"],
    project.dir,
  );
  return {
    name: "silent server (never answers), 30 symbols",
    figure: `${run.seconds.toFixed(1)} s`,
    target: "one error, < 60 s, exit 1",
    ratio: run.seconds / 60,
    ok: run.seconds < 60 && run.code === 1,
    note: `${mirror.stats.connections} connections, exit ${run.code}`,
  };
}

if (import.meta.main) {
  const { printTable } = await import("./support.ts");
  printTable([
    await benchStorm(),
    await benchUnreachable(),
    await benchSilent(),
    await benchBlocked(),
    await benchSoftThrottle(),
  ]);
}
