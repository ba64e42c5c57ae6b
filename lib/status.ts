/**
 * One `meta-ingest status`: what the catalog holds, its last runs, and when
 * each active symbol was last checked against the scanner.
 *
 * Promises: {@linkcode runStatus} only reads: one consistent version of the
 * catalog and its run log (read again if a run replaces them meanwhile),
 * with the catalog's row checksum verified as a merge verifies it. It never
 * throws for expected failures; it prints one error line and returns the
 * exit code: 0 answered, 3 symbols not checked within `--stale-after` (or
 * never), 1 the catalog is missing or unreadable, 2 usage.
 *
 * @example
 * ```ts
 * import { parseStatusCli } from "./input/status_cli.ts";
 * import { stderrLogger } from "./report/log.ts";
 * import { runStatus } from "./status.ts";
 * const command = parseStatusCli(["--stale-after", "26h"]);
 * if (command.kind === "run") {
 *   const code = await runStatus(command.options, {
 *     log: stderrLogger({ quiet: false }),
 *     write: (text) => console.log(text),
 *   });
 * }
 * ```
 *
 * @module
 */
import { isoFromDuckDb } from "./catalog/reader.ts";
import { describeError, IngestError } from "./core/errors.ts";
import { projectRoot } from "./fs/paths.ts";
import { STALE_EXIT_CODE, type StatusOptions } from "./input/status_cli.ts";
import type { Logger } from "./report/log.ts";
import { formatStatus, type StatusReport } from "./report/status_output.ts";
import { readSnapshot } from "./snapshot.ts";
import { openStore, readStore } from "./locate.ts";
import type { S3Env } from "./store/env.ts";
import type { CatalogStore } from "./store/store.ts";

/** What a status needs from its surroundings. */
export interface StatusDeps {
  /** Where errors go (stderr). */
  log: Logger;
  /** Writes the answer (stdout). */
  write: (text: string) => void | Promise<void>;
  /** Project root (real path); defaults to the working directory. */
  root?: string;
  /** Where the catalog lives; by default what `--catalog-path` names (lib/locate.ts). */
  store?: CatalogStore;
  /** The AWS variables, for a catalog in an S3 store. */
  env?: S3Env;
  /** The time staleness is measured from (tests); default: now. */
  now?: Date;
}

/** How many runs the answer lists. */
const RUNS_SHOWN = 5;

const iso = (text: string | null) => text === null ? null : isoFromDuckDb(text);

/**
 * Runs one status; see the module doc.
 *
 * @example
 * ```ts
 * import { runStatus } from "./status.ts";
 * import { memoryLogger } from "./report/log.ts";
 * // const code = await runStatus(options, { log: memoryLogger(), write: console.log });
 * ```
 */
export async function runStatus(options: StatusOptions, deps: StatusDeps): Promise<number> {
  let store = deps.store;
  const own = store === undefined;
  try {
    const now = deps.now ?? new Date();
    const root = deps.root ?? await projectRoot();
    store ??= await openStore(options.catalogPath, { root, env: deps.env ?? {}, purpose: "read" });
    await readStore(store, options.catalogPath);
    const { Catalog } = await import("./catalog/catalog.ts");
    await using catalog = await Catalog.open(store.localPath("symbols"));
    const staleBefore = new Date(now.getTime() - (options.staleAfterMs ?? Infinity));
    const { value: status } = await readSnapshot(store, catalog, async () => {
      await catalog.loadRunLog();
      return await catalog.status({
        runs: RUNS_SHOWN,
        staleBefore: Number.isFinite(staleBefore.getTime()) ? staleBefore : new Date(0),
      });
    });
    const checks = status.checks.map((c) => ({
      symbol: c.symbol,
      checked_at: iso(c.checked_at),
      attempted_at: iso(c.attempted_at),
      outcome: c.outcome,
      stale: c.stale,
    }));
    const stale = checks.filter((c) => c.stale).length;
    const report: StatusReport = {
      catalog: options.catalogPath,
      rows: status.rows,
      current: status.current,
      retired: status.retired,
      by_exchange: status.breakdown,
      runs: status.runs.map((r) => ({
        ...r,
        started_at: iso(r.started_at),
        finished_at: iso(r.finished_at),
        summary: parseSummary(r.summary),
      })),
      stale_after_ms: options.staleAfterMs,
      checks,
      never_checked: checks.filter((c) => c.checked_at === null).length,
      stale,
      exit_code: options.staleAfterMs !== null && stale > 0 ? STALE_EXIT_CODE : 0,
    };
    await deps.write(options.json ? JSON.stringify(report) + "\n" : formatStatus(report, now));
    return report.exit_code;
  } catch (err) {
    deps.log.error(describeError(err));
    return err instanceof IngestError && err.kind === "usage" ? 2 : 1;
  } finally {
    if (own) await store?.[Symbol.asyncDispose]();
  }
}

function parseSummary(text: string | null): Record<string, unknown> | null {
  if (text === null) return null;
  try {
    const value = JSON.parse(text);
    return value !== null && typeof value === "object" && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}
