/**
 * Runs meta-ingest as a child process, the way users do, under the exact
 * permission set the tasks and the compiled binary get (tools/permissions.ts).
 *
 * {@linkcode cliTest} registers a test once per runner: `deno run main.ts`
 * always, and the compiled binary from `make dist` when it exists. When it
 * does not, the compiled variant is registered as ignored with a name that
 * says so, so the test output shows plainly that it was skipped.
 *
 * @module
 */
import { join } from "node:path";
import { permissionFlags, type PermissionSetName, REPO_ROOT } from "../tools/permissions.ts";

/** What a finished CLI process left. */
export interface CliResult {
  code: number;
  signal: Deno.Signal | null;
  stdout: string;
  stderr: string;
}

/** Options for one CLI invocation. */
export interface CliOptions {
  /** Working directory: the project root the tool sees. */
  cwd: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Permission set; `ingest-local` (loopback allowed) by default. */
  set?: PermissionSetName;
  /**
   * What the process reads on stdin (a pipe, closed once written); no stdin
   * (`null`) when absent.
   */
  stdin?: string | Uint8Array;
}

/** A way of starting the CLI. */
export interface CliRunner {
  /** Short name shown in test names. */
  name: string;
  /** Builds the command for the given arguments. */
  command(args: string[], options: CliOptions): Promise<Deno.Command>;
  /** Why this runner is not available, or null. */
  unavailable: string | null;
}

function baseEnv(extra: Record<string, string> | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of ["PATH", "HOME", "DENO_DIR", "TMPDIR", "XDG_CACHE_HOME"]) {
    const value = Deno.env.get(key);
    if (value !== undefined) env[key] = value;
  }
  return { ...env, ...extra };
}

/** `deno run` of main.ts with flags derived from deno.json's permission set. */
export const denoRunner: CliRunner = {
  name: "deno run",
  unavailable: null,
  async command(args, options) {
    const flags = await permissionFlags(options.set ?? "ingest-local", "run");
    return new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-q",
        "--no-prompt",
        "--no-remote",
        "--cached-only",
        "--frozen",
        "--config",
        join(REPO_ROOT, "deno.json"),
        ...flags,
        join(REPO_ROOT, "main.ts"),
        ...args,
      ],
      cwd: options.cwd,
      env: baseEnv(options.env),
      clearEnv: true,
      stdin: options.stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    });
  },
};

const BINARIES: Record<PermissionSetName, string> = {
  "ingest": "meta-ingest",
  "ingest-local": "meta-ingest-local",
  "show": "meta-ingest-show",
};

function binaryPath(set: PermissionSetName): string {
  return join(REPO_ROOT, "dist", BINARIES[set]);
}

function compiledUnavailable(): string | null {
  try {
    Deno.statSync(binaryPath("ingest-local"));
    return null;
  } catch {
    return "dist/meta-ingest-local not built (make dist)";
  }
}

/** The compiled binaries from `make dist`. */
export const compiledRunner: CliRunner = {
  name: "compiled",
  unavailable: compiledUnavailable(),
  command(args, options) {
    const set = options.set ?? "ingest-local";
    return Promise.resolve(
      new Deno.Command(binaryPath(set), {
        // dist/meta-ingest-show has its `show` built in.
        args: set === "show" && args[0] === "show" ? args.slice(1) : args,
        cwd: options.cwd,
        env: baseEnv(options.env),
        clearEnv: true,
        stdin: options.stdin === undefined ? "null" : "piped",
        stdout: "piped",
        stderr: "piped",
      }),
    );
  },
};

/** Every runner, available or not. */
export const RUNNERS: readonly CliRunner[] = [denoRunner, compiledRunner];

const decoder = new TextDecoder();

/**
 * Runs the CLI to completion.
 *
 * @example
 * ```ts
 * const result = await runCli(denoRunner, ["--version"], { cwd: Deno.cwd() });
 * ```
 */
export async function runCli(
  runner: CliRunner,
  args: string[],
  options: CliOptions,
): Promise<CliResult> {
  const command = await runner.command(args, options);
  let output: Deno.CommandOutput;
  if (options.stdin === undefined) {
    output = await command.output();
  } else {
    // A real pipe from this process, as a pipeline's previous step writes it.
    const child = command.spawn();
    const input = typeof options.stdin === "string"
      ? new TextEncoder().encode(options.stdin)
      : options.stdin;
    const writer = child.stdin.getWriter();
    await writer.write(input).catch(() => {}); // the child may stop reading (the cap)
    await writer.close().catch(() => {});
    output = await child.output();
  }
  return {
    code: output.code,
    signal: output.signal,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** A CLI bound to one runner, handed to each {@linkcode cliTest}. */
export interface Cli {
  runner: CliRunner;
  run(args: string[], options: CliOptions): Promise<CliResult>;
  spawn(args: string[], options: CliOptions): Promise<Deno.ChildProcess>;
}

/**
 * Registers `fn` as a test for every runner (see the module doc). With
 * `options.skip` (a reason), every variant is registered as ignored.
 *
 * @example
 * ```ts
 * cliTest("--version prints the version", async (cli) => {
 *   const result = await cli.run(["--version"], { cwd: Deno.cwd() });
 * });
 * ```
 */
export function cliTest(
  name: string,
  fn: (cli: Cli) => Promise<void>,
  options: { skip?: string } = {},
): void {
  for (const runner of RUNNERS) {
    const skipped = options.skip ?? runner.unavailable;
    const label = skipped
      ? `${name} [${runner.name}: skipped, ${skipped}]`
      : `${name} [${runner.name}]`;
    Deno.test({
      name: label,
      ignore: skipped !== null && skipped !== undefined,
      fn: () =>
        fn({
          runner,
          run: (args, options) => runCli(runner, args, options),
          spawn: async (args, options) => (await runner.command(args, options)).spawn(),
        }),
    });
  }
}

/** The fetch endpoints a run can use (`--endpoint`). */
export const ENDPOINTS = ["symbol", "scan"] as const;

/**
 * Registers `fn` as a {@linkcode cliTest} once per endpoint: every run it
 * makes gets `META_INGEST_ENDPOINT` (unless the test sets it), so one test
 * body shows both endpoints keep the same promises. The `symbol` variant
 * keeps the plain name; `fn` is told which endpoint it runs with.
 *
 * @example
 * ```ts
 * cliBoth("an idle rerun changes nothing", async (cli) => {
 *   await cli.run(["--symbols", "NASDAQ:AAPL"], { cwd: Deno.cwd() });
 * });
 * ```
 */
export function cliBoth(
  name: string,
  fn: (cli: Cli, endpoint: (typeof ENDPOINTS)[number]) => Promise<void>,
  options: { skip?: string } = {},
): void {
  for (const endpoint of ENDPOINTS) {
    const withEndpoint = (o: CliOptions): CliOptions => ({
      ...o,
      env: { META_INGEST_ENDPOINT: endpoint, ...o.env },
    });
    cliTest(
      endpoint === "symbol" ? name : `${name} (--endpoint ${endpoint})`,
      (cli) =>
        fn({
          runner: cli.runner,
          run: (args, o) => cli.run(args, withEndpoint(o)),
          spawn: (args, o) => cli.spawn(args, withEndpoint(o)),
        }, endpoint),
      options,
    );
  }
}
