/**
 * `make check` looks at the project's code, not its data: candidates JSON
 * under run/ (the README's suggested place) or data under data/ cannot make
 * `deno fmt --check` or `deno lint` fail. Checked on a copy of deno.json's
 * fmt and lint settings in a scratch folder, so the test sees only its files.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT } from "../tools/permissions.ts";
import { tempProject } from "../testing/tmp.ts";

async function deno(args: string[], cwd: string) {
  const output = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: output.code, text: new TextDecoder().decode(output.stderr) };
}

Deno.test("deno fmt and deno lint check code, never run/ or data/", async () => {
  const config = JSON.parse(await Deno.readTextFile(join(REPO_ROOT, "deno.json")));
  await using project = await tempProject();
  await project.write(
    "deno.json",
    JSON.stringify({ fmt: config.fmt, lint: config.lint }, null, 2) + "\n",
  );
  await project.write("lib/ok.ts", "export const answer = 42;\n");
  await project.write("run/candidates.json", '[ "NASDAQ:AAPL",\n     "NYSE:KO"]');
  await project.write("data/lakehouse/notes.json", '{"a":1,\n"b":    2}');
  await project.write("run/helper.ts", "export   const x=1");
  const fmt = await deno(["fmt", "--check"], project.dir);
  assert.equal(fmt.code, 0, fmt.text);
  const lint = await deno(["lint"], project.dir);
  assert.equal(lint.code, 0, lint.text);
  // The same check does fail on code, so it is looking.
  await project.write("lib/bad.ts", "export   const x=1");
  const bad = await deno(["fmt", "--check"], project.dir);
  assert.notEqual(bad.code, 0);
  assert.match(bad.text, /bad\.ts/);
});

Deno.test("the repository itself passes deno fmt --check and deno lint (make check's cheap half)", async () => {
  // An unused import once reached main because only `make check` linted.
  const fmt = await deno(["fmt", "--check"], REPO_ROOT);
  assert.equal(fmt.code, 0, fmt.text);
  const lint = await deno(["lint"], REPO_ROOT);
  assert.equal(lint.code, 0, lint.text);
});
