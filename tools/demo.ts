/**
 * `make demo`: meta-ingest end to end with no network. Starts the local
 * TradingView mirror on loopback, ingests the bundled sample candidates
 * (examples/candidates.json) into a scratch project (.scratch/demo), shows
 * the summary and the catalog (`meta-ingest show --all`), then refreshes
 * again after the mirror's data changed, and ends with one symbol's history
 * (`meta-ingest show NASDAQ:AAPL --history`, under the read-only `show`
 * permission set) and `meta-ingest status`. Stops the mirror.
 *
 * @module
 */
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
const showFlags = await permissionFlags("show", "run");

async function cli(title: string, args: string[]): Promise<number> {
  console.log(`\n== ${title}\n$ meta-ingest ${args.join(" ")}`);
  const status = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-q",
      "--config",
      join(REPO_ROOT, "deno.json"),
      ...(args[0] === "show" || args[0] === "status" ? showFlags : flags),
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

const base = ["--base-url", mirror.url];
const first = await cli(
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
const listed = await cli("what the catalog holds now", [
  "show",
  "--all",
  "--columns",
  "type,profile,tick_size,timezone,session",
]);

mirror.configure({ revision: 6 });
const second = await cli("the mirror's data changed: refresh the whole catalog, dry run first", [
  "--from-catalog",
  "--dry-run",
  ...base,
]);
const third = await cli("and for real", ["--from-catalog", "--quiet", ...base]);
const history = await cli("one symbol's history, read back", [
  "show",
  "NASDAQ:AAPL",
  "--history",
]);
const status = await cli("what the catalog holds, and when each symbol was last checked", [
  "status",
]);
console.log(`\nscratch project: ${project}`);
const ok = [0, 3].includes(first) && second === 0 && third === 0 && listed === 0 &&
  history === 0 && status === 0;
Deno.exit(ok ? 0 : 1);
