/**
 * The README's first screen works as written: its offline quick start runs
 * (the demo, then reading the catalog back and its status from the project
 * root), and every command of its "use it" block names a real make target
 * or parses as a command line.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { parseCommandLine } from "../lib/commands.ts";
import { REPO_ROOT } from "../tools/permissions.ts";

const firstScreen = (await Deno.readTextFile(join(REPO_ROOT, "README.md")))
  .split("\n").slice(0, 60).join("\n");
const blocks = [...firstScreen.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) =>
  m[1].split("\n").map((l) => l.replace(/\s+#.*$/, "").trim()).filter((l) => l !== "")
);

Deno.test("the first 60 lines hold the offline quick start and the everyday commands", () => {
  assert.ok(blocks.length >= 3, `${blocks.length} shell blocks`);
  assert.equal(blocks[0][0], "make demo", "the offline demo comes first");
});

Deno.test({
  name: "README quick start: make demo, then show and status from the project root, all exit 0",
  async fn() {
    for (const line of blocks[0]) {
      const result = await new Deno.Command("bash", {
        args: ["-c", line],
        cwd: REPO_ROOT,
        env: { NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const out = new TextDecoder().decode(result.stdout) +
        new TextDecoder().decode(result.stderr);
      assert.equal(result.code, 0, `${line}\n${out}`);
      if (line.includes("meta-show") && !line.includes("--history")) {
        assert.match(out, /NASDAQ:AAPL .*stock/, line);
        assert.match(out, /BINANCE:BTCUSDT .*spot/, line);
      }
      if (line.includes("--history")) assert.match(out, /first version/, line);
      if (line.includes("meta-status")) assert.match(out, /last run: .*exit 0/, line);
    }
  },
});

Deno.test("README's everyday commands: real make targets, and command lines that parse", async () => {
  const help = new TextDecoder().decode(
    (await new Deno.Command("make", { args: ["help"], cwd: REPO_ROOT, stdout: "piped" }).output())
      .stdout,
  );
  for (const line of blocks.slice(1).flat()) {
    const words = line.replace(/\s*\|\|.*$/, "").split(/\s+/);
    if (words[0] === "make") {
      assert.match(help, new RegExp(`^\\s+${words[1]}\\b`, "m"), `make ${words[1]} exists`);
    } else {
      assert.equal(words[0], "meta-ingest", line);
      assert.doesNotThrow(() => parseCommandLine(words.slice(1), {}), line);
    }
  }
});
