/**
 * `make demo`: meta-ingest end to end with no network. Starts the local
 * TradingView mirror on loopback, ingests the bundled sample candidates
 * (examples/candidates.json) into a scratch project (.scratch/demo), shows
 * the summary and a few catalog rows, then refreshes again after the mirror's
 * data changed, to show the history the catalog keeps. Stops the mirror.
 *
 * @module
 */
import { DuckDBInstance } from "@duckdb/node-api";
import { join } from "node:path";
import { startMirror } from "../testing/mirror.ts";
import { permissionFlags, REPO_ROOT } from "./permissions.ts";

const project = join(REPO_ROOT, ".scratch", "demo");
await Deno.remove(project, { recursive: true }).catch(() => {});
await Deno.mkdir(join(project, "run"), { recursive: true });
await Deno.copyFile(
  join(REPO_ROOT, "examples/candidates.json"),
  join(project, "run/candidates.json"),
);

await using mirror = startMirror({ latencyMs: 60, jitterMs: 40, maxInFlight: 3 });
const flags = await permissionFlags("ingest-local", "run");

async function ingest(title: string, args: string[]): Promise<number> {
  console.log(`\n== ${title}\n$ meta-ingest ${args.join(" ")}`);
  const status = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-q",
      "--config",
      join(REPO_ROOT, "deno.json"),
      ...flags,
      join(REPO_ROOT, "main.ts"),
      ...args,
    ],
    cwd: project,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  console.log(`(exit ${status.code})`);
  return status.code;
}

async function show(sql: string): Promise<void> {
  const instance = await DuckDBInstance.create(":memory:");
  try {
    const connection = await instance.connect();
    try {
      const reader = await connection.runAndReadAll(sql, [
        join(project, "data/lakehouse/symbols.parquet"),
      ]);
      console.table(reader.getRowObjectsJson());
    } finally {
      connection.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}

const base = ["--base-url", mirror.url];
const first = await ingest(
  "ingest this run's candidates (one invalid entry, one unknown symbol: exit 3)",
  [
    "--candidates-file",
    "run/candidates.json",
    "--default-exchange",
    "BINANCE",
    ...base,
  ],
);
console.log(
  `\nmirror: ${mirror.stats.requests} requests, at most ${mirror.stats.peakInFlight} in flight`,
);
await show(
  `SELECT symbol, type, profile, tick_size, timezone, session, CAST(valid_from AS VARCHAR) AS valid_from
   FROM read_parquet($1) WHERE valid_until IS NULL ORDER BY symbol LIMIT 6`,
);

mirror.configure({ revision: 6 });
const second = await ingest("the mirror's data changed: refresh the whole catalog, dry run first", [
  "--from-catalog",
  "--dry-run",
  ...base,
]);
const third = await ingest("and for real", ["--from-catalog", "--quiet", ...base]);
await show(
  `SELECT symbol, description, CAST(valid_from AS VARCHAR) AS valid_from, CAST(valid_until AS VARCHAR) AS valid_until
   FROM read_parquet($1)
   WHERE symbol IN (SELECT symbol FROM read_parquet($1) WHERE valid_until IS NOT NULL)
   ORDER BY symbol, valid_from LIMIT 6`,
);
console.log(`\nscratch project: ${project}`);
const ok = [0, 3].includes(first) && second === 0 && third === 0;
Deno.exit(ok ? 0 : 1);
