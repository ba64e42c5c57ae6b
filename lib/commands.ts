/**
 * The subcommands: `meta-ingest [ingest] ...`, `meta-ingest show ...` and
 * `meta-ingest probe ...`, each a parser and a runner.
 *
 * Promises: {@linkcode parseCommandLine} picks the command from the first
 * word (no command word means `ingest`, so every bare ingest command line
 * means what it always meant), parses the rest with that command's parser
 * and returns something to run, or throws an {@linkcode IngestError} of kind
 * `usage`. Running returns the process exit code; nothing here exits.
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
import { IngestError } from "./core/errors.ts";
import { TOOL_NAME, VERSION } from "./core/version.ts";
import { type CliEnv, HELP, parseCli, type RunOptions } from "./input/cli.ts";
import { parseProbeCli, PROBE_HELP, type ProbeOptions } from "./input/probe_cli.ts";
import { parseShowCli, SHOW_HELP, type ShowOptions } from "./input/show_cli.ts";
import { parseStatusCli, STATUS_HELP, type StatusOptions } from "./input/status_cli.ts";
import { stderrLogger } from "./report/log.ts";
import type { RunReport } from "./report/report.ts";

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
  const [{ runJob }, { emptyReport, formatSummary, signalExitCode }] = await Promise.all([
    import("./job.ts"),
    import("./report/report.ts"),
  ]);
  const log = stderrLogger({ quiet: options.quiet });
  const print = (report: RunReport) => {
    // A run refused before it had targets gets one line: the error.
    if (!report.error || report.requested > 0) log.info(formatSummary(report));
    if (report.error) log.error(report.error);
    if (options.json) console.log(JSON.stringify(report));
  };

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
        print(report);
        Deno.exit(report.exit_code);
      }
      log.warn(`${name} received: stopping (send it again to exit at once)`);
      interrupted.abort(name);
    });
  }

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
  // A signal ends the probe: the report's exit_code says so, and is the process's.
  const log = stderrLogger({ quiet: options.quiet });
  const interrupted = new AbortController();
  for (const name of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(name, () => {
      if (interrupted.signal.aborted) Deno.exit(signalExitCode(name));
      interrupted.abort(name);
    });
  }
  const report = await runProbe(options, { log, env, signal: interrupted.signal });
  if (options.json) console.log(JSON.stringify(report));
  else console.log(formatProbe(report));
  if (report.error) log.error(report.error);
  return report.exit_code;
}

/** The probe parser in the shape every command's parser has. */
function parseProbe(args: readonly string[], env: CliEnv): ParsedCommand<ProbeOptions> {
  const parsed = parseProbeCli(args, env);
  return parsed.kind === "help" ? parsed : { kind: "run", options: parsed.options };
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
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    "meta-ingest COMMAND [options]; with no COMMAND, ingest. Commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "Run meta-ingest COMMAND --help for a command's options.",
    "",
    HELP,
  ].join("\n");
}

/** A parsed command line, ready to run. */
export interface Invocation {
  /** The command it runs. */
  command: string;
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

/**
 * Parses a whole command line; see the module doc.
 *
 * @example
 * ```ts
 * import { parseCommandLine } from "./commands.ts";
 * parseCommandLine(["--from-catalog"], {}).command;         // "ingest"
 * parseCommandLine(["ingest", "--from-catalog"], {}).command; // "ingest"
 * ```
 */
export function parseCommandLine(args: readonly string[], env: CliEnv): Invocation {
  const [word, ...rest] = args;
  let chosen = COMMANDS[0];
  let words = args;
  const named = COMMANDS.find((c) => c.name === word);
  if (named) {
    chosen = named;
    words = rest;
  } else if (word !== undefined && !word.startsWith("-")) {
    throw new IngestError(
      "usage",
      `unknown command "${word}"; commands: ${COMMANDS.map((c) => c.name).join(", ")}`,
      "run meta-ingest --help for usage",
    );
  }
  const parsed = chosen.parse(words, env);
  switch (parsed.kind) {
    case "help":
      return printed(chosen.name, named ? chosen.help : topLevelHelp());
    case "version":
      return printed(chosen.name, `${TOOL_NAME} ${VERSION}`);
    case "run":
      return { command: chosen.name, run: () => chosen.run(parsed.options, env) };
  }
}
