/**
 * The CI cron refresh calls the Makefile with the pinned Deno, uploads what
 * matters, and maps exit codes as promised (1 fails, 3 warns).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { parse } from "yaml";
import { z } from "zod";
import { REPO_ROOT } from "../tools/permissions.ts";
import { tempProject } from "../testing/tmp.ts";

const step = z.looseObject({
  name: z.string().optional(),
  id: z.string().optional(),
  uses: z.string().optional(),
  run: z.string().optional(),
  if: z.string().optional(),
  with: z.record(z.string(), z.unknown()).optional(),
});
const workflow = z.looseObject({
  name: z.string(),
  on: z.looseObject({
    schedule: z.array(z.object({ cron: z.string() })).min(1),
    workflow_dispatch: z.unknown(),
  }),
  jobs: z.record(
    z.string(),
    z.looseObject({ env: z.record(z.string(), z.string()).optional(), steps: z.array(step) }),
  ),
});

const text = await Deno.readTextFile(join(REPO_ROOT, ".github/workflows/meta-refresh.yml"));
const parsed = workflow.parse(parse(text));
const [job] = Object.values(parsed.jobs);
const pinned = /^DENO_VERSION=(\S+)$/m.exec(await Deno.readTextFile(join(REPO_ROOT, "tools/deno")))
  ?.[1];

Deno.test("the workflow runs nightly and on demand", () => {
  assert.match(parsed.on.schedule[0].cron, /^\d+ \d+ \* \* \*$/);
  assert.ok("workflow_dispatch" in parsed.on);
});

Deno.test("it installs the pinned Deno and checks the version", () => {
  assert.equal(job.env?.DENO_VERSION, pinned);
  const install = job.steps.find((s) => s.run?.includes("make deps"));
  assert.ok(install, "a step installs Deno through the Makefile");
  assert.match(install.run!, /tools\/deno --version/);
});

Deno.test("it refreshes through the Makefile target, with a JSON report", () => {
  const refresh = job.steps.find((s) => s.id === "refresh");
  assert.ok(refresh?.run);
  assert.match(refresh.run, /make meta-ingest .*REPORT=/);
  assert.doesNotMatch(refresh.run, /CANDIDATES_FILE/, "a full refresh (--from-catalog)");
});

Deno.test("exit 3 passes with a visible warning; anything else non-zero fails", () => {
  const run = job.steps.find((s) => s.id === "refresh")!.run!;
  assert.match(run, /set \+e/);
  assert.match(
    run,
    /if \[ "\$code" -eq 3 \]; then\s+echo "::warning[^"]*"\s+exit 0\s+fi\s+exit "\$code"/,
  );
  assert.match(
    run,
    /require\('\.\/\$REPORT'\)\.exit_code/,
    "the tool's code is read from the report",
  );
});

Deno.test("the catalog and the JSON report are uploaded as artifacts, even on failure", () => {
  const upload = job.steps.find((s) => s.uses?.startsWith("actions/upload-artifact@"));
  assert.ok(upload);
  assert.equal(upload.if, "always()");
  const paths = String(upload.with?.path).trim().split("\n");
  assert.ok(paths.includes("data/lakehouse/symbols.parquet"));
  assert.ok(paths.includes("meta-report.json"));
  assert.equal(job.env?.REPORT, "meta-report.json");
});

Deno.test("the refresh step's shell maps the tool's exit code (run with a stub make)", async () => {
  const run = job.steps.find((s) => s.id === "refresh")!.run!.replaceAll(/\$\{\{[^}]*\}\}/g, "3");
  // make itself exits 2 whenever its recipe fails; the report says why.
  const cases: [number, number | null, number, boolean][] = [
    [0, 0, 0, false],
    [2, 3, 0, true],
    [2, 1, 1, false],
    [2, null, 2, false],
  ];
  for (const [makeCode, toolCode, stepCode, warned] of cases) {
    await using dir = await tempProject("meta-ingest-wf-");
    const report = toolCode === null ? "" : JSON.stringify({ exit_code: toolCode });
    const result = await new Deno.Command("bash", {
      args: [
        "-e",
        "-c",
        `make() { printf '%s' '${report}' > "$REPORT"; return ${makeCode}; }\n${run}`,
      ],
      cwd: dir.dir,
      env: { GITHUB_OUTPUT: `${dir.dir}/out`, CATALOG_PATH: "c", REPORT: "meta-report.json" },
      stdout: "piped",
    }).output();
    const stdout = new TextDecoder().decode(result.stdout);
    const label = `make ${makeCode}, tool ${toolCode}`;
    assert.equal(result.code, stepCode, label);
    assert.equal(stdout.includes("::warning"), warned, label);
    assert.equal(
      await Deno.readTextFile(`${dir.dir}/out`),
      `exit_code=${toolCode ?? makeCode}\n`,
      label,
    );
  }
});
