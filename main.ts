/**
 * meta-ingest: run-scoped TradingView metadata ingestion.
 *
 * Thin on purpose: parse the command line, run the job, print the report,
 * exit with its code (0 done, 3 partial, 1 failed, 2 usage error; 130/143
 * when interrupted by SIGINT/SIGTERM).
 *
 * @module
 */
import { HELP, parseCli } from "./lib/input/cli.ts";
import { describeError, IngestError } from "./lib/core/errors.ts";
import { runJob } from "./lib/job.ts";
import { parseProbeCli, PROBE_HELP } from "./lib/input/probe_cli.ts";
import { formatProbe, runProbe } from "./lib/probe.ts";
import { stderrLogger } from "./lib/report/log.ts";
import { formatSummary } from "./lib/report/report.ts";
import { TOOL_NAME, VERSION } from "./lib/core/version.ts";

const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

/** `meta-ingest probe ...`: compare /symbol and /scan; read-only. */
async function probe(args: string[]): Promise<number> {
  let command;
  try {
    command = parseProbeCli(args, { META_INGEST_BASE_URL: Deno.env.get("META_INGEST_BASE_URL") });
  } catch (err) {
    if (err instanceof IngestError && err.kind === "usage") {
      stderrLogger({ quiet: false }).error(describeError(err));
      return 2;
    }
    throw err;
  }
  if (command.kind === "help") {
    console.log(PROBE_HELP);
    return 0;
  }
  const log = stderrLogger({ quiet: command.options.quiet });
  const interrupted = new AbortController();
  for (const name of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(name, () => {
      if (interrupted.signal.aborted) Deno.exit(SIGNAL_EXIT[name]);
      interrupted.abort(name);
    });
  }
  const report = await runProbe(command.options, { log, signal: interrupted.signal });
  if (command.options.json) console.log(JSON.stringify(report));
  else console.log(formatProbe(report));
  if (report.error) log.error(report.error);
  const signalled = interrupted.signal.reason as string | undefined;
  return signalled ? SIGNAL_EXIT[signalled] : report.exit_code;
}

async function main(args: string[]): Promise<number> {
  if (args[0] === "probe") return await probe(args.slice(1));
  let command;
  try {
    command = parseCli(args, {
      META_INGEST_BASE_URL: Deno.env.get("META_INGEST_BASE_URL"),
      META_INGEST_ENDPOINT: Deno.env.get("META_INGEST_ENDPOINT"),
    });
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
  // write already under way finishes first). Second signal: exit at once;
  // the kernel drops our lock and the next run takes the stale file over.
  const interrupted = new AbortController();
  let signalled: string | undefined;
  for (const name of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(name, () => {
      if (signalled) Deno.exit(SIGNAL_EXIT[signalled]);
      signalled = name;
      log.warn(`${name} received: stopping (send it again to exit at once)`);
      interrupted.abort(name);
    });
  }

  const report = await runJob(options, { log, signal: interrupted.signal });
  // A run refused before it had targets gets one line: the error.
  if (!report.error || report.requested > 0) log.info(formatSummary(report));
  if (report.error) log.error(report.error);
  if (options.json) console.log(JSON.stringify(report));
  return signalled ? SIGNAL_EXIT[signalled] : report.exit_code;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
