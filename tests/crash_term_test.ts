/**
 * Crash safety with SIGTERM at chosen moments (testing/torture.ts): the
 * lock is always released, no temp file is left, the catalog is the old or
 * the new version, and the exit code and the report say which.
 */
import { type Cli, cliTest } from "../testing/cli.ts";
import { torture } from "../testing/torture.ts";

cliTest(
  "SIGTERM at chosen moments: the catalog is always old or new, the next run proceeds",
  (cli: Cli) => torture(cli, "SIGTERM"),
);
