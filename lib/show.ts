/**
 * One `meta-ingest show`, start to end: resolve the catalog path, read one
 * consistent, verified version of the file, pick the columns, print as the
 * rows stream in.
 *
 * Promises: {@linkcode runShow} never throws for expected failures; it
 * prints one error line and returns the exit code: 0 answered (symbols the
 * catalog did not know are part of the answer), 1 the catalog cannot be
 * read (missing, damaged or failing its row checksum, outside the project
 * root), 2 usage (a column the catalog does not have). Every such error
 * comes before the first byte of the answer. It writes no file of the
 * project, takes no lock and opens no connection (a catalog in an S3 store
 * is first copied into a private folder and read from there).
 *
 * @example
 * ```ts
 * import { parseShowCli } from "./input/show_cli.ts";
 * import { stderrLogger } from "./report/log.ts";
 * import { runShow } from "./show.ts";
 * const command = parseShowCli(["NASDAQ:AAPL", "--history"]);
 * if (command.kind === "run") {
 *   const code = await runShow(command.options, {
 *     log: stderrLogger({ quiet: false }),
 *     write: (text) => console.log(text),
 *   });
 * }
 * ```
 *
 * @module
 */
import type { ReadAnswer } from "./catalog/reader.ts";
import { describeError, IngestError } from "./core/errors.ts";
import { projectRoot, resolveExistingInside } from "./fs/paths.ts";
import type { ShowOptions } from "./input/show_cli.ts";
import type { Logger } from "./report/log.ts";
import {
  measureTable,
  type ShowView,
  TABLE_COLUMNS,
  type TableLayout,
  writeShow,
} from "./report/show_output.ts";
import { isStoreLocation, openStore, readStore } from "./locate.ts";
import type { S3Env } from "./store/env.ts";
import type { CatalogStore } from "./store/store.ts";

/** What a show needs from its surroundings. */
export interface ShowDeps {
  /** Where errors and warnings go (stderr). */
  log: Logger;
  /** Writes the answer (stdout), a piece at a time; awaited. */
  write: (text: string) => void | Promise<void>;
  /** Project root (real path); defaults to the working directory. */
  root?: string;
  /** The AWS variables, for a catalog in an S3 store. */
  env?: S3Env;
  /**
   * The terminal's width in columns when stdout is one: a table is fitted
   * to it. Unset: full width (piped).
   */
  terminalWidth?: number;
}

function pickColumns(options: ShowOptions, available: readonly string[]): string[] {
  if (!options.columns) {
    if (options.format !== "table") return [...available];
    return TABLE_COLUMNS[options.mode.kind].filter((c) => available.includes(c));
  }
  const unknown = options.columns.filter((c) => !available.includes(c));
  if (unknown.length) {
    throw new IngestError(
      "usage",
      `--columns: the catalog has no column ${unknown.map((c) => `"${c}"`).join(", ")}`,
      `its columns: ${available.join(", ")}`,
    );
  }
  return ["symbol", ...options.columns.filter((c) => c !== "symbol")];
}

/**
 * Runs one show; see the module doc.
 *
 * @example
 * ```ts
 * import { runShow } from "./show.ts";
 * import { memoryLogger } from "./report/log.ts";
 * // const code = await runShow(options, { log: memoryLogger(), write: console.log });
 * ```
 */
export async function runShow(options: ShowOptions, deps: ShowDeps): Promise<number> {
  let store: CatalogStore | undefined;
  // DuckDB's addon loads while the path is checked.
  const loading = import("./catalog/reader.ts");
  loading.catch(() => {}); // awaited below
  try {
    const root = deps.root ?? await projectRoot();
    let path: string;
    if (isStoreLocation(options.catalogPath)) {
      // A catalog in an S3 store (or a scheme we refuse): read into a private copy.
      store = await openStore(options.catalogPath, {
        root,
        env: deps.env ?? {},
        purpose: "read",
      });
      await readStore(store, options.catalogPath);
      path = store.localPath("symbols");
    } else {
      // Read-only: a companion name (a .bak to inspect) is fine; globs are
      // refused by CatalogReader.open.
      path = await resolveExistingInside(options.catalogPath, root, "catalog path");
    }
    const { CatalogReader } = await loading;
    await using reader = await CatalogReader.open(path);
    const view = (answer: ReadAnswer): ShowView => ({
      mode: options.mode,
      catalogPath: options.catalogPath,
      columns: pickColumns(options, answer.columns),
      csvRaw: options.csvRaw,
      terminalWidth: deps.terminalWidth,
    });
    // A table is measured first, in the same consistent read; nothing is
    // written until the file has been checked and the answer has started.
    let layout: TableLayout | undefined;
    const answer = await reader.read(options, {
      verify: options.verify,
      prepass: options.format === "table"
        ? async (first) => {
          layout = await measureTable(first, view(first));
        }
        : undefined,
    });
    const unknown = await writeShow(options.format, answer, view(answer), deps.write, layout);
    if ((options.format === "csv" || options.format === "ndjson") && unknown.length) {
      const when = options.mode.kind === "as-of"
        ? `unknown at ${options.mode.at}`
        : "not in the catalog";
      const rows = options.format === "csv" ? " (rows with only the symbol)" : "";
      deps.log.warn(`${when}: ${unknown.join(", ")}${rows}`);
    }
    return 0;
  } catch (err) {
    deps.log.error(describeError(err));
    return err instanceof IngestError && err.kind === "usage" ? 2 : 1;
  } finally {
    await store?.[Symbol.asyncDispose]();
  }
}
