/**
 * What the S3 store's round trips cost, on a local one-node Ceph
 * (testing/ceph.ts; `META_TEST_S3` names a running one, else one is started):
 * a conditional PUT, a GET into a file, a HEAD and a conditional server-side
 * COPY of a 5 MB and a 50 MB object through lib/store/s3.ts. PUT and GET are
 * held against copying the same file on the local file system (the ratio is
 * store / local); HEAD and COPY have no local counterpart worth a ratio (a
 * stat, a hard link). Median of 5 after a warm-up. Also: the start-up time and
 * memory of the store. Skipped without Ceph.
 *
 * @module
 */
import { join } from "node:path";
import { bareEtag, S3Client, s3Config } from "../lib/store/s3.ts";
import { freshBucket, s3EnvOf, type S3TestStore } from "../testing/ceph.ts";
import { type BenchRow, median, scratchProject, withTestStore } from "./support.ts";

const MB = 1024 * 1024;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

async function medianOf(runs: number, fn: () => Promise<unknown>): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) times.push(await timed(fn));
  return median(times);
}

function row(name: string, storeMs: number, localMs: number | null, note?: string): BenchRow {
  return {
    name,
    figure: `${storeMs.toFixed(1)} ms`,
    target: localMs === null ? "-" : `${localMs.toFixed(1)} ms local`,
    ratio: localMs === null ? null : storeMs / localMs,
    ok: true,
    note,
  };
}

async function roundTrips(store: S3TestStore, mb: number, dir: string): Promise<BenchRow[]> {
  const client = new S3Client(s3Config(s3EnvOf(store)), await freshBucket(store, `bench-${mb}`), {
    timeoutMs: 60_000,
  });
  const source = join(dir, `src-${mb}.bin`);
  const bytes = new Uint8Array(mb * MB);
  crypto.getRandomValues(bytes.subarray(0, 65536));
  for (let i = 65536; i < bytes.length; i += 65536) bytes.copyWithin(i, 0, 65536);
  await Deno.writeFile(source, bytes);
  const key = "lake/symbols.parquet";
  const created = await client.put(key, source, { ifNoneMatch: "*" });
  if (created.kind !== "written") throw new Error("bench: first put failed");
  let etag = created.etag;

  // Learn the store's If-Match form once, as a run would.
  const learned = await client.put(key, source, { ifMatch: etag });
  if (learned.kind !== "written") throw new Error("bench: put failed");
  etag = learned.etag;

  const put = await medianOf(5, async () => {
    const outcome = await client.put(key, source, { ifMatch: etag });
    if (outcome.kind !== "written") throw new Error("bench: put conflict");
    etag = outcome.etag;
  });
  const dest = join(dir, `dest-${mb}.bin`);
  const get = await medianOf(5, () => client.get(key, dest));
  const head = await medianOf(5, () => client.head(key));
  const copy = await medianOf(5, () => client.copy(key, `${key}.bak`, { ifMatch: bareEtag(etag) }));

  const localCopy = await medianOf(5, () => Deno.copyFile(source, dest));
  return [
    row(`store PUT If-Match, ${mb} MB`, put, localCopy, "one PUT, SHA-256 signed body"),
    row(`store GET to a file, ${mb} MB`, get, localCopy),
    row(`store HEAD, ${mb} MB object`, head, null, "one request, no body"),
    row(`store COPY to .bak, ${mb} MB`, copy, null, "server-side, conditional on the ETag"),
  ];
}

/** The store rows: start-up, memory, and the round trips at 5 and 50 MB. */
export function benchStore(): Promise<BenchRow[]> {
  return withTestStore("store round trips", async (store, started) => {
    await using project = await scratchProject();
    const rows: BenchRow[] = [];
    if (started) {
      rows.push({
        name: "store start-up (one-node Ceph)",
        figure: `${(started.startupMs / 1000).toFixed(1)} s`,
        target: "-",
        ratio: null,
        ok: true,
        note: `first S3 answer; ${Math.round((await started.memoryBytes()) / MB)} MB resident`,
      });
    }
    for (const mb of [5, 50]) rows.push(...(await roundTrips(store, mb, project.dir)));
    if (started) {
      rows.push({
        name: "store memory after the round trips",
        figure: `${Math.round((await started.memoryBytes()) / MB)} MB`,
        target: "-",
        ratio: null,
        ok: true,
        note: "monitor + OSD (memstore) + gateway",
      });
    }
    return rows;
  });
}
