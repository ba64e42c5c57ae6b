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

Deno.test("with META_CATALOG_URI set, the catalog is the S3 object: no restore, no commit", () => {
  assert.equal(job.env?.META_CATALOG_URI, "${{ secrets.META_CATALOG_URI }}");
  for (const name of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"]) {
    assert.equal(job.env?.[name], `\${{ secrets.${name} }}`, name);
  }
  const restore = job.steps.find((s) => s.id === "restore");
  assert.equal(restore?.if, "env.META_CATALOG_URI == ''");
  const save = job.steps.find((s) => s.run?.includes("git push"));
  assert.match(save?.if ?? "", /env\.META_CATALOG_URI == ''/);
  const refresh = job.steps.find((s) => s.id === "refresh")!.run!;
  assert.match(refresh, /CATALOG_PATH="\$\{META_CATALOG_URI:-\$CATALOG_PATH\}"/);
});

Deno.test("the catalog lives on a branch, not in a cache", () => {
  assert.doesNotMatch(text, /actions\/cache/, "a cache is not a system of record");
  assert.equal(job.env?.CATALOG_BRANCH, "meta-catalog");
  const save = job.steps.find((s) => s.run?.includes("git push"));
  assert.ok(save?.if, "the save step is conditional");
  assert.match(save.if, /steps\.restore\.outcome == 'success'/);
  assert.match(save.if, /exit_code == '0' \|\| steps\.refresh\.outputs\.exit_code == '3'/);
  assert.match(text, /contents: write/);
});

/** Runs a step's shell the way Actions does (bash -e), with the job's env. */
async function runStep(id: string, cwd: string, home: string, extra: Record<string, string> = {}) {
  const script = job.steps.find((s) =>
    s.id === id || (id === "save" && s.run?.includes("git push"))
  )
    ?.run;
  assert.ok(script, `step ${id}`);
  const result = await new Deno.Command("bash", {
    args: ["-e", "-c", script],
    cwd,
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HOME: home,
      GIT_CONFIG_NOSYSTEM: "1",
      // Secrets (expressions) are unset here, as on a repository without them.
      ...Object.fromEntries(Object.entries(job.env ?? {}).filter(([, v]) => !v.includes("${{"))),
      ...extra,
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: result.code,
    out: decoder.decode(result.stdout) + decoder.decode(result.stderr),
  };
}

async function git(cwd: string, home: string, ...args: string[]): Promise<string> {
  const result = await new Deno.Command("git", {
    args: ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args],
    cwd,
    env: { HOME: home, GIT_CONFIG_NOSYSTEM: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(result.stdout);
  assert.ok(result.success, `git ${args.join(" ")}: ${new TextDecoder().decode(result.stderr)}`);
  return out;
}

/** A bare "origin" with one commit on main, and a clone of it (what actions/checkout leaves). */
async function repoPair(dir: string) {
  const home = `${dir}/home`;
  await Deno.mkdir(home);
  const origin = `${dir}/origin.git`;
  await git(dir, home, "init", "-q", "--bare", "-b", "main", origin);
  await git(dir, home, "clone", "-q", origin, `${dir}/seed`);
  await Deno.writeTextFile(`${dir}/seed/README.md`, "x\n");
  await git(`${dir}/seed`, home, "add", "README.md");
  await git(`${dir}/seed`, home, "commit", "-q", "-m", "main");
  await git(`${dir}/seed`, home, "push", "-q", "origin", "HEAD:refs/heads/main");
  await git(dir, home, "clone", "-q", origin, `${dir}/work`);
  return { home, origin, work: `${dir}/work`, seed: `${dir}/seed` };
}

Deno.test("no catalog branch: the restore step fails loudly, and nothing runs on an empty catalog", async () => {
  await using dir = await tempProject("meta-ingest-wf-");
  const { home, work } = await repoPair(dir.dir);
  const restore = await runStep("restore", work, home);
  assert.equal(restore.code, 1, restore.out);
  assert.match(
    restore.out,
    /::error title=meta-refresh: no catalog::branch meta-catalog does not exist, so there is no catalog to refresh; seed it once/,
  );
  assert.equal(await Deno.stat(`${work}/data`).then(() => true, () => false), false);
});

Deno.test("the catalog is restored from the branch, and committed back only when it changed", async () => {
  await using dir = await tempProject("meta-ingest-wf-");
  const { home, origin, work, seed } = await repoPair(dir.dir);
  // Seed the branch, as the README says.
  await git(seed, home, "checkout", "-q", "--orphan", "meta-catalog");
  await git(seed, home, "rm", "-q", "-rf", ".");
  await Deno.writeTextFile(`${seed}/symbols.parquet`, "catalog v1");
  await Deno.writeTextFile(`${seed}/exchanges.parquet`, "exchanges v1");
  await Deno.writeTextFile(`${seed}/symbols.runs.parquet`, "run log v1");
  await git(seed, home, "add", "symbols.parquet", "exchanges.parquet", "symbols.runs.parquet");
  await git(seed, home, "commit", "-q", "-m", "seed");
  await git(seed, home, "push", "-q", "origin", "meta-catalog");

  const restore = await runStep("restore", work, home);
  assert.equal(restore.code, 0, restore.out);
  assert.equal(await Deno.readTextFile(`${work}/data/lakehouse/symbols.parquet`), "catalog v1");
  assert.equal(await Deno.readTextFile(`${work}/data/lakehouse/exchanges.parquet`), "exchanges v1");
  assert.equal(
    await Deno.readTextFile(`${work}/data/lakehouse/symbols.runs.parquet`),
    "run log v1",
    "the run log, so status knows when symbols were checked",
  );

  const commits = async () =>
    (await git(origin, home, "rev-list", "--count", "meta-catalog")).trim();
  const unchanged = await runStep("save", work, home, { GITHUB_RUN_ID: "41" });
  assert.equal(unchanged.code, 0, unchanged.out);
  assert.match(unchanged.out, /the catalog is unchanged; nothing to commit/);
  assert.equal(await commits(), "1");

  await Deno.writeTextFile(`${work}/data/lakehouse/symbols.parquet`, "catalog v2");
  await Deno.writeTextFile(`${work}/data/lakehouse/symbols.runs.parquet`, "run log v2");
  const saved = await runStep("save", work, home, { GITHUB_RUN_ID: "42" });
  assert.equal(saved.code, 0, saved.out);
  assert.equal(await commits(), "2");
  assert.equal(await git(origin, home, "show", "meta-catalog:symbols.parquet"), "catalog v2");
  assert.equal(await git(origin, home, "show", "meta-catalog:symbols.runs.parquet"), "run log v2");
  assert.equal(
    await git(origin, home, "log", "-1", "--format=%s", "meta-catalog"),
    "meta-refresh: run 42\n",
  );
});
