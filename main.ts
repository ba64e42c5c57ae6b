/**
 * meta-ingest: run-scoped TradingView metadata ingestion, and reading the
 * catalog back (`meta-ingest show`), and checking the endpoints against each
 * other (`meta-ingest probe`).
 *
 * Thin on purpose: parse the command line, run the command, exit with its
 * code (ingest: 0 done, 3 partial, 1 failed, 2 usage error; show: 0, 1
 * unreadable catalog, 2 usage error; probe: 0 agree, 3 differ, 1 failed, 2
 * usage error; any command: 130/143 when stopped by SIGINT/SIGTERM). The
 * commands live in lib/commands.ts.
 *
 * @module
 */
import { runCommandLine } from "./lib/commands.ts";
import { type CliEnv, ENV_NAMES } from "./lib/input/cli.ts";

function granted(variable: string): boolean {
  return Deno.permissions.querySync({ name: "env", variable }).state === "granted";
}

/** The variables the tool reads, read only when the permission set grants them. */
const env: CliEnv = Object.defineProperties(
  {},
  Object.fromEntries(ENV_NAMES.map((variable) => [variable, {
    enumerable: true,
    get: () => granted(variable) ? Deno.env.get(variable) : undefined,
  }])),
);

if (import.meta.main) {
  Deno.exit(await runCommandLine(Deno.args, env));
}
