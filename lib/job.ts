/**
 * One run, start to end: targets -> fetch -> lock -> merge -> write -> report.
 *
 * Promises: {@linkcode runJob} never throws for expected failures. It returns
 * the {@linkcode RunReport} with `exit_code` set (0, 1 or 3) and `error`
 * filled when the run failed, so `--json` always has a report to print.
 *
 * @example
 * ```ts
 * import { parseCli } from "./cli.ts";
 * import { runJob } from "./job.ts";
 * import { stderrLogger } from "./log.ts";
 * const command = parseCli(["--symbols", "NASDAQ:AAPL", "--dry-run"], {});
 * if (command.kind === "run") {
 *   const report = await runJob(command.options, { log: stderrLogger({ quiet: false }) });
 * }
 * ```
 *
 * @module
 */
import { normalizeTargets, readCandidatesFile, type Targets } from "./candidates.ts";
import type { RunOptions } from "./cli.ts";
import { describeError, IngestError } from "./errors.ts";
import type { Logger } from "./log.ts";
import { projectRoot, resolveWritableInside } from "./paths.ts";
import { startProgress } from "./progress.ts";
import { emptyReport, outcomeCode, type RunReport } from "./report.ts";
import { fetchAll, TradingViewClient } from "./tradingview.ts";

/** What a job needs from its surroundings. */
export interface JobDeps {
  log: Logger;
  /** Project root (real path); defaults to the working directory. */
  root?: string;
  /** Cancels the run (SIGINT/SIGTERM). */
  signal?: AbortSignal;
}

async function resolveTargets(options: RunOptions, root: string): Promise<Targets> {
  const source = options.source;
  switch (source.kind) {
    case "candidates-file":
      return await readCandidatesFile(source.path, {
        root,
        defaultExchange: options.defaultExchange,
      });
    case "symbols":
      return normalizeTargets(source.list, { defaultExchange: options.defaultExchange });
    case "from-catalog":
      throw new IngestError("internal", "--from-catalog needs the catalog module");
  }
}

/**
 * Runs one ingestion job; see the module doc.
 *
 * @example
 * ```ts
 * import { runJob } from "./job.ts";
 * import { memoryLogger } from "./log.ts";
 * // const report = await runJob(options, { log: memoryLogger() });
 * ```
 */
export async function runJob(options: RunOptions, deps: JobDeps): Promise<RunReport> {
  const started = performance.now();
  const report = emptyReport(options.catalogPath, options.dryRun);
  try {
    const root = deps.root ?? await projectRoot();
    await resolveWritableInside(options.catalogPath, root, "catalog path");
    const targets = await resolveTargets(options, root);
    report.requested = targets.requested;
    report.valid = targets.valid.length;
    report.invalid = targets.invalid;
    if (targets.valid.length) {
      const client = new TradingViewClient({
        baseUrl: options.baseUrl,
        timeoutMs: options.timeoutMs,
        maxRetries: options.maxRetries,
        signal: deps.signal,
      });
      report.http = client.stats;
      deps.log.info(
        `fetching ${targets.valid.length} symbols from ${options.baseUrl} with ${options.workers} workers`,
      );
      const progress = startProgress(targets.valid.length, deps.log, () => client.stats);
      const outcomes = await fetchAll(
        client,
        targets.valid,
        options.workers,
        () => progress.done(),
      );
      progress.stop();
      for (const outcome of outcomes) {
        if (outcome.kind === "fetched") report.fetched++;
        else report.failed.push({ symbol: outcome.symbol, reason: outcome.reason });
      }
    }
    report.exit_code = outcomeCode(report);
  } catch (err) {
    report.error = describeError(err);
    report.exit_code = 1;
  }
  report.duration_ms = Math.round(performance.now() - started);
  return report;
}
