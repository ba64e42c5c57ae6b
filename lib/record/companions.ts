/**
 * The names of the files a catalog keeps beside it, decided once: the
 * exchanges table (one per folder) and the run log (one per catalog).
 *
 * @module
 */
import { EXCHANGES_FILE } from "./exchanges.ts";

export { EXCHANGES_FILE };

/** The ending of a run log's name: `symbols.parquet` keeps its log in `symbols.runs.parquet`. */
export const RUN_LOG_SUFFIX = ".runs.parquet";

/**
 * The run log's name for a catalog file name.
 *
 * @example
 * ```ts
 * import { runLogName } from "./companions.ts";
 * runLogName("symbols.parquet"); // "symbols.runs.parquet"
 * ```
 */
export function runLogName(catalogName: string): string {
  return `${catalogName.replace(/\.parquet$/i, "")}${RUN_LOG_SUFFIX}`;
}
