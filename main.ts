/**
 * meta-ingest: run-scoped TradingView metadata ingestion.
 *
 * Thin on purpose: parse the command line, run the job, print the report,
 * exit with the report's `exit_code` (0 done, 3 partial, 1 failed, 2 usage
 * error; 130/143 when SIGINT/SIGTERM stopped the run): the process's code
 * and the report's never differ.
 *
 * @module
 */
import { HELP, parseCli } from "./lib/input/cli.ts";
import { describeError, IngestError } from "./lib/core/errors.ts";
import { runJob } from "./lib/job.ts";
import { stderrLogger } from "./lib/report/log.ts";
import { emptyReport, formatSummary, type RunReport, signalExitCode } from "./lib/report/report.ts";
import { TOOL_NAME, VERSION } from "./lib/core/version.ts";

/** Prints what a run did: the summary, its error, and with --json the report. */
function printReport(report: RunReport, json: boolean, log: ReturnType<typeof stderrLogger>) {
  // A run refused before it had targets gets one line: the error.
  if (!report.error || report.requested > 0) log.info(formatSummary(report));
  if (report.error) log.error(report.error);
  if (json) console.log(JSON.stringify(report));
}

async function main(args: string[]): Promise<number> {
  let command;
  try {
    command = parseCli(args, { META_INGEST_BASE_URL: Deno.env.get("META_INGEST_BASE_URL") });
  } catch (err) {
    if (err instanceof IngestError && err.kind === "usage") {
      stderrLogger({ quiet: false }).error(describeError(err));
      return 2;
    }
    throw err;
  }
  if (command.kind === "help") {
    console.log(HELP);
    return 0;
  }
  if (command.kind === "version") {
    console.log(`${TOOL_NAME} ${VERSION}`);
    return 0;
  }
  const options = command.options;
  const log = stderrLogger({ quiet: options.quiet });

  // First signal: stop fetching, release the lock, report, exit 130/143 (a
  // write already under way finishes first, and the run then exits with its
  // own code). Second signal: print the report as it stands and exit at
  // once; the kernel drops our lock and the next run takes the file over.
  const started = performance.now();
  const report = emptyReport(options.catalogPath, options.dryRun);
  const interrupted = new AbortController();
  let writing = false;
  let written = 0;
  let finished = false;
  for (const name of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(name, () => {
      if (finished) return; // the report is printed; the process is exiting with its code
      if (interrupted.signal.aborted) {
        report.exit_code = signalExitCode(name);
        report.error = `stopped at once by a second signal (${name}); ` +
          (writing
            ? "a catalog write was under way: the catalog is the old or the new version, never a mix; rerun to be sure"
            : written
            ? "the report shows what was written before it"
            : "nothing written");
        report.duration_ms = Math.round(performance.now() - started);
        printReport(report, options.json, log);
        Deno.exit(report.exit_code);
      }
      log.warn(`${name} received: stopping (send it again to exit at once)`);
      interrupted.abort(name);
    });
  }

  await runJob(options, {
    log,
    signal: interrupted.signal,
    report,
    onWrite: (event) => {
      writing = event === "start";
      if (event === "written") written++;
    },
  });
  finished = true;
  printReport(report, options.json, log);
  return report.exit_code;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
