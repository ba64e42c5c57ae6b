/**
 * The production tasks cannot pull in code at run time (issue 13 item 10):
 * `--no-remote --cached-only --frozen` refuse remote modules, packages that
 * are not in the cache, and any change to deno.lock, without touching the
 * network.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { readTask, REPO_ROOT } from "../tools/permissions.ts";

for (const task of ["ingest", "ingest:local"]) {
  Deno.test(`'deno task ${task}' imports only what deno.lock and the cache hold, and asks no server`, async () => {
    const { command } = await readTask(task);
    for (const flag of ["--no-remote", "--cached-only", "--frozen"]) {
      assert.ok(command.split(" ").includes(flag), `${task} lacks ${flag}: ${command}`);
    }
    // A loopback server stands in for every registry: any connection to it
    // means the run tried to fetch code.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const registry = `http://127.0.0.1:${listener.addr.port}/`;
    let connections = 0;
    const accepting = (async () => {
      for await (const conn of listener) {
        connections++;
        conn.close();
      }
    })();
    const lockBefore = await Deno.readFile(join(REPO_ROOT, "deno.lock"));
    // The task's own command line, with the probe in place of main.ts.
    const [deno, ...args] = command.split(" ");
    assert.equal(deno, "deno");
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        ...args.map((arg) => arg === "main.ts" ? join(REPO_ROOT, "testing/import_probe.ts") : arg),
        `${registry}mod.ts`,
        "npm:is-odd@3.0.1",
        "jsr:@std/fmt@1/colors",
        "zod",
      ],
      cwd: REPO_ROOT,
      env: { NPM_CONFIG_REGISTRY: registry, JSR_URL: registry },
      stdout: "piped",
      stderr: "piped",
    }).output();
    listener.close();
    await accepting.catch(() => {});
    assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
    const results = JSON.parse(new TextDecoder().decode(output.stdout));
    assert.match(results[`${registry}mod.ts`], /^refused: .*--no-remote/);
    assert.match(results["npm:is-odd@3.0.1"], /^refused/);
    assert.match(results["jsr:@std/fmt@1/colors"], /^refused/);
    assert.equal(results.zod, "loaded", "what deno.lock pins still loads");
    assert.equal(connections, 0, "no registry was asked");
    assert.deepEqual(await Deno.readFile(join(REPO_ROOT, "deno.lock")), lockBefore);
  });
}
