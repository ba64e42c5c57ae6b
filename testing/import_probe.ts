/**
 * Tries to import each module named on the command line and prints, as JSON,
 * whether it loaded or why not. Run under the production task's flags by
 * tests/supply_chain_test.ts to show that a run cannot pull in code that is
 * not already in the lockfile and the local cache.
 *
 * Usage: import_probe.ts SPECIFIER...
 *
 * @module
 */
const results: Record<string, string> = {};
for (const specifier of Deno.args) {
  try {
    await import(specifier);
    results[specifier] = "loaded";
  } catch (err) {
    results[specifier] = `refused: ${(err as Error).message.split("\n")[0]}`;
  }
}
console.log(JSON.stringify(results));
