/**
 * On a terminal: `deno task ingest:local` never stops to ask for a
 * permission (it would hang a pipeline), and progress is one live line.
 * Runs the task under a pseudo-terminal with util-linux `script`.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT } from "../tools/permissions.ts";
import { startMirror } from "../testing/mirror.ts";

const hasScript = await new Deno.Command("script", {
  args: ["--version"],
  stdout: "null",
  stderr: "null",
})
  .output().then((o) => o.success, () => false);

Deno.test({
  name: `on a terminal: no permission prompt, and a live progress line${
    hasScript ? "" : " [skipped: util-linux script(1) is not installed]"
  }`,
  ignore: !hasScript,
  async fn() {
    await using mirror = startMirror({ latencyMs: 300 });
    await Deno.mkdir(join(REPO_ROOT, ".scratch"), { recursive: true });
    const scratch = await Deno.makeTempDir({ dir: join(REPO_ROOT, ".scratch"), prefix: "tty-" });
    const typescript = `${scratch}/typescript`;
    try {
      const catalog = `${scratch.slice(REPO_ROOT.length + 1)}/symbols.parquet`;
      const command = [
        join(REPO_ROOT, "tools/deno"),
        "task",
        "-q",
        "ingest:local",
        "--symbols",
        "NASDAQ:AAPL,NASDAQ:MSFT,NYSE:KO,AMEX:SPY,NYSE:JPM,NASDAQ:NVDA,NASDAQ:TSLA",
        "--base-url",
        mirror.url,
        "--catalog-path",
        catalog,
      ].join(" ");
      const run = new Deno.Command("timeout", {
        args: ["20", "script", "-qfec", command, typescript],
        cwd: REPO_ROOT,
        stdin: "null",
        stdout: "null",
        stderr: "null",
      });
      const status = await run.output();
      const screen = await Deno.readTextFile(typescript);
      assert.doesNotMatch(screen, /Deno requests|Allow\?/, "no permission prompt");
      assert.equal(status.code, 0, screen);
      assert.match(screen, /COMMAND_EXIT_CODE="0"/);
      assert.match(
        screen,
        // deno-lint-ignore no-control-regex
        /\r\x1b\[2Kfetching \d\/7 \(\d+%\)/,
        "the progress line is redrawn in place",
      );
      assert.match(screen, /meta-ingest: requested 7, valid 7, invalid 0/);
    } finally {
      await Deno.remove(scratch, { recursive: true });
    }
  },
});
