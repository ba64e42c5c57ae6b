/**
 * `deno task bench`: every benchmark, one table (figure, ideal or target,
 * ratio). Pass names to run some: `deno task bench fetch50 merge`.
 * Names: startup, fetch50, stingy, storm (a 429 storm, 3 runs, about 40 s), merge, show, fetch1130
 * (about 80 s), throttle
 * (soft throttle, block, unreachable and silent hosts; about 2 min), scan50,
 * scan1130, auto50, auto1130 (the default endpoint), scan1130symbol (the same refresh in symbol mode, about 80 s), store (S3 round
 * trips on a local Ceph; skipped without Ceph), shared (a catalog on the store
 * against a local one: a big merge, 8 writers at once; skipped without Ceph).
 *
 * @module
 */
import { bench1130, bench50, benchStingy } from "./fetch.ts";
import { benchMerge } from "./merge.ts";
import { benchShow } from "./show.ts";
import { benchAuto50, benchRefresh1130, benchScan50 } from "./scan.ts";
import { benchStartup } from "./startup.ts";
import { benchStore } from "./store.ts";
import { benchShared } from "./shared.ts";
import {
  benchBlocked,
  benchSilent,
  benchSoftThrottle,
  benchStorm,
  benchUnreachable,
} from "./throttle.ts";
import { type BenchRow, printTable } from "./support.ts";

const BENCHES: Record<string, () => Promise<BenchRow[]>> = {
  startup: benchStartup,
  fetch50: async () => [await bench50()],
  stingy: async () => [await benchStingy()],
  storm: async () => [await benchStorm()],
  merge: benchMerge,
  show: benchShow,
  fetch1130: async () => [await bench1130()],
  throttle: async () => [
    await benchUnreachable(),
    await benchSilent(),
    await benchBlocked(),
    await benchSoftThrottle(),
  ],
  scan50: async () => [await benchScan50()],
  auto50: async () => [await benchAuto50()],
  auto1130: async () => [await benchRefresh1130("auto")],
  scan1130: async () => [await benchRefresh1130("scan")],
  scan1130symbol: async () => [await benchRefresh1130("symbol")],
  store: benchStore,
  shared: benchShared,
};

const wanted = Deno.args.length ? Deno.args : Object.keys(BENCHES);
const unknown = wanted.filter((name) => !(name in BENCHES));
if (unknown.length) {
  console.error(
    `unknown benchmark(s): ${unknown.join(", ")}; known: ${Object.keys(BENCHES).join(", ")}`,
  );
  Deno.exit(2);
}
const rows: BenchRow[] = [];
for (const name of wanted) {
  console.error(`running ${name} ...`);
  rows.push(...(await BENCHES[name]()));
}
printTable(rows);
Deno.exit(rows.every((r) => r.ok) ? 0 : 1);
