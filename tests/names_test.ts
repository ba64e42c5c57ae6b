/**
 * Names that mislead: no module-level declaration in lib/ shadows a global
 * of the runtime (a `const crypto` hides Web Crypto from the whole module).
 */
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { REPO_ROOT } from "../tools/permissions.ts";

async function* sources(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) yield* sources(path);
    else if (entry.name.endsWith(".ts")) yield path;
  }
}

Deno.test("no module-level name in lib/ shadows a runtime global", async () => {
  const shadowing: string[] = [];
  for await (const file of sources(join(REPO_ROOT, "lib"))) {
    const text = await Deno.readTextFile(file);
    for (
      const match of text.matchAll(/^(?:export\s+)?(?:const|let|var|function|class)\s+(\w+)/gm)
    ) {
      if (match[1] in globalThis) shadowing.push(`${relative(REPO_ROOT, file)}: ${match[1]}`);
    }
  }
  assert.deepEqual(shadowing, []);
});
