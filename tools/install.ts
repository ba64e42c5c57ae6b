/**
 * `make install` / `make uninstall`: a `meta-ingest` command in PREFIX/bin
 * (default ~/.local/bin) that runs this checkout's main.ts from any folder,
 * without the compiled binary.
 *
 * The command is a small POSIX sh launcher, written with everything baked in:
 * - the pinned Deno (tools/deno, which installs it from npm when missing) and
 *   this checkout's deno.json, main.ts and node_modules;
 * - deno.json's permission sets as `--allow-*` flags (tools/permissions.ts,
 *   `run` mode): read and write stay `.`, so they name the folder the
 *   launcher starts Deno in, and DuckDB's addon paths are absolute;
 * - which set: `show` for `show`, `status` and help, `ingest` for the rest,
 *   `ingest-local` (loopback too) when a base URL is given (`--base-url`, or
 *   `META_INGEST_BASE_URL`), as `make meta-ingest BASE_URL=...` picks it;
 * - `--root DIR` (anywhere before `--`): the launcher makes DIR absolute and
 *   starts Deno in it, so Deno's permissions and the tool's own path checks
 *   (lib/fs/paths.ts) name the same folder. Without it, the current folder.
 *
 * The launcher `exec`s Deno, so signals reach the tool directly. Rerun
 * `make install` after deno.json's permission sets change. The launcher is
 * POSIX sh (Linux, macOS, WSL); on Windows, run the tasks or a compiled binary.
 *
 * Usage: deno run -A tools/install.ts [--prefix DIR] [--uninstall]
 *
 * @module
 */
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { permissionFlags, type PermissionSetName, REPO_ROOT } from "./permissions.ts";

/** The name of the installed command. */
export const COMMAND_NAME = "meta-ingest";

/** A line every launcher carries, so uninstall removes only what install wrote. */
export const MARKER = "# meta-ingest launcher, written by `make install`";

/** The flags every launcher passes to `deno run` (as the tasks do). */
const RUN_FLAGS = ["-q", "--no-prompt", "--no-remote", "--cached-only", "--frozen"];

/** `text` as one sh word, whatever it holds. */
function shQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/**
 * The launcher script for this checkout; see the module doc.
 *
 * @example
 * ```ts
 * import { launcherScript } from "./install.ts";
 * const script = await launcherScript();
 * ```
 */
export async function launcherScript(): Promise<string> {
  const repo = REPO_ROOT;
  const sets: PermissionSetName[] = ["show", "ingest", "ingest-local"];
  const branches: string[] = [];
  for (const set of sets) {
    const words = [
      '"$repo/tools/deno"',
      "run",
      ...RUN_FLAGS,
      "--config",
      '"$repo/deno.json"',
      ...(await permissionFlags(set, "run")).map(shQuote),
      '"$repo/main.ts"',
      '"$@"',
    ];
    branches.push(`  ${set}) exec ${words.join(" ")} ;;`);
  }
  return `#!/bin/sh
${MARKER} from ${repo}.
# \`make uninstall\` removes it. It runs that checkout's main.ts with the pinned
# Deno under deno.json's permission sets, confined to the project root: the
# current folder, or --root DIR. Rerun \`make install\` after updating the checkout.
set -eu
repo=${shQuote(repo)}

# Which permission set, and where to start: read the words before --.
set_=ingest
command=
seen=
want_root=
flags_done=
root=
for arg do
  shift
  if [ -n "$flags_done" ]; then set -- "$@" "$arg"; continue; fi
  if [ -n "$want_root" ]; then
    want_root=
    # --root DIR, made absolute before Deno starts in it (the tool reads it again).
    if abs=$(CDPATH= cd -- "$arg" 2>/dev/null && pwd -P); then root=$abs; arg=$abs; fi
    set -- "$@" "$arg"
    continue
  fi
  case $arg in
    --) flags_done=1 ;;
    --root) want_root=1 ;;
    --root=*)
      if abs=$(CDPATH= cd -- "\${arg#--root=}" 2>/dev/null && pwd -P); then
        root=$abs
        arg="--root=$abs"
      fi
      ;;
    --base-url | --base-url=*) set_=ingest-local ;;
    -h | --help | -V | --version) command=\${command:-help} ;;
    -*) ;;
    *) if [ -z "$seen" ]; then command=$arg; fi ;;
  esac
  case $arg in --root | --root=*) ;; *) seen=1 ;; esac
  set -- "$@" "$arg"
done
if [ -n "\${META_INGEST_BASE_URL:-}" ] && [ "$set_" = ingest ]; then set_=ingest-local; fi
case $command in show | status | help) set_=show ;; esac
if [ -n "$root" ]; then cd -- "$root"; fi

case $set_ in
${branches.join("\n")}
esac
`;
}

async function fileText(path: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

function fail(line: string): never {
  console.error(`make install: ${line}`);
  Deno.exit(1);
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      prefix: { type: "string", default: join(Deno.env.get("HOME") ?? ".", ".local") },
      uninstall: { type: "boolean", default: false },
    },
  });
  const bin = join(resolve(values.prefix!), "bin");
  const target = join(bin, COMMAND_NAME);
  const existing = await fileText(target);
  if (existing !== null && !existing.includes(MARKER)) {
    fail(`${target} exists and was not written by make install; move it away first`);
  }
  if (values.uninstall) {
    if (existing === null) {
      console.error(`make uninstall: ${target} is not installed; nothing to do`);
    } else {
      await Deno.remove(target);
      console.error(`make uninstall: removed ${target}`);
    }
    Deno.exit(0);
  }
  await Deno.mkdir(bin, { recursive: true });
  // Written beside it, then renamed: a run starting meanwhile sees the old or the new.
  const temp = `${target}.${Deno.pid}.tmp`;
  await Deno.writeTextFile(temp, await launcherScript(), { mode: 0o755 });
  await Deno.chmod(temp, 0o755);
  await Deno.rename(temp, target);
  console.error(`make install: installed ${target} (runs ${REPO_ROOT}/main.ts)`);
  const path = (Deno.env.get("PATH") ?? "").split(":");
  if (!path.includes(bin)) {
    console.error(`make install: ${bin} is not on PATH; add it, or call ${target}`);
  }
}
