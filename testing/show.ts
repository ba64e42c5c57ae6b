/**
 * `meta-ingest show` run in-process for tests: the parsed command line,
 * the real reader on a real file, output and log captured.
 *
 * @module
 */
import { parseShowCli } from "../lib/input/show_cli.ts";
import { memoryLogger } from "../lib/report/log.ts";
import { runShow, type ShowDeps } from "../lib/show.ts";

/** What one in-process show left. */
export interface ShowRun {
  /** Its exit code. */
  code: number;
  /** Everything written to stdout. */
  out: string;
  /** Lines logged (stderr). */
  log: string[];
}

/**
 * Runs `show ARGS` with `root` as the project root.
 *
 * @example
 * ```ts
 * import { showInProcess } from "./show.ts";
 * const { code, out } = await showInProcess("/tmp/p", ["NASDAQ:AAPL", "--json"]);
 * ```
 */
export async function showInProcess(
  root: string,
  args: string[],
  deps: Partial<ShowDeps> = {},
): Promise<ShowRun> {
  const command = parseShowCli(args);
  if (command.kind !== "run") throw new Error(`show ${args.join(" ")} is not a run`);
  let out = "";
  const log = memoryLogger();
  const code = await runShow(command.options, {
    log,
    write: (text) => {
      out += text;
    },
    root,
    ...deps,
  });
  return { code, out, log: log.lines };
}

/** {@linkcode showInProcess} with `--json`, parsed; throws unless it exits 0. */
// deno-lint-ignore no-explicit-any
export async function showJsonInProcess(root: string, args: string[]): Promise<any> {
  const result = await showInProcess(root, [...args, "--json"]);
  if (result.code !== 0) throw new Error(`show exited ${result.code}: ${result.log.join("\n")}`);
  return JSON.parse(result.out);
}
