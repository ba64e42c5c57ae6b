import assert from "node:assert/strict";
import { join } from "node:path";
import { VERSION } from "../lib/core/version.ts";
import { REPO_ROOT } from "../tools/permissions.ts";

Deno.test("lib/version.ts matches deno.json's version", async () => {
  const config = JSON.parse(await Deno.readTextFile(join(REPO_ROOT, "deno.json")));
  assert.equal(VERSION, config.version);
});

Deno.test("the pinned Deno is the one running the tests and the one tools/deno installs", async () => {
  const script = await Deno.readTextFile(join(REPO_ROOT, "tools/deno"));
  const pinned = /^DENO_VERSION=(\S+)$/m.exec(script)?.[1];
  assert.equal(pinned, "2.9.6");
  assert.equal(Deno.version.deno, pinned);
});
