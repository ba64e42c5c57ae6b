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
import { delay } from "./std/delay.ts";
import { normalizeTargets, readCandidatesFile, type Targets } from "./input/candidates.ts";
import type { Catalog, CatalogCounts, MergePlan, RunRecord } from "./catalog/catalog.ts";
import { NotDurableWrite } from "./catalog/outcomes.ts";
import { NotDurableError } from "./fs/atomic.ts";
import type { CatalogStore } from "./store/store.ts";
import type { S3Env } from "./store/env.ts";
import { openStore } from "./locate.ts";
import { readSnapshot } from "./snapshot.ts";
import { retirable } from "./catalog/retire.ts";
import type { FetchedRecord } from "./record/record.ts";
import type { RunOptions } from "./input/cli.ts";
import { describeError, IngestError } from "./core/errors.ts";
import { counted, grouped, redactUrl } from "./core/text.ts";
import type { Logger } from "./report/log.ts";
import { projectRoot } from "./fs/paths.ts";
import { startProgress } from "./report/progress.ts";
import {
  emptyReport,
  finishReport,
  type RunReport,
  settle,
  signalExitCode,
} from "./report/report.ts";
import {
  type ClientOptions,
  fetchAll,
  type SymbolOutcome,
  TradingViewClient,
} from "./fetch/client.ts";
import type { Halt } from "./fetch/breaker.ts";
import { fetchAllScan } from "./fetch/scan.ts";
import { fetchAuto } from "./fetch/auto.ts";

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
  /** Where the catalog lives; by default what `--catalog-path` names (lib/locate.ts). */
  store?: CatalogStore;
  /** The AWS variables, for a catalog in an S3 store. */
  env?: S3Env;
  /** Merge tuning (tests: no waiting between conflicts); see {@linkcode MergeTuning}. */
  merge?: MergeTuning;
}

/** How a merge retries when another writer changed the catalog first. */
export interface MergeTuning {
  /**
   * Conflicts (another writer was first) a merge survives before the run
   * fails; each one re-reads the catalog and merges this run's records again.
   * @default {12}
   */
  maxConflicts?: number;
  /**
   * First backoff ceiling after a conflict, in milliseconds (doubling, full jitter).
   * @default {100}
   */
  backoffBaseMs?: number;
  /**
   * Largest backoff ceiling, in milliseconds.
   * @default {2000}
   */
  backoffCapMs?: number;
  /**
   * The random source for the jitter.
   * @default {Math.random}
   */
  random?: () => number;
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

/** How a fetch outcome counts in the report: fetched, failed, or skipped (never tried for a reason). */
type Accounted =
  | { kind: "fetched"; record: FetchedRecord }
  | { kind: "failed"; symbol: string; reason: string; notFound: boolean }
  | { kind: "skipped"; symbol: string; reason: string };

/**
 * Sorts one outcome into the report's lists: a symbol whose request never
 * went out (the host was unreachable or blocked us first, the budget was
 * spent, a signal came) is skipped with that reason; one that was asked and
 * did not come back whole failed.
 */
function account(
  outcome: SymbolOutcome,
  halt: Halt | null,
  signal: AbortSignal | undefined,
): Accounted {
  if (outcome.kind === "fetched") {
    return { kind: "fetched", record: { record: outcome.record, defaults: outcome.defaults } };
  }
  if (outcome.kind === "failed") {
    if (signal?.aborted && (outcome.attempts === 0 || outcome.reason === "cancelled")) {
      return {
        kind: "skipped",
        symbol: outcome.symbol,
        reason: `signal: stopped by ${String(signal.reason)} before it was fetched`,
      };
    }
    if (halt && outcome.attempts === 0) {
      return {
        kind: "skipped",
        symbol: outcome.symbol,
        reason: `${halt.kind === "unreachable" ? "unreachable" : "halted"}: ${halt.reason}`,
      };
    }
  }
  return {
    kind: "failed",
    symbol: outcome.symbol,
    reason: outcome.reason,
    notFound: outcome.kind === "not-found",
  };
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
  report.endpoints.mode = options.endpoint;
  const startedAt = new Date(report.started_at);
  // One DuckDB instance per run, opened at most once and always closed.
  let opening: Promise<Catalog> | undefined;
  // What the scanner was asked, for the run log (set once fetching starts).
  let checks: RunRecord["checks"] | undefined;
  let store: CatalogStore | undefined;
  const state = { writes: 0 };
  try {
    const root = deps.root ?? await projectRoot();
    store = deps.store ??
      await openStore(options.catalogPath, { root, env: deps.env ?? {}, purpose: "write" });
    const openOnce = (s: CatalogStore) => opening ??= openCatalog(s.localPath("symbols"));

    // Everything that can be checked on the catalog's side is checked before
    // the first request: a problem found here costs the server nothing.
    await store.preflight({ write: !options.dryRun });
    const initial = await store.read();
    let targets: Targets;
    // The symbols the catalog knows (`auto` batches them); none without a catalog.
    let known = new Set<string>();
    if (options.source.kind === "from-catalog") {
      if (initial.symbols === null) throw missingCatalog(options.catalogPath);
      const catalog = await openOnce(store);
      const { loaded, value: symbols } = await readSnapshot(store, catalog, async (loaded) => {
        if (!loaded.exists) throw missingCatalog(options.catalogPath);
        return await catalog.activeSymbols();
      });
      recordCounts(report, loaded.counts);
      // The catalog is not an untrusted list: no entry cap (it is refreshed
      // in chunks below), but its symbols pass the same rules.
      targets = normalizeTargets(symbols, { maxEntries: Infinity });
      known = new Set(targets.valid);
    } else {
      if (initial.symbols !== null) {
        // Read it now: an unreadable catalog, or one whose rows fail their
        // checksum, is refused before anything is fetched. `auto` also
        // learns which symbols it knows.
        const catalog = await openOnce(store);
        const { loaded, value } = await readSnapshot(
          store,
          catalog,
          () => options.endpoint === "auto" ? catalog.currentSymbols() : Promise.resolve([]),
        );
        recordCounts(report, loaded.counts);
        known = new Set(value);
      }
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

    // Fetch (no lock held). DuckDB loads meanwhile when it was not needed
    // yet, once the first requests are on their way, so its start-up hides
    // behind network latency.
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
      `fetching ${counted(targets.valid.length, "symbol")} from ${redactUrl(options.baseUrl)} (${
        {
          auto: "/scan batches for known symbols, /symbol for new ones",
          scan: "/scan batches",
          symbol: "/symbol",
        }[options.endpoint]
      }) with ${counted(options.workers, "worker")}`,
    );
    const chunks = chunksOf(targets.valid, deps.chunkSize ?? CHUNK_SIZE);
    if (chunks.length > 1) {
      log.info(
        `in ${chunks.length} chunks of up to ${grouped(chunks[0].length)}, each merged on its own`,
      );
    }
    const progress = startProgress(targets.valid.length, log, () => ({
      ...client.stats,
      pausedMs: client.pausedFor(),
    }));
    const repaired = new Set<string>();
    checks = [];
    try {
      for (const chunk of chunks) {
        // Each answer also refreshes the report's counts, so a report printed
        // early (a second signal) shows the requests already sent.
        const onOutcome = (outcome: SymbolOutcome) => {
          // A symbol never asked (signal, halt) is not progress.
          if (account(outcome, client.halt, signal).kind === "skipped") progress.skipped();
          else progress.done();
          report.http = { ...client.counts(), by_endpoint: { ...client.byEndpoint } };
        };
        const fetching = fetchChunk(client, chunk, options, known, onOutcome, log, report);
        if (!opening) {
          const late = store;
          opening = delay(20).then(() => openCatalog(late.localPath("symbols")));
          opening.catch(() => {}); // awaited below
        }
        const outcomes = await fetching;
        const halt = client.halt;
        const fetched: FetchedRecord[] = [];
        const notFound: string[] = [];
        for (const outcome of outcomes) {
          const item = account(outcome, halt, signal);
          if (item.kind === "fetched") {
            fetched.push(item.record);
            checks.push({ symbol: outcome.symbol, outcome: "fetched" });
          } else if (item.kind === "skipped") {
            report.skipped.push({ symbol: item.symbol, reason: item.reason });
          } else {
            report.failed.push({ symbol: item.symbol, reason: item.reason });
            if (item.notFound) notFound.push(item.symbol);
            checks.push({ symbol: item.symbol, outcome: item.notFound ? "not-found" : "failed" });
          }
        }
        report.fetched += fetched.length;
        checkSignal(signal);
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

        let retiring: string[] = [];
        if (options.retireNotFound) {
          const decision = retirable(notFound, fetched.length, chunk.length);
          if (decision.refused) log.warn(decision.refused);
          retiring = decision.retire;
        }
        if (fetched.length === 0 && retiring.length === 0) continue;

        const catalog = await opening;
        if (options.dryRun) {
          // No lock: plan against one version of the files, read again
          // should they change meanwhile.
          const { loaded, value: plan } = await readSnapshot(store, catalog, async () => {
            checkSignal(signal);
            return await catalog.plan(fetched, retiring, options);
          });
          recordCounts(report, loaded.counts);
          recordSkew(report, plan, retiring);
          recordPlan(report, plan, repaired);
        } else {
          await untilLanded(
            store,
            deps,
            "this run's records",
            () =>
              mergeOnce(store!, catalog, fetched, retiring, options, report, deps, state, repaired),
          );
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
    await finishRun(report, options, deps, { store, opening, checks, startedAt });
    report.duration_ms = Math.round(performance.now() - started);
    finishReport(report);
  }
  return report;
}

/**
 * However a run ended: a run that merged (exit 0 or 3) leaves its checks in
 * the run log (a failed, interrupted or dry run writes nothing at all); then
 * the database opened for it is closed and the store's temp files are gone.
 */
async function finishRun(
  report: RunReport,
  options: RunOptions,
  deps: JobDeps,
  run: {
    store: CatalogStore | undefined;
    opening: Promise<Catalog> | undefined;
    checks: RunRecord["checks"] | undefined;
    startedAt: Date;
  },
): Promise<void> {
  const { log, signal } = deps;
  const { store, checks, startedAt } = run;
  let { opening } = run;
  // A run that merged (exit 0 or 3) leaves its checks in the run log; a
  // failed, interrupted or dry run writes nothing at all.
  const landed = report.exit_code === 0 || report.exit_code === 3;
  if (checks && store && landed && !options.dryRun && !signal?.aborted) {
    try {
      // Only beside a catalog this run read or wrote.
      if (report.catalog.rows !== null) {
        const catalog = await (opening ?? openCatalog(store.localPath("symbols")));
        opening ??= Promise.resolve(catalog);
        await recordRun(
          store,
          catalog,
          {
            runId: `${startedAt.toISOString()} ${hostName()} ${Deno.pid}`,
            startedAt,
            finishedAt: new Date(),
            endpoint: options.endpoint,
            host: hostName(),
            exitCode: report.exit_code,
            summary: runSummary(report),
            checks,
          },
          options,
          deps,
        );
      }
    } catch (err) {
      log.warn(`the run log was not updated: ${describeError(err)}`);
    }
  }
  await opening?.then((c) => c.close(), () => {});
  if (!deps.store) await Promise.resolve(store?.[Symbol.asyncDispose]()).catch(() => {});
}

/** This machine's name, for the run log ("unknown" when it cannot be read). */
function hostName(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
}

/** A run's counts as the run log keeps them. */
function runSummary(report: RunReport): RunRecord["summary"] {
  return {
    requested: report.requested,
    valid: report.valid,
    fetched: report.fetched,
    failed: report.failed.length,
    skipped: report.skipped.length,
    new: report.new,
    changed: report.changed,
    unchanged: report.unchanged,
    retired: report.retired,
    requests: report.http.requests,
    error: report.error,
  };
}

/**
 * Fetches one chunk through the endpoint `--endpoint` names, and adds what
 * each endpoint served (and, for `auto`, the spot check and fall-backs) to
 * the report.
 */
async function fetchChunk(
  client: TradingViewClient,
  chunk: readonly string[],
  options: RunOptions,
  known: ReadonlySet<string>,
  onOutcome: (outcome: SymbolOutcome) => void,
  log: Logger,
  report: RunReport,
): Promise<SymbolOutcome[]> {
  const use = report.endpoints;
  const dropped: { column: string; reason: string }[] = [];
  const noteDropped = () => {
    for (const { column, reason } of dropped) {
      if (report.scan.dropped_columns.includes(column)) continue;
      report.scan.dropped_columns.push(column);
      log.warn(`/scan refused the column ${column} (${reason}): dropped for this run`);
    }
  };
  if (options.endpoint === "auto") {
    const { outcomes, use: used } = await fetchAuto(client, chunk, options.workers, {
      known: (symbol) => known.has(symbol),
      verify: options.verify,
      dropped,
      onOutcome,
      onWarning: (message) => log.warn(message),
    });
    use.served.symbol += used.served.symbol;
    use.served.scan += used.served.scan;
    use.verified += used.verified;
    use.disagreements.push(...used.disagreements);
    use.fallbacks.push(...used.fallbacks);
    noteDropped();
    return outcomes;
  }
  const outcomes = options.endpoint === "scan"
    ? await fetchAllScan(client, chunk, options.workers, onOutcome, { dropped })
    : await fetchAll(client, chunk, options.workers, onOutcome);
  noteDropped();
  use.served[options.endpoint] += outcomes.filter((o) => o.kind !== "failed").length;
  return outcomes;
}

function recordCounts(report: RunReport, catalog: CatalogCounts): void {
  report.catalog.rows = catalog.rows;
  report.catalog.current = catalog.current;
}

/**
 * Fails the symbols a plan left out for clock skew: their current version
 * starts after this run, so merging them (or retiring them) would run an
 * interval backwards. A not-found symbol that would have been retired gets
 * the skew as its reason.
 */
function recordSkew(report: RunReport, plan: MergePlan, retiring: readonly string[]): void {
  const retire = new Set(retiring);
  for (const { symbol, validFrom } of plan.skewed) {
    const reason = `clock skew: its current version starts at ${validFrom} UTC, after this ` +
      `run's time ${plan.runAt} UTC; not ${retire.has(symbol) ? "retired" : "merged"} ` +
      `(check this machine's clock and the catalog's writers)`;
    if (retire.has(symbol)) {
      const entry = report.failed.find((f) => f.symbol === symbol);
      if (entry) entry.reason = reason;
      continue;
    }
    report.failed.push({ symbol, reason });
    report.fetched--;
  }
}

/**
 * Adds a merge's outcome (written, or on dry runs planned) to the report.
 * Repairs are counted once per symbol, however many chunks planned them.
 */
function recordPlan(report: RunReport, plan: MergePlan, repaired: Set<string>): void {
  for (const symbol of plan.repaired) {
    if (repaired.has(symbol)) continue;
    repaired.add(symbol);
    report.repaired.push(symbol);
  }
  report.new += plan.new;
  report.changed += plan.changed;
  report.unchanged += plan.unchanged;
  report.retired += plan.retired;
  report.changes.push(...plan.changes);
}

/** Full-jitter backoff after the `n`th conflict (1-based). */
function conflictBackoff(n: number, tuning: MergeTuning): number {
  const base = tuning.backoffBaseMs ?? 100;
  const cap = tuning.backoffCapMs ?? 2_000;
  return (tuning.random ?? Math.random)() * Math.min(cap, base * 2 ** (n - 1));
}

/**
 * Runs `attempt` (read, merge, write conditionally) until it lands. A
 * conflict (another writer was first: an object's ETag moved) reads again
 * and merges the same records again, after a jittered pause; records are
 * never fetched again. Bounded by {@linkcode MergeTuning.maxConflicts}.
 */
async function untilLanded(
  store: CatalogStore,
  deps: JobDeps,
  what: string,
  attempt: () => Promise<"done" | { file: string }>,
): Promise<void> {
  const tuning = deps.merge ?? {};
  const maxConflicts = tuning.maxConflicts ?? 12;
  for (let conflicts = 0;;) {
    const outcome = await attempt();
    if (outcome === "done") return;
    conflicts++;
    if (conflicts > maxConflicts) {
      throw new IngestError(
        "catalog",
        `${conflicts} other writers changed ${store.label} first (${outcome.file}); ` +
          `gave up after ${conflicts} tries to write ${what}`,
        "many runs are writing this catalog at once; rerun later (nothing of this run was written)",
      );
    }
    deps.log.info(
      `another writer changed ${store.label} first (${outcome.file}): reading it again and ` +
        `merging ${what} again (conflict ${conflicts} of at most ${maxConflicts})`,
    );
    await delay(conflictBackoff(conflicts, tuning), { signal: deps.signal }).catch(() => {});
    checkSignal(deps.signal);
  }
}

/**
 * Adds this run to the run log beside the catalog (under the lock, or
 * conditionally on the object's ETag), so `status` can tell when each
 * symbol was last checked without the catalog being rewritten on idle runs.
 */
async function recordRun(
  store: CatalogStore,
  catalog: Catalog,
  run: RunRecord,
  options: RunOptions,
  deps: JobDeps,
): Promise<void> {
  await untilLanded(store, deps, "the run log", async () => {
    await using _held = await store.exclusive({
      timeoutMs: options.lockTimeoutMs,
      onEvent: (message) => deps.log.info(message),
    });
    const base = await store.read(["runlog"]);
    await catalog.loadRunLog();
    const staged = await catalog.stageRunLog(store, run);
    const outcome = await store.commit([staged], base);
    return outcome.kind === "written" ? "done" : { file: outcome.file };
  });
}

/** One attempt of a chunk's merge: "done", or the conflict that beat it. */
async function mergeOnce(
  store: CatalogStore,
  catalog: Catalog,
  fetched: FetchedRecord[],
  retiring: string[],
  options: RunOptions,
  report: RunReport,
  deps: JobDeps,
  state: { writes: number },
  repaired: Set<string>,
): Promise<"done" | { file: string }> {
  await using _held = await store.exclusive({
    timeoutMs: options.lockTimeoutMs,
    onEvent: (message) => deps.log.info(message),
    signal: deps.signal,
  });
  checkSignal(deps.signal);
  const base = await store.read();
  const { exists: _, ...before } = await catalog.load();
  recordCounts(report, before);
  const plan = await catalog.plan(fetched, retiring, options);
  checkSignal(deps.signal);
  if (!catalog.hasWork()) {
    recordSkew(report, plan, retiring);
    recordPlan(report, plan, repaired);
    return "done";
  }
  // Past this point a signal no longer stops the run: the write finishes,
  // then the lock is released.
  deps.onWrite?.("start");
  let counts: CatalogCounts = before;
  try {
    const staged = await catalog.stage(store); // at the plan's run timestamp
    counts = staged.counts;
    const outcome = await store.commit(staged.staged, base);
    for (const warning of outcome.warnings) deps.log.warn(warning);
    if (outcome.kind === "conflict") {
      deps.onWrite?.("failed");
      return { file: store.localPath(outcome.file).split("/").pop() ?? outcome.file };
    }
  } catch (err) {
    if (!(err instanceof NotDurableError)) {
      deps.onWrite?.("failed");
      throw err;
    }
    // In place but not confirmed durable: the report says what was
    // written, and the run fails with that message.
    for (const warning of err.outcome.warning ? [err.outcome.warning] : []) deps.log.warn(warning);
    recordCounts(report, counts);
    recordSkew(report, plan, retiring);
    recordPlan(report, plan, repaired);
    deps.onWrite?.("written");
    state.writes++;
    throw new NotDurableWrite(err, counts);
  }
  deps.onWrite?.("written");
  state.writes++;
  // Only now, with the merge written, does the report say what changed.
  recordCounts(report, counts);
  recordSkew(report, plan, retiring);
  recordPlan(report, plan, repaired);
  return "done";
}
