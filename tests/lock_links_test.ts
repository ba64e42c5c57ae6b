/**
 * A lock path hard-linked to another file (issue 13 item 1), as a user runs
 * the CLI: refused with a clear error, and the linked file never written.
 */
import assert from "node:assert/strict";
import { type Cli, cliTest } from "../testing/cli.ts";
import { tempProject } from "../testing/tmp.ts";
import { startMirror } from "../testing/mirror.ts";

cliTest(
  "a lock hard-linked to a file outside the project: refused, the file untouched",
  async (cli: Cli) => {
    await using project = await tempProject();
    await using outside = await tempProject();
    await using mirror = startMirror();
    const victim = await outside.write("victim.txt", "IMPORTANT\n");
    await Deno.mkdir(`${project.dir}/data/hl`, { recursive: true });
    await Deno.link(victim, `${project.dir}/data/hl/symbols.parquet.lock`);
    const result = await cli.run(
      [
        "--symbols",
        "NASDAQ:AAPL",
        "--catalog-path",
        "data/hl/symbols.parquet",
        "--base-url",
        mirror.url,
        "--json",
      ],
      { cwd: project.dir },
    );
    assert.equal(result.code, 1, result.stderr);
    assert.match(
      result.stderr,
      /error: lock path .*symbols\.parquet\.lock is a file with 2 hard links/,
    );
    assert.doesNotMatch(result.stderr, /took over/);
    assert.match(JSON.parse(result.stdout).error, /hard links/);
    assert.equal(await Deno.readTextFile(victim), "IMPORTANT\n");
  },
);

cliTest(
  "a lock hard-linked to the catalog itself: refused, the catalog untouched",
  async (cli: Cli) => {
    await using project = await tempProject();
    await using mirror = startMirror();
    const args = ["--symbols", "NASDAQ:AAPL", "--base-url", mirror.url];
    assert.equal((await cli.run(args, { cwd: project.dir })).code, 0);
    const catalog = `${project.dir}/data/lakehouse/symbols.parquet`;
    const bytes = await Deno.readFile(catalog);
    await Deno.link(catalog, `${catalog}.lock`);
    const result = await cli.run(["--symbols", "NYSE:KO", "--base-url", mirror.url], {
      cwd: project.dir,
    });
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /lock path .* is a file with 2 hard links/);
    assert.deepEqual(await Deno.readFile(catalog), bytes);
  },
);
