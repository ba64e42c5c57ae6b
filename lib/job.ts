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
import { dirname } from "node:path";
import { removeStaleTemps } from "./fs/atomic.ts";
import { delay } from "./std/delay.ts";
import { normalizeTargets, readCandidatesFile, type Targets } from "./input/candidates.ts";
import type { Catalog, CatalogCounts, MergePlan } from "./catalog/catalog.ts";
import { NotDurableWrite } from "./catalog/outcomes.ts";
import { retirable } from "./catalog/retire.ts";
import type { FetchedRecord } from "./record/record.ts";
import type { RunOptions } from "./input/cli.ts";
import { describeError, errorMessage, IngestError } from "./core/errors.ts";
import { redactUrl } from "./core/text.ts";
import { acquireLock, describeOwner, LockTimeoutError } from "./fs/lock.ts";
import type { Logger } from "./report/log.ts";
import { projectRoot } from "./fs/paths.ts";
import { resolveCatalogPath } from "./input/catalog_path.ts";
import { startProgress } from "./report/progress.ts";
import { emptyReport, type RunReport, settle, signalExitCode } from "./report/report.ts";
import { type ClientOptions, fetchAll, TradingViewClient } from "./fetch/client.ts";
import { fetchAllScan } from "./fetch/scan.ts";

/** What a job needs from its surroundings. */
export interface JobDeps {
  /** Where progress, warnings and the summary go. */
  log: Logger;
  /** Project root (real path); defaults to the working directory. */
  root?: string;
  /** Cancels the run (SIGINT/SIGTERM); its reason is the signal's name. */
  signal?: AbortSignal;
  /**
   * The report to fill in place (so a caller that must exit early can still
   * print it); a fresh one by default.
   */
  report?: RunReport;
  /** Told when a catalog write starts, and whether it was written or failed. */
  onWrite?: (event: "start" | "written" | "failed") => void;
  /** Most targets fetched and merged in one go; see {@linkcode CHUNK_SIZE}. */
  chunkSize?: number;
  /** Client tuning beyond the flags (tests: short pauses, their own clock). */
  client?: Pick<
    ClientOptions,
    "breaker" | "pacer" | "backoffBaseMs" | "backoffCapMs" | "random" | "clock"
  >;
}

/**
 * Most targets fetched and merged in one go. Larger runs (a candidates list
 * of up to 100,000, or any `--from-catalog` refresh) are split into
 * near-equal chunks, each fetched, then merged under the lock, so memory
 * stays bounded whatever the catalog's size.
 */
export const CHUNK_SIZE = 50_000;

/** Opens the catalog; DuckDB's addon is loaded only when a run needs it. */
async function openCatalog(path: string): Promise<Catalog> {
  const { Catalog } = await import("./catalog/catalog.ts");
  return await Catalog.open(path);
}

function missingCatalog(given: string): IngestError {
  return new IngestError(
    "catalog",
    `--from-catalog: there is no catalog at ${given} to refresh`,
    "seed it first with a run that names its symbols (--candidates-file or --symbols), " +
      "or restore it from where you keep it (the nightly workflow restores it from the meta-catalog branch)",
  );
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
      throw new Error("--from-catalog targets come from the open catalog");
  }
}

/** Splits `items` into near-equal chunks of at most `size`. */
function chunksOf<T>(items: readonly T[], size: number): T[][] {
  const count = Math.max(1, Math.ceil(items.length / size));
  const each = Math.ceil(items.length / count);
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += each) chunks.push(items.slice(i, i + each));
  return chunks;
}

function checkSignal(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new IngestError("interrupted", `interrupted by ${String(signal.reason ?? "a signal")}`);
  }
}

function isInterruption(err: unknown, signal: AbortSignal | undefined): boolean {
  if (err instanceof IngestError) return err.kind === "interrupted";
  return signal?.aborted === true && (err === signal.reason ||
    (err instanceof DOMException && err.name === "AbortError"));
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
  const report = deps.report ?? emptyReport(options.catalogPath, options.dryRun);
  // One DuckDB instance per run, opened at most once and always closed.
  let opening: Promise<Catalog> | undefined;
  const state = { writes: 0 };
  try {
    const root = deps.root ?? await projectRoot();
    const catalogPath = await resolveCatalogPath(options.catalogPath, root);
    const folder = dirname(catalogPath);
    let folderExists = await isDirectory(folder);
    let targets: Targets;
    if (options.source.kind === "from-catalog") {
      if (!folderExists) throw missingCatalog(options.catalogPath);
      opening = openCatalog(catalogPath);
      const catalog = await opening;
      const loaded = await catalog.load();
      if (!loaded.exists) throw missingCatalog(options.catalogPath);
      report.catalog.rows = loaded.rows;
      report.catalog.current = loaded.current;
      // The catalog is not an untrusted list: no entry cap (it is refreshed
      // in chunks below), but its symbols pass the same rules.
      targets = normalizeTargets(await catalog.activeSymbols(), { maxEntries: Infinity });
    } else {
      targets = await resolveTargets(options, root);
    }
    report.requested = targets.requested;
    report.valid = targets.valid.length;
    report.invalid = targets.invalid;
    if (targets.valid.length === 0) {
      if (targets.requested === 0) log.info("nothing to do: no targets");
      settle(report);
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
      `fetching ${targets.valid.length} symbols from ${redactUrl(options.baseUrl)} (${
        options.endpoint === "scan" ? "/scan batches" : "/symbol"
      }) with ${options.workers} workers`,
    );
    const chunks = chunksOf(targets.valid, deps.chunkSize ?? CHUNK_SIZE);
    if (chunks.length > 1) {
      log.info(`in ${chunks.length} chunks of up to ${chunks[0].length}, each merged on its own`);
    }
    const progress = startProgress(targets.valid.length, log, () => ({
      ...client.stats,
      pausedMs: client.pausedFor(),
    }));
    try {
      for (const chunk of chunks) {
        // Each answer also refreshes the report's counts, so a report printed
        // early (a second signal) shows the requests already sent.
        const onOutcome = () => {
          progress.done();
          report.http = { ...client.counts(), by_endpoint: { ...client.byEndpoint } };
        };
        const fetching = options.endpoint === "scan"
          ? fetchAllScan(client, chunk, options.workers, onOutcome)
          : fetchAll(client, chunk, options.workers, onOutcome);
        // (Opening DuckDB creates nothing, so this is fine on dry runs too.)
        if (!opening) {
          opening = delay(20).then(() => openCatalog(catalogPath));
          opening.catch(() => {}); // awaited below
        }
        const outcomes = await fetching;
        checkSignal(signal);
        const halt = client.halt;
        if (halt?.kind === "unreachable") {
          throw new IngestError(
            "network",
            halt.reason,
            "check the network, DNS and --base-url; nothing was written",
          );
        }
        // Blocked, gone silent part-way, or out of throttle budget: the
        // unfetched symbols (later chunks too) carry the reason, and so does
        // the report.
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
        report.fetched += fetched.length;
        let retiring: string[] = [];
        if (options.retireNotFound) {
          const decision = retirable(notFound, fetched.length, chunk.length);
          if (decision.refused) log.warn(decision.refused);
          retiring = decision.retire;
        }
        if (fetched.length === 0 && retiring.length === 0) continue;

        if (!folderExists && !options.dryRun) {
          await Deno.mkdir(folder, { recursive: true });
          folderExists = true;
        }
        const catalog = await opening;
        if (options.dryRun) {
          // No lock: reading a file that is only ever replaced by rename is safe.
          const before = await catalog.load();
          recordCounts(report, before);
          checkSignal(signal);
          const plan = await catalog.plan(fetched, retiring, options);
          recordSkew(report, plan);
          recordPlan(report, plan);
        } else {
          await merge(catalog, catalogPath, fetched, retiring, options, report, deps, state);
        }
      }
    } finally {
      progress.stop();
      report.http = { ...client.counts(), by_endpoint: { ...client.byEndpoint } };
    }
    // A dry run can still stop here; a real run past its last write cannot.
    if (options.dryRun) checkSignal(signal);
    settle(report);
    if (signal?.aborted) {
      log.warn(
        `${
          String(signal.reason)
        } arrived after the last point where the run could stop (its write was under way or done): the run finished and kept its exit code`,
      );
    }
  } catch (err) {
    if (isInterruption(err, signal)) {
      report.exit_code = signalExitCode(signal?.reason);
      const what = err instanceof IngestError
        ? err.message
        : `interrupted by ${String(signal?.reason ?? "a signal")}`;
      report.error = `${what}; ` +
        (state.writes
          ? `the ${state.writes} merge(s) written before it are in the catalog (see changes), the rest was not merged`
          : "nothing written");
    } else {
      report.error = describeError(err);
      report.exit_code = err instanceof IngestError && err.kind === "usage" ? 2 : 1;
      // A chunked run keeps the chunks it merged before the failure.
      const earlier = state.writes - (err instanceof NotDurableWrite ? 1 : 0);
      if (earlier > 0) report.error += `; ${earlier} merge(s) before it were written (see changes)`;
    }
  } finally {
    // However the run ended, the database opened for it is closed.
    await opening?.then((c) => c.close(), () => {});
    report.duration_ms = Math.round(performance.now() - started);
  }
  return report;
}

function recordCounts(report: RunReport, catalog: CatalogCounts): void {
  report.catalog.rows = catalog.rows;
  report.catalog.current = catalog.current;
}

/**
 * Fails the symbols a plan left out for clock skew: their current version
 * starts after this run, so merging them would run an interval backwards.
 */
function recordSkew(report: RunReport, plan: MergePlan): void {
  for (const { symbol, validFrom } of plan.skewed) {
    report.failed.push({
      symbol,
      reason: `clock skew: its current version starts at ${validFrom} UTC, after this run's ` +
        `time ${plan.runAt} UTC; not merged (check this machine's clock and the catalog's writers)`,
    });
  }
  report.fetched -= plan.skewed.length;
}

/** Adds a merge's outcome (written, or on dry runs planned) to the report. */
function recordPlan(report: RunReport, plan: MergePlan): void {
  report.repaired.push(...plan.repaired);
  report.new += plan.new;
  report.changed += plan.changed;
  report.unchanged += plan.unchanged;
  report.retired += plan.retired;
  report.changes.push(...plan.changes);
}

async function merge(
  catalog: Catalog,
  catalogPath: string,
  fetched: FetchedRecord[],
  retiring: string[],
  options: RunOptions,
  report: RunReport,
  deps: JobDeps,
  state: { writes: number },
): Promise<void> {
  const lock = (path: string) =>
    acquireLock(path, {
      timeoutMs: options.lockTimeoutMs,
      root: dirname(catalogPath), // resolved inside the project root at the start
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
      if (deps.signal?.aborted) {
        throw new IngestError(
          "interrupted",
          `interrupted by ${String(deps.signal.reason)} while waiting for the catalog lock`,
        );
      }
      if (err instanceof IngestError) throw err;
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
  recordCounts(report, before);
  const plan = await catalog.plan(fetched, retiring, options);
  recordSkew(report, plan);
  checkSignal(deps.signal);
  if (catalog.hasWork()) {
    // Past this point a signal no longer stops the run: the write finishes,
    // then the lock is released.
    deps.onWrite?.("start");
    try {
      recordCounts(report, await catalog.write()); // at the plan's run timestamp
    } catch (err) {
      if (!(err instanceof NotDurableWrite)) {
        deps.onWrite?.("failed");
        throw err;
      }
      // In place but not confirmed durable: the report says what was
      // written, and the run fails with that message.
      recordCounts(report, err.counts);
      recordPlan(report, plan);
      deps.onWrite?.("written");
      state.writes++;
      throw err;
    }
    deps.onWrite?.("written");
    state.writes++;
  }
  // Only now, with the merge written (or nothing to write), does the report
  // say what changed.
  recordPlan(report, plan);
}
