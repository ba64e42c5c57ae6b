/**
 * Shared pieces of the benchmarks: a scratch project, the CLI as a child
 * process under the ingest-local permission set, an S3 test store, and
 * result rows.
 *
 * @module
 */
import {
  type CephStore,
  cephUnavailable,
  type S3TestStore,
  startCeph,
  storeFromEnv,
} from "../testing/ceph.ts";
import { denoRunner, runCli } from "../testing/cli.ts";

/** One line of the benchmark table. */
export interface BenchRow {
  name: string;
  /** The measured figure, formatted. */
  figure: string;
  /** The ideal or target it is held against. */
  target: string;
  /** figure / ideal, when that means something. */
  ratio: number | null;
  /** Whether the target is met. */
  ok: boolean;
  /** Anything else worth saying (429s, memory, ...). */
  note?: string;
}

/** A scratch project root under the system temp folder. */
export async function scratchProject(): Promise<{ dir: string } & AsyncDisposable> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "meta-ingest-bench-" }));
  return {
    dir,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }).catch(() => {}),
  };
}

/**
 * Runs `fn` against an S3 test store: the one `META_TEST_S3` names, else a
 * local Ceph started for it (also passed as `started`, and stopped
 * afterwards). Without either, one row named `name` says why it was skipped.
 */
export async function withTestStore(
  name: string,
  fn: (store: S3TestStore, started: CephStore | null) => Promise<BenchRow[]>,
): Promise<BenchRow[]> {
  const named = storeFromEnv();
  const unavailable = named ? null : cephUnavailable();
  if (unavailable) {
    return [{
      name,
      figure: "-",
      target: "-",
      ratio: null,
      ok: true,
      note: `skipped: ${unavailable}`,
    }];
  }
  const started = named ? null : await startCeph();
  try {
    return await fn(named ?? started!, started);
  } finally {
    await started?.stop();
  }
}

/** Runs the CLI (deno run main.ts, ingest-local set) and times it end to end. */
export async function timedRun(args: string[], cwd: string) {
  const started = performance.now();
  const result = await runCli(denoRunner, args, { cwd });
  const seconds = (performance.now() - started) / 1000;
  return { ...result, seconds };
}

/** Median of numbers. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Prints rows as a table. */
export function printTable(rows: BenchRow[]): void {
  const header = ["benchmark", "figure", "ideal / target", "ratio", "ok", "note"];
  const lines = rows.map((r) => [
    r.name,
    r.figure,
    r.target,
    r.ratio === null ? "-" : r.ratio.toFixed(3),
    r.ok ? "yes" : "NO",
    r.note ?? "",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  console.log(fmt(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const line of lines) console.log(fmt(line));
}
