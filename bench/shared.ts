/**
 * A catalog shared through an S3 store, against the same work on a local
 * catalog (`deno task bench shared`), on a local one-node Ceph
 * (testing/ceph.ts; `META_TEST_S3` names a running one, else one is started;
 * skipped without Ceph). Whole commands, as users run them:
 * - 50 symbols merged into a catalog of 100,000 symbols / 1,000,000 rows
 *   (the mirror answers at once, so the merge and the store dominate);
 * - 8 writers at once, 5 symbols each, into a 1,000-symbol catalog: on the
 *   local catalog they queue on its lock; on the store they race and the
 *   losers merge again after a 412.
 * The ratio is store / local.
 *
 * @module
 */
import { join } from "node:path";
import { S3Client, s3Config } from "../lib/store/s3.ts";
import { freshBucket, s3EnvOf, type S3TestStore } from "../testing/ceph.ts";
import { denoRunner, runCli } from "../testing/cli.ts";
import { mirrorSymbols, startMirror } from "../testing/mirror.ts";
import { writeSyntheticCatalog } from "../testing/synthetic_catalog.ts";
import { type BenchRow, scratchProject, withTestStore } from "./support.ts";

const KEY = "lake/symbols.parquet";

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await fn();
  return { ms: performance.now() - started, value };
}

async function upload(store: S3TestStore, bucket: string, file: string): Promise<void> {
  const client = new S3Client(s3Config(s3EnvOf(store)), bucket, { timeoutMs: 120_000 });
  const put = await client.put(KEY, file, { ifNoneMatch: "*" });
  if (put.kind !== "written") throw new Error("seeding the store failed");
}

async function bigMerge(store: S3TestStore, mirrorUrl: string): Promise<BenchRow> {
  await using project = await scratchProject();
  const path = join(project.dir, "data/symbols.parquet");
  await Deno.mkdir(join(project.dir, "data"));
  await writeSyntheticCatalog(path, { symbols: 100_000, versions: 10 });
  const bucket = await freshBucket(store, "bench-merge");
  await upload(store, bucket, path);
  const symbols = mirrorSymbols().filter((_, i) => i % 61 === 0).slice(0, 50).join(",");
  const run = (catalog: string) =>
    timed(() =>
      runCli(denoRunner, [
        "--symbols",
        symbols,
        "--base-url",
        mirrorUrl,
        "--catalog-path",
        catalog,
      ], { cwd: project.dir, env: s3EnvOf(store) })
    );
  const local = await run("data/symbols.parquet");
  const remote = await run(`s3://${bucket}/${KEY}`);
  const ok = local.value.code === 0 && remote.value.code === 0;
  return {
    name: "50 symbols into 100k symbols / 1M rows, S3 vs local",
    figure: `${(remote.ms / 1000).toFixed(2)} s (local ${(local.ms / 1000).toFixed(2)} s)`,
    target: "reported",
    ratio: remote.ms / local.ms,
    ok,
    note: ok
      ? "whole command; the store adds GET, COPY to .bak and PUT of the catalog"
      : "a run failed",
  };
}

async function contended(store: S3TestStore, mirrorUrl: string): Promise<BenchRow> {
  const writers = 8;
  const symbols = mirrorSymbols(["NASDAQ", "NYSE"]).slice(0, writers * 5);
  const seed = mirrorSymbols(["BINANCE"]).slice(0, 1000).join(",");
  const slice = (i: number) => symbols.filter((_, n) => n % writers === i).join(",");
  await using shared = await scratchProject();
  const bucket = await freshBucket(store, "bench-race");
  const s3 = `s3://${bucket}/${KEY}`;
  const seedLocal = await runCli(denoRunner, ["--symbols", seed, "--base-url", mirrorUrl], {
    cwd: shared.dir,
  });
  const seedRemote = await runCli(
    denoRunner,
    ["--symbols", seed, "--base-url", mirrorUrl, "--catalog-path", s3],
    { cwd: shared.dir, env: s3EnvOf(store) },
  );
  if (seedLocal.code !== 0 || seedRemote.code !== 0) throw new Error("seeding failed");
  // Local: one project, one catalog, its lock. S3: a project (host) each.
  const local = await timed(() =>
    Promise.all(
      Array.from({ length: writers }, (_, i) =>
        runCli(denoRunner, ["--symbols", slice(i), "--base-url", mirrorUrl], { cwd: shared.dir })),
    )
  );
  const hosts = await Promise.all(Array.from({ length: writers }, () => scratchProject()));
  try {
    const remote = await timed(() =>
      Promise.all(
        hosts.map((host, i) =>
          runCli(
            denoRunner,
            ["--symbols", slice(i), "--base-url", mirrorUrl, "--catalog-path", s3],
            {
              cwd: host.dir,
              env: s3EnvOf(store),
            },
          )
        ),
      )
    );
    const conflicts = remote.value.reduce(
      (n, r) => n + (r.stderr.match(/another writer changed/g)?.length ?? 0),
      0,
    );
    const ok = [...local.value, ...remote.value].every((r) => r.code === 0);
    return {
      name: `${writers} writers at once, 5 symbols each, S3 vs local`,
      figure: `${(remote.ms / 1000).toFixed(2)} s (local ${(local.ms / 1000).toFixed(2)} s)`,
      target: "every run exits 0",
      ratio: remote.ms / local.ms,
      ok,
      note: `${conflicts} conflicts merged again on the store; local runs queue on the lock`,
    };
  } finally {
    for (const host of hosts) await host[Symbol.asyncDispose]();
  }
}

/** Both rows; skipped without Ceph. */
export function benchShared(): Promise<BenchRow[]> {
  return withTestStore("shared catalog on S3", async (store) => {
    await using mirror = startMirror();
    return [await bigMerge(store, mirror.url), await contended(store, mirror.url)];
  });
}

if (import.meta.main) {
  const { printTable } = await import("./support.ts");
  printTable(await benchShared());
}
