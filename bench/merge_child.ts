/**
 * One catalog merge in a fresh process (so its peak memory is its own):
 * load, plan and, when something changed, write. Prints one JSON line with
 * the wall time of the merge, whether it wrote, and the process's peak RSS.
 *
 * Usage: merge_child.ts CATALOG_PATH SYMBOL,SYMBOL,...
 *
 * @module
 */
import { Catalog } from "../lib/catalog/catalog.ts";
import { fetched, writeMerge } from "../testing/catalog.ts";

const [path, list] = Deno.args;
const records = list.split(",").map((s) => fetched(s));
const started = performance.now();
await using catalog = await Catalog.open(path);
await catalog.load();
const plan = await catalog.plan(records, [], { retireNotFound: false });
const wrote = catalog.hasWork();
if (wrote) await writeMerge(catalog, new Date());
const ms = performance.now() - started;
const status = await Deno.readTextFile("/proc/self/status");
const peakKiB = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? NaN);
console.log(JSON.stringify({ ms, wrote, new: plan.new, peakMiB: peakKiB / 1024 }));
