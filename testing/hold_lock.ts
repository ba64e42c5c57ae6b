/**
 * A child process for lock tests: takes the lock at Deno.args[0], prints
 * "acquired <pid>", holds it for Deno.args[1] ms, then releases it. With a
 * log file (Deno.args[2]) it repeats Deno.args[3] times, appending
 * "enter <pid>" and "exit <pid>" lines around each hold.
 *
 * @module
 */
import { acquireLock } from "../lib/fs/lock.ts";

const [path, holdMs = "0", log, rounds = "1"] = Deno.args;
for (let round = 0; round < Number(rounds); round++) {
  const lock = await acquireLock(path, { timeoutMs: 60_000, leaseMs: 60_000 });
  if (log) await Deno.writeTextFile(log, `enter ${Deno.pid}\n`, { append: true });
  else console.log(`acquired ${Deno.pid}`);
  await new Promise((resolve) => setTimeout(resolve, Number(holdMs)));
  if (log) await Deno.writeTextFile(log, `exit ${Deno.pid}\n`, { append: true });
  await lock.release();
}
