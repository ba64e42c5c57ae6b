/**
 * Tries privileged operations and prints, as JSON, which ones Deno refused.
 * Run under a permission set by tests/permissions_test.ts to show that the
 * sandbox itself (not only our own checks) holds.
 *
 * Usage: probe.ts '{"read": "/etc/hostname", "env": "HOME", ...}'
 *
 * @module
 */
const wanted: Record<string, string> = JSON.parse(Deno.args[0] ?? "{}");
const results: Record<string, string> = {};

async function attempt(name: string, fn: () => Promise<unknown> | unknown) {
  try {
    await fn();
    results[name] = "allowed";
  } catch (err) {
    results[name] = err instanceof Deno.errors.NotCapable
      ? "refused"
      : `error: ${(err as Error).name}`;
  }
}

for (const [name, target] of Object.entries(wanted)) {
  const [kind] = name.split(":");
  switch (kind) {
    case "read":
      await attempt(name, () => Deno.readFile(target));
      break;
    case "write":
      await attempt(name, () => Deno.writeTextFile(target, "probe"));
      break;
    case "env":
      await attempt(name, () => Deno.env.get(target));
      break;
    case "net":
      await attempt(name, async () => {
        const conn = await Deno.connect({ hostname: target, port: 9 });
        conn.close();
      });
      break;
    case "run":
      await attempt(name, () => new Deno.Command(target).output());
      break;
    case "ffi":
      await attempt(name, () => Deno.dlopen(target, {}));
      break;
    case "sys":
      await attempt(name, () => Deno.osRelease());
      break;
  }
}
console.log(JSON.stringify(results));
