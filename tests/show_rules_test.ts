/**
 * `meta-ingest show` keeps the catalog's rules: one notion of a change
 * (normalised as the merge normalises), every read verified against the
 * row checksum, hostile values and colliding column names handled, exact
 * numbers and times. Real catalogs on real files, read in-process.
 */
import assert from "node:assert/strict";
import { query } from "../testing/catalog.ts";
import { showInProcess, showJsonInProcess } from "../testing/show.ts";
import { tempProject } from "../testing/tmp.ts";

const CATALOG = "data/lakehouse/symbols.parquet";

async function catalogIn(dir: string): Promise<string> {
  await Deno.mkdir(`${dir}/data/lakehouse`, { recursive: true });
  return `${dir}/${CATALOG}`;
}

Deno.test("history and --changed-since compare normalised values: a spelling alone is no change", async () => {
  await using project = await tempProject();
  const path = await catalogIn(project.dir);
  // An old catalog: v1 spells the zone Etc/UTC and the subtype Common; v2
  // only respells them (as the merge would store them now); v3 changes the
  // description. The merge never records a respelling as a version, so show
  // must not list one as a change either.
  await query(
    `COPY (SELECT * FROM (VALUES
       ('NASDAQ:AAPL', 'Common', 'Etc/UTC', 'Apple', TIMESTAMP '2025-01-01', TIMESTAMP '2025-02-01'),
       ('NASDAQ:AAPL', 'common', 'UTC', 'Apple', TIMESTAMP '2025-02-01', TIMESTAMP '2025-03-01'),
       ('NASDAQ:AAPL', 'common', 'UTC', 'Apple v3', TIMESTAMP '2025-03-01', NULL))
       AS t(symbol, subtype, timezone, description, valid_from, valid_until))
     TO '${path}' (FORMAT parquet)`,
  );
  const history = await showJsonInProcess(project.dir, ["NASDAQ:AAPL", "--history"]);
  assert.deepEqual(history.rows.map((r: { changes: unknown[] }) => r.changes), [
    [],
    [],
    [{ field: "description", old: "Apple", new: "Apple v3" }],
  ]);
  const since = await showJsonInProcess(project.dir, ["--changed-since", "2025-01-15"]);
  assert.deepEqual(since.rows.map((r: { changes: unknown[] }) => r.changes), [
    [{ field: "description", old: "Apple", new: "Apple v3" }],
  ]);
  // A real change of zone is still one (and shows the stored spellings).
  await query(
    `COPY (SELECT * FROM (VALUES
       ('NASDAQ:AAPL', 'Etc/UTC', TIMESTAMP '2025-01-01', TIMESTAMP '2025-02-01'),
       ('NASDAQ:AAPL', 'US/Eastern', TIMESTAMP '2025-02-01', NULL))
       AS t(symbol, timezone, valid_from, valid_until))
     TO '${path}' (FORMAT parquet)`,
  );
  const moved = await showInProcess(project.dir, ["NASDAQ:AAPL", "--history"]);
  assert.match(moved.out, /timezone: "Etc\/UTC" → "US\/Eastern"/);
});
