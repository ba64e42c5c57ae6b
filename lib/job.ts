/**
 * One run, start to end: targets -> fetch -> lock -> re-read -> merge ->
 * write -> report.
 *
 * Promises: {@linkcode runJob} never throws for expected failures. It returns
 * the {@linkcode RunReport} with `exit_code` set (0, 1 or 3) and `error`
 * filled when the run failed, so `--json` always has a report to print. The
 * lock is held only around re-read, merge and write (never during the
 * fetch), so concurrent runs fetch in parallel and serialise their merges;
 * each merge re-reads the newest catalog under the lock, so no run loses
 * another's rows. Dry runs fetch and diff but take no lock and write nothing.
 *
 * @example
 * ```ts
 * import { parseCli } from "./input/cli.ts";
 * import { runJob } from "./job.ts";
 * import { stderrLogger } from "./report/log.ts";
 * const command = parseCli(["--symbols", "NASDAQ:AAPL", "--dry-run"], {});
 * if (command.kind === "run") {
 *   const report = await runJob(command.options, { log: stderrLogger({ quiet: false }) });
 * }
 * ```
 *
 * @module
 */
import { basename, dirname } from "node:path";
import { removeStaleTemps } from "./fs/atomic.ts";
import { delay } from "./std/delay.ts";
import { normalizeTargets, readCandidatesFile, type Targets } from "./input/candidates.ts";
import type { Catalog, CatalogCounts, MergePlan } from "./catalog/catalog.ts";
import type { FetchedRecord } from "./record/record.ts";
import { EXCHANGES_FILE } from "./record/exchanges.ts";
import type { RunOptions } from "./input/cli.ts";
import { describeError, errorMessage, IngestError } from "./core/errors.ts";
import { acquireLock, describeOwner, LockTimeoutError } from "./fs/lock.ts";
import type { Logger } from "./report/log.ts";
import { projectRoot, resolveWritableInside } from "./fs/paths.ts";
import { startProgress } from "./report/progress.ts";
import { emptyReport, outcomeCode, type RunReport } from "./report/report.ts";
import {
  type ClientOptions,
  fetchAll,
  type SymbolOutcome,
  TradingViewClient,
} from "./fetch/client.ts";
import { fetchAllScan } from "./fetch/scan.ts";

/** What a job needs from its surroundings. */
export interface JobDeps {
  log: Logger;
  /** Project root (real path); defaults to the working directory. */
  root?: string;
  /** Cancels the run (SIGINT/SIGTERM). */
  signal?: AbortSignal;
  /** Client tuning beyond the flags (tests: short pauses). */
  client?: Pick<ClientOptions, "breaker" | "pacer" | "backoffBaseMs" | "backoffCapMs" | "random">;
}

/** Opens the catalog; DuckDB's addon is loaded only when a run needs it. */
async function openCatalog(path: string): Promise<Catalog> {
  const { Catalog } = await import("./catalog/catalog.ts");
  return await Catalog.open(path);
}

async function resolveTargets(
  options: RunOptions,
  root: string,
  catalogPath: string,
  catalogFolderExists: boolean,
): Promise<Targets> {
  const source = options.source;
  switch (source.kind) {
    case "candidates-file":
      return await readCandidatesFile(source.path, {
        root,
        defaultExchange: options.defaultExchange,
      });
    case "symbols":
      return normalizeTargets(source.list, { defaultExchange: options.defaultExchange });
    case "from-catalog": {
      if (!catalogFolderExists) return normalizeTargets([]);
      await using catalog = await openCatalog(catalogPath);
      await catalog.load();
      return normalizeTargets(await catalog.activeSymbols());
    }
  }
}

/** The largest share of a run's targets that may be retired at once. */
export const RETIRE_MAX_SHARE = 0.25;

/**
 * Not-founds that may be retired. A run where nothing was fetched, or where
 * more than {@linkcode RETIRE_MAX_SHARE} of the targets were "not found",
 * looks like a wrong --base-url or an API change, not delistings: nothing is
 * retired then.
 */
function retirable(notFound: string[], fetched: number, targets: number, log: Logger): string[] {
  if (notFound.length === 0) return [];
  if (fetched === 0 || notFound.length > Math.max(1, targets * RETIRE_MAX_SHARE)) {
    log.warn(
      `not retiring: ${notFound.length} of ${targets} symbols were "not found" and ${fetched} fetched, ` +
        "which looks like a wrong --base-url or an API change rather than delistings",
    );
    return [];
  }
  return notFound;
}

function checkSignal(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new IngestError(
      "internal",
      `interrupted (${String(signal.reason ?? "signal")}); nothing written`,
    );
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/**
 * Runs one ingestion job; see the module doc.
 *
 * @example
 * ```ts
 * import { runJob } from "./job.ts";
 * import { memoryLogger } from "./report/log.ts";
 * // const report = await runJob(options, { log: memoryLogger() });
 * ```
 */
export async function runJob(options: RunOptions, deps: JobDeps): Promise<RunReport> {
  const started = performance.now();
  const { log, signal } = deps;
  const report = emptyReport(options.catalogPath, options.dryRun);
  let catalogPending: Promise<Catalog> | undefined;
  try {
    const root = deps.root ?? await projectRoot();
    const catalogPath = await resolveWritableInside(options.catalogPath, root, "catalog path");
    if (basename(catalogPath) === EXCHANGES_FILE) {
      throw new IngestError(
        "usage",
        `--catalog-path cannot be named ${EXCHANGES_FILE}: that is the exchanges table kept beside the catalog`,
        "use another name, e.g. symbols.parquet",
      );
    }
    const folder = dirname(catalogPath);
    const folderExists = await isDirectory(folder);
    const targets = await resolveTargets(options, root, catalogPath, folderExists);
    report.requested = targets.requested;
    report.valid = targets.valid.length;
    report.invalid = targets.invalid;
    if (targets.valid.length === 0) {
      if (targets.requested === 0) log.info("nothing to do: no targets");
      report.exit_code = outcomeCode(report);
      return report;
    }

    if (options.dryRun) {
      const shown = targets.valid.slice(0, 20).join(", ");
      const more = targets.valid.length > 20 ? `, ... and ${targets.valid.length - 20} more` : "";
      log.info(`targets (${targets.valid.length}): ${shown}${more}`);
    }

    // Fetch (no lock held). DuckDB loads meanwhile, once the first requests
    // are on their way, so its start-up hides behind network latency.
    const client = new TradingViewClient({
      ...deps.client,
      baseUrl: options.baseUrl,
      timeoutMs: options.timeoutMs,
      maxRetries: options.maxRetries,
      workers: options.workers,
      maxPausedMs: options.maxThrottleS * 1000,
      onEvent: (message) => log.warn(message),
      signal,
    });
    log.info(
      `fetching ${targets.valid.length} symbols from ${options.baseUrl} ` +
        `(${
          options.endpoint === "scan" ? "/scan batches" : "/symbol"
        }) with ${options.workers} workers`,
    );
    const progress = startProgress(targets.valid.length, log, () => ({
      ...client.stats,
      pausedMs: client.pausedFor(),
    }));
    const fetching = options.endpoint === "scan"
      ? fetchAllScan(client, targets.valid, options.workers, () => progress.done())
      : fetchAll(client, targets.valid, options.workers, () => progress.done());
    // (Opening DuckDB creates nothing, so this is fine on dry runs too.)
    catalogPending = delay(20).then(() => openCatalog(catalogPath));
    catalogPending.catch(() => {}); // awaited below
    let outcomes: SymbolOutcome[];
    try {
      outcomes = await fetching;
    } finally {
      progress.stop();
      report.http = { ...client.counts(), by_endpoint: { ...client.byEndpoint } };
    }
    checkSignal(signal);
    const halt = client.halt;
    if (halt?.kind === "unreachable") {
      throw new IngestError(
        "network",
        halt.reason,
        "check the network, DNS and --base-url; nothing was written",
      );
    }
    // Blocked, gone silent part-way, or out of throttle budget: the unfetched
    // symbols carry the reason, and so does the report.
    if (halt) report.error = halt.reason;

    const fetched: FetchedRecord[] = [];
    const notFound: string[] = [];
    for (const outcome of outcomes) {
      if (outcome.kind === "fetched") {
        fetched.push({ record: outcome.record, defaults: outcome.defaults });
      } else {
        report.failed.push({ symbol: outcome.symbol, reason: outcome.reason });
        if (outcome.kind === "not-found") notFound.push(outcome.symbol);
      }
    }
    report.fetched = fetched.length;
    const retiring = options.retireNotFound
      ? retirable(notFound, fetched.length, targets.valid.length, log)
      : [];
    if (fetched.length === 0 && retiring.length === 0) {
      report.exit_code = outcomeCode(report);
      return report;
    }

    if (!folderExists && !options.dryRun) await Deno.mkdir(folder, { recursive: true });
    const catalog = await catalogPending;
    if (options.dryRun) {
      // No lock: reading a file that is only ever replaced by rename is safe.
      const before = await catalog.load();
      recordPlan(report, await catalog.plan(fetched, retiring, options), before);
    } else {
      await merge(catalog, catalogPath, fetched, retiring, options, report, deps);
    }
    report.exit_code = outcomeCode(report);
  } catch (err) {
    report.error = describeError(err);
    report.exit_code = err instanceof IngestError && err.kind === "usage" ? 2 : 1;
  } finally {
    // However the run ended, the database opened during the fetch is closed.
    await catalogPending?.then((c) => c.close(), () => {});
    report.duration_ms = Math.round(performance.now() - started);
  }
  return report;
}

function recordPlan(report: RunReport, plan: MergePlan, catalog: CatalogCounts): void {
  report.new = plan.new;
  report.changed = plan.changed;
  report.unchanged = plan.unchanged;
  report.retired = plan.retired;
  report.changes = plan.changes;
  report.catalog.rows = catalog.rows;
  report.catalog.current = catalog.current;
}

async function merge(
  catalog: Catalog,
  catalogPath: string,
  fetched: FetchedRecord[],
  retiring: string[],
  options: RunOptions,
  report: RunReport,
  deps: JobDeps,
): Promise<void> {
  const lock = (path: string) =>
    acquireLock(path, {
      timeoutMs: options.lockTimeoutMs,
      onEvent: (message) => deps.log.info(message),
      signal: deps.signal,
    }).catch((err) => {
      if (err instanceof LockTimeoutError) {
        throw new IngestError(
          "lock",
          `catalog is locked by ${describeOwner(err.owner)}; gave up after ${err.timeoutMs} ms`,
          `another meta-ingest run is merging; retry, or raise --lock-timeout-ms (lock file: ${path})`,
        );
      }
      if (err instanceof IngestError || deps.signal?.aborted) throw err;
      throw new IngestError(
        "catalog",
        `cannot create the lock file ${path}: ${errorMessage(err)}`,
        "check that the catalog folder is writable; nothing was written",
      );
    });
  // The catalog's own lock, then the lock of exchanges.parquet, which every
  // catalog in the folder shares (always in this order: no deadlock).
  await using _catalogLock = await lock(`${catalogPath}.lock`);
  await using _exchangesLock = await lock(`${catalog.exchangesPath}.lock`);
  checkSignal(deps.signal);
  // Under the locks nobody else writes these files: temp files of theirs
  // are from crashed runs.
  await removeStaleTemps(catalogPath);
  await removeStaleTemps(catalog.exchangesPath);
  const before = await catalog.load();
  recordPlan(report, await catalog.plan(fetched, retiring, options), before);
  if (catalog.hasWork()) {
    // Past this point a signal no longer stops the run: the write finishes,
    // then the lock is released.
    const after = await catalog.write(new Date());
    report.catalog.rows = after.rows;
    report.catalog.current = after.current;
  }
}
