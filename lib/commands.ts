/**
 * The subcommands: `meta-ingest [ingest] ...`, `meta-ingest show ...`,
 * `meta-ingest status ...`, `meta-ingest probe ...` and
 * `meta-ingest help [COMMAND]`, each a parser and a runner.
 *
 * Promises: {@linkcode parseCommandLine} takes the flags every command
 * shares (`--root DIR`, `-h/--help`, `-V/--version`, anywhere before `--`),
 * picks the command from the first word (no command word means `ingest`, so
 * every bare ingest command line means what it always meant), parses the
 * rest with that command's parser and returns something to run, or throws
 * an {@linkcode IngestError} of kind `usage` (an unknown command or flag
 * names the nearest known one). {@linkcode runCommandLine} does all of it
 * and answers the exit code: a usage error is one line on stderr and exit 2,
 * and for an ingest with `--json` also a run report on stdout (every
 * `--json` run prints one). Nothing here exits, except a second signal.
 *
 * @example
 * ```ts
 * import { parseCommandLine } from "./commands.ts";
 * const invocation = parseCommandLine(["show", "NASDAQ:AAPL"], {});
 * const code = await invocation.run();
 * ```
 *
 * @module
 */
import { describeError, IngestError } from "./core/errors.ts";
import { onStopSignals } from "./core/signals.ts";
import { TOOL_NAME, VERSION } from "./core/version.ts";
import { enterRoot } from "./fs/paths.ts";
import { type CliEnv, DEFAULTS, HELP, parseCli, ROOT_HELP, type RunOptions } from "./input/cli.ts";
import { nearest } from "./input/flags.ts";
import { parseProbeCli, PROBE_HELP, type ProbeOptions } from "./input/probe_cli.ts";
import { parseShowCli, SHOW_HELP, type ShowOptions } from "./input/show_cli.ts";
import { parseStatusCli, STATUS_HELP, type StatusOptions } from "./input/status_cli.ts";
import { stderrLogger } from "./report/log.ts";
import { emptyReport, finishReport, type RunReport } from "./report/report.ts";

/** What a command's parser returns. */
export type ParsedCommand<T> = { kind: "help" } | { kind: "version" } | { kind: "run"; options: T };

/** One subcommand: its name, a line for `--help`, its parser and its runner. */
export interface Command<T = unknown> {
  /** The word that selects it. */
  name: string;
  /** One line for the command list of `--help`. */
  summary: string;
  /** What `meta-ingest NAME --help` prints. */
  help: string;
  /** Parses the words after the command name; throws a usage IngestError. */
  parse(args: readonly string[], env: CliEnv): ParsedCommand<T>;
  /** Runs it with the environment it was parsed with; resolves to the exit code. */
  run(options: T, env: CliEnv): Promise<number>;
}

/**
 * Declares a command; the type parameter ties its parser to its runner.
 *
 * @example
 * ```ts
 * import { command } from "./commands.ts";
 * command("hello", "says hello", "usage: hello", () => ({ kind: "run", options: 1 }), async (n) => n - 1);
 * ```
 */
export function command<T>(
  name: string,
  summary: string,
  help: string,
  parse: (args: readonly string[], env: CliEnv) => ParsedCommand<T>,
  run: (options: T, env: CliEnv) => Promise<number>,
): Command {
  return {
    name,
    summary,
    help,
    parse,
    run: (options, env) => run(options as T, env),
  };
}

// Each runner loads its command's modules when it runs, so one command
// never pays for loading another's.

/**
 * One ingest run as the CLI does it: signals, summary on stderr, `--json` on
 * stdout. The process exits with the report's `exit_code`, so the two never
 * differ.
 */
async function runIngest(options: RunOptions, env: CliEnv): Promise<number> {
  const [{ runJob }, { formatSummary, partialLine, signalExitCode }] = await Promise.all([
    import("./job.ts"),
    import("./report/report.ts"),
  ]);
  const log = stderrLogger({ quiet: options.quiet });
  const print = (report: RunReport) => {
    // A run refused before it had targets gets one line: the error.
    if (!report.error || report.requested > 0) log.info(formatSummary(report));
    if (report.error) log.error(report.error);
    // --quiet still says that a run was only partly done, and how much.
    const partial = options.quiet ? partialLine(report) : null;
    if (partial !== null) stderrLogger({ quiet: false }).warn(partial);
    if (options.json) console.log(JSON.stringify(report));
  };

  // First signal: stop fetching, release the lock, report, exit 130/143 (a
  // write already under way finishes first, and the run then exits with its
  // own code). The same signal again within SAME_PRESS_MS is the same key
  // press delivered twice (a terminal signals the whole process group, and
  // `deno task` forwards it too): ignored. A later or different signal:
  // print the report as it stands and exit at once; the kernel drops our
  // lock and the next run takes the file over.
  const started = performance.now();
  const report = emptyReport(options.catalogPath, options.dryRun);
  const interrupted = new AbortController();
  let writing = false;
  let written = 0;
  let finished = false;
  onStopSignals({
    first(name) {
      if (finished) return; // the report is printed; the process is exiting with its code
      log.warn(`${name} received: stopping (send it again to exit at once)`);
      interrupted.abort(name);
    },
    again(name) {
      if (finished) return;
      report.exit_code = signalExitCode(name);
      report.error = `stopped at once by a second signal (${name}); ` +
        (writing
          ? "a catalog write was under way: the catalog is the old or the new version, never a mix; rerun to be sure"
          : written
          ? "the report shows what was written before it"
          : "nothing written");
      report.duration_ms = Math.round(performance.now() - started);
      finishReport(report);
      print(report);
      Deno.exit(report.exit_code);
    },
  });

  await runJob(options, {
    log,
    env,
    signal: interrupted.signal,
    report,
    onWrite: (event) => {
      writing = event === "start";
      if (event === "written") written++;
    },
  });
  finished = true;
  print(report);
  return report.exit_code;
}

const encoder = new TextEncoder();

/** Writes all of `text` to stdout; a reader that went away (`| head`) is not an error. */
async function writeStdout(text: string): Promise<void> {
  const bytes = encoder.encode(text);
  try {
    for (let done = 0; done < bytes.length;) done += await Deno.stdout.write(bytes.subarray(done));
  } catch (err) {
    if (!(err instanceof Deno.errors.BrokenPipe)) throw err;
  }
}

/** `meta-ingest probe`: /symbol and /scan side by side; read-only, so a signal simply stops it. */
async function runProbeCommand(options: ProbeOptions, env: CliEnv): Promise<number> {
  const [{ formatProbe, runProbe }, { signalExitCode }] = await Promise.all([
    import("./probe.ts"),
    import("./report/report.ts"),
  ]);
  // A signal ends the probe: the report's exit_code says so, and is the
  // process's. One key press delivered twice is one signal (lib/core/signals.ts).
  const log = stderrLogger({ quiet: options.quiet });
  const interrupted = new AbortController();
  onStopSignals({
    first: (name) => interrupted.abort(name),
    again: (name) => Deno.exit(signalExitCode(name)),
  });
  const report = await runProbe(options, { log, env, signal: interrupted.signal });
  if (options.json) console.log(JSON.stringify(report));
  else console.log(formatProbe(report));
  if (report.error) log.error(report.error);
  return report.exit_code;
}

/** The probe parser in the shape every command's parser has. */
function parseProbe(args: readonly string[], env: CliEnv): ParsedCommand<ProbeOptions> {
  const parsed = parseProbeCli(args, env);
  return parsed.kind === "probe" ? { kind: "run", options: parsed.options } : parsed;
}

async function runShowCommand(options: ShowOptions, env: CliEnv): Promise<number> {
  const { runShow } = await import("./show.ts");
  // A table on a terminal fits its width; piped, it is printed at full width.
  const terminalWidth = Deno.stdout.isTerminal() ? Deno.consoleSize().columns : undefined;
  return await runShow(options, {
    log: stderrLogger({ quiet: false }),
    write: writeStdout,
    env,
    terminalWidth,
  });
}

async function runStatusCommand(options: StatusOptions, env: CliEnv): Promise<number> {
  const { runStatus } = await import("./status.ts");
  return await runStatus(options, { log: stderrLogger({ quiet: false }), write: writeStdout, env });
}

/** Every subcommand, the default (`ingest`) first. */
export const COMMANDS: readonly Command[] = [
  command<RunOptions>(
    "ingest",
    "refresh metadata for this run's symbols and merge it into the catalog (the default)",
    HELP,
    parseCli,
    runIngest,
  ),
  command<ShowOptions>(
    "show",
    "read the catalog: current rows, rows as of a time, history, what changed since",
    SHOW_HELP,
    parseShowCli,
    runShowCommand,
  ),
  command<StatusOptions>(
    "status",
    "what the catalog holds, its last runs, and when each symbol was last checked (read-only)",
    STATUS_HELP,
    parseStatusCli,
    runStatusCommand,
  ),
  command<ProbeOptions>(
    "probe",
    "fetch the same symbols through /symbol and /scan and compare them field by field (read-only)",
    PROBE_HELP,
    parseProbe,
    runProbeCommand,
  ),
];

/** What `meta-ingest --help` prints: the commands, then the default command's help. */
export function topLevelHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length), "help".length);
  return [
    "meta-ingest COMMAND [options]; with no COMMAND, ingest. Commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    `  ${"help".padEnd(width)}  this help; help COMMAND: that command's options`,
    "Every command takes:",
    ROOT_HELP,
    "  -h, --help               help (meta-ingest COMMAND --help: that command's)",
    "  -V, --version            the version",
    "",
    HELP,
  ].join("\n");
}

/** A parsed command line, ready to run. */
export interface Invocation {
  /** The command it runs. */
  command: string;
  /** `--root DIR` as given: the folder to run in (lib/fs/paths.ts `enterRoot`). */
  root?: string;
  /** Runs it; resolves to the exit code. */
  run(): Promise<number>;
}

function printed(command: string, text: string): Invocation {
  return {
    command,
    run: () => {
      console.log(text);
      return Promise.resolve(0);
    },
  };
}

function usage(message: string, help = "meta-ingest --help"): IngestError {
  return new IngestError("usage", message, `run ${help} for usage`);
}

/** The words before `--` (where the flags every command shares are read). */
function flagWords(args: readonly string[]): readonly string[] {
  const end = args.indexOf("--");
  return end === -1 ? args : args.slice(0, end);
}

/** Takes `--root DIR` (or `--root=DIR`; the last one given) out of `args`, before any `--`. */
function takeRoot(args: readonly string[]): { root?: string; rest: string[] } {
  const rest: string[] = [];
  let root: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      rest.push(...args.slice(i));
      break;
    }
    if (arg !== "--root" && !arg.startsWith("--root=")) {
      rest.push(arg);
      continue;
    }
    const value = arg === "--root" ? args[++i] : arg.slice("--root=".length);
    if (value === undefined || value === "" || (value.startsWith("--") && value.length > 2)) {
      throw usage("--root needs a folder");
    }
    root = value; // given twice, the last wins, as for every flag
  }
  return { root, rest };
}

function unknownCommand(word: string): IngestError {
  const names = [...COMMANDS.map((c) => c.name), "help"];
  const near = nearest(word, names);
  const symbolLike = /^[A-Za-z0-9_]+:\S+$/.test(word);
  const suggestion = near
    ? `; did you mean ${near}?`
    : symbolLike
    ? `; did you mean --symbols ${word} (or show ${word})?`
    : "";
  return new IngestError(
    "usage",
    `unknown command "${word}"${suggestion}`,
    `commands: ${names.join(", ")}; run meta-ingest --help for usage`,
  );
}

/**
 * Parses a whole command line; see the module doc.
 *
 * @example
 * ```ts
 * import { parseCommandLine } from "./commands.ts";
 * parseCommandLine(["--from-catalog"], {}).command;         // "ingest"
 * parseCommandLine(["ingest", "--from-catalog"], {}).command; // "ingest"
 * parseCommandLine(["help", "show"], {}).command;           // "show"
 * ```
 */
export function parseCommandLine(args: readonly string[], env: CliEnv): Invocation {
  const { root, rest: words } = takeRoot(args);
  const [word, ...rest] = words;
  if (word === "help") {
    if (rest.length > 1) throw usage(`help takes one command, got ${rest.length}`);
    if (rest.length === 0) return printed("help", topLevelHelp());
    const wanted = COMMANDS.find((c) => c.name === rest[0]);
    if (!wanted) throw unknownCommand(rest[0]);
    return printed(wanted.name, wanted.help);
  }
  let chosen = COMMANDS[0];
  let commandWords = words;
  const named = COMMANDS.find((c) => c.name === word);
  if (named) {
    chosen = named;
    commandWords = rest;
  } else if (word !== undefined && !word.startsWith("-")) {
    throw unknownCommand(word);
  }
  // Help and version win over everything else on the line.
  const flags = flagWords(commandWords);
  if (flags.includes("--help") || flags.includes("-h")) {
    return printed(chosen.name, named ? chosen.help : topLevelHelp());
  }
  if (flags.includes("--version") || flags.includes("-V")) {
    return printed(chosen.name, `${TOOL_NAME} ${VERSION}`);
  }
  const parsed = chosen.parse(commandWords, env);
  switch (parsed.kind) {
    case "help":
      return printed(chosen.name, named ? chosen.help : topLevelHelp());
    case "version":
      return printed(chosen.name, `${TOOL_NAME} ${VERSION}`);
    case "run":
      return { command: chosen.name, root, run: () => chosen.run(parsed.options, env) };
  }
}

/** The `--catalog-path` a command line names, read loosely (for a usage error's report). */
function catalogPathGiven(args: readonly string[]): string {
  const words = flagWords(args);
  for (let i = words.length - 1; i >= 0; i--) {
    if (words[i].startsWith("--catalog-path=")) return words[i].slice("--catalog-path=".length);
    if (words[i] === "--catalog-path" && words[i + 1] !== undefined) return words[i + 1];
  }
  return DEFAULTS.catalogPath;
}

/** True when the line is an ingest (bare or named) asking for `--json`. */
function ingestWithJson(args: readonly string[]): boolean {
  const words = flagWords(args);
  if (!words.includes("--json")) return false;
  const [first] = takeRootLoosely(words);
  return first === undefined || first.startsWith("-") || first === "ingest";
}

/** `args` without `--root DIR` pairs, for a line that may not parse. */
function takeRootLoosely(words: readonly string[]): string[] {
  const rest: string[] = [];
  for (let i = 0; i < words.length; i++) {
    if (words[i] === "--root") i++;
    else if (!words[i].startsWith("--root=")) rest.push(words[i]);
  }
  return rest;
}

/**
 * Parses and runs a command line, answering the process's exit code; see
 * the module doc. This is all `main.ts` does.
 *
 * @example
 * ```ts
 * import { runCommandLine } from "./commands.ts";
 * const code = await runCommandLine(["--version"], {}); // prints "meta-ingest 0.1.0"; 0
 * ```
 */
export async function runCommandLine(args: readonly string[], env: CliEnv): Promise<number> {
  let invocation: Invocation;
  try {
    invocation = parseCommandLine(args, env);
    if (invocation.root !== undefined) enterRoot(invocation.root);
  } catch (err) {
    if (!(err instanceof IngestError && err.kind === "usage")) throw err;
    stderrLogger({ quiet: false }).error(describeError(err));
    if (ingestWithJson(args)) {
      // Every --json ingest prints a report, a refused command line included.
      const report = emptyReport(catalogPathGiven(args), flagWords(args).includes("--dry-run"));
      report.exit_code = 2;
      report.error = describeError(err);
      finishReport(report);
      console.log(JSON.stringify(report));
    }
    return 2;
  }
  return await invocation.run();
}
