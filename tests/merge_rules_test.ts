/**
 * The write path's rules, in process against real files and the mirror:
 * internal names never meet a catalog's own columns, the duplicate repair
 * picks deterministically, what is written decides the exit code, every
 * valid symbol is accounted for once, a rollback point is never lost, and a
 * bad catalog is found before the first request.
 */
import assert from "node:assert/strict";
import { parseCli, type RunOptions } from "../lib/input/cli.ts";
import { runJob } from "../lib/job.ts";
import { memoryLogger } from "../lib/report/log.ts";
import { atomicReplace } from "../lib/fs/atomic.ts";
import { catalogRows, fetched, mergeOnce, query } from "../testing/catalog.ts";
import { mirrorSymbols, startMirror } from "../testing/mirror.ts";
import { listing, tempProject } from "../testing/tmp.ts";

const CATALOG = "data/lakehouse/symbols.parquet";

function options(args: string[]): RunOptions {
  const command = parseCli(args, {});
  assert.equal(command.kind, "run");
  return command.options;
}

/** Rewrites a Parquet file through `select` ($FILE is the file), as another tool would. */
async function rewrite(path: string, select: string): Promise<void> {
  await query(
    `COPY (${
      select.replaceAll("$FILE", `read_parquet('${path}')`)
    }) TO '${path}.new' (FORMAT parquet)`,
  );
  await Deno.rename(`${path}.new`, path);
}

/** Every helper name the merge's SQL uses, as a catalog's own extra column. */
const INTERNAL_NAMES = [
  "mi_rank",
  "mi_newest_from",
  "rank",
  "newest_from",
  "row",
  "is_new",
  "action",
  "default_base",
  "default_session",
  "field",
  "old",
  "new",
  "differs",
  "n",
  "c",
  "i",
  "p",
  "ch",
  "extra",
  "catalog",
  "changes",
  "alias",
  "canonical",
];

Deno.test("extra columns named like the merge's helpers: duplicates repaired, every extra kept", async () => {
  await using project = await tempProject();
  const path = `${project.dir}/${CATALOG}`;
  await Deno.mkdir(`${project.dir}/data/lakehouse`, { recursive: true });
  await mergeOnce(path, [fetched("NASDAQ:AAPL"), fetched("NYSE:KO")], {
    now: new Date("2026-01-01T00:00:00Z"),
  });
  const extras = INTERNAL_NAMES.map((name, i) => `'x${i}' AS "${name}"`).join(", ");
  // A second, older current row for AAPL (a buggy writer), and the extras.
  await rewrite(
    path,
    `SELECT *, ${extras} FROM (SELECT * FROM $FILE UNION ALL
     SELECT * REPLACE ('stale' AS description, valid_from - INTERVAL 1 DAY AS valid_from)
     FROM $FILE WHERE symbol = 'NASDAQ:AAPL')`,
  );
  const { plan, wrote } = await mergeOnce(path, [fetched("NYSE:KO", { description: "new" })], {
    now: new Date("2026-02-01T00:00:00Z"),
  });
  assert.equal(wrote, true);
  assert.deepEqual(plan.repaired, ["NASDAQ:AAPL"]);
  const rows = await catalogRows(path);
  assert.equal(rows.length, 4);
  for (const row of rows) {
    for (const [i, name] of INTERNAL_NAMES.entries()) {
      assert.equal(row[name], `x${i}`, `${row.symbol} ${name}`);
    }
  }
  const aapl = rows.filter((r) => r.symbol === "NASDAQ:AAPL");
  assert.deepEqual(aapl.map((r) => [r.description, r.vu === null]), [["stale", false], [
    aapl[1].description,
    true,
  ]]);
  assert.notEqual(aapl[1].description, "stale");
});

Deno.test("duplicate current rows with the same times: the repair keeps the same one whatever the row order", async () => {
  const kept: unknown[] = [];
  for (const order of ["ASC", "DESC"]) {
    await using project = await tempProject();
    const path = `${project.dir}/${CATALOG}`;
    await Deno.mkdir(`${project.dir}/data/lakehouse`, { recursive: true });
    await mergeOnce(path, [fetched("NASDAQ:AAPL"), fetched("NYSE:KO")], {
      now: new Date("2026-01-01T00:00:00Z"),
    });
    // Two current AAPL rows with the same valid_from and updated_at, stored
    // in either order.
    await rewrite(
      path,
      `SELECT * FROM (SELECT * FROM $FILE WHERE symbol <> 'NASDAQ:AAPL' UNION ALL
       SELECT * FROM (SELECT f.* REPLACE (t.d AS description) FROM $FILE f,
         (VALUES ('Apple A'), ('Apple B')) t(d) WHERE f.symbol = 'NASDAQ:AAPL')
       ORDER BY description ${order})`,
    );
    const { plan } = await mergeOnce(path, [fetched("NYSE:KO", { description: "new" })], {
      now: new Date("2026-02-01T00:00:00Z"),
    });
    assert.deepEqual(plan.repaired, ["NASDAQ:AAPL"]);
    const current = (await catalogRows(path)).filter((r) =>
      r.symbol === "NASDAQ:AAPL" && r.vu === null
    );
    assert.equal(current.length, 1, order);
    kept.push(current[0].description);
  }
  assert.equal(kept[0], kept[1], "the same row is kept in both orders");
});

Deno.test("a run whose only symbol is skewed but which writes a repair: exit 3, and says what was written", async () => {
  await using project = await tempProject();
  await using mirror = startMirror();
  const path = `${project.dir}/${CATALOG}`;
  const base = ["--base-url", mirror.url];
  const seed = await runJob(options([...base, "--symbols", "NASDAQ:AAPL,NYSE:KO"]), {
    log: memoryLogger(),
    root: project.dir,
  });
  assert.equal(seed.exit_code, 0, seed.error ?? "");
  // KO's current version is in the future; AAPL has a duplicate current row.
  await rewrite(
    path,
    `SELECT * REPLACE (CASE WHEN symbol = 'NYSE:KO' THEN TIMESTAMP '2099-01-01' ELSE valid_from END
       AS valid_from) FROM (SELECT * FROM $FILE UNION ALL
     SELECT * REPLACE ('stale' AS description, valid_from - INTERVAL 1 DAY AS valid_from)
     FROM $FILE WHERE symbol = 'NASDAQ:AAPL')`,
  );
  const before = await Deno.readFile(path);
  const report = await runJob(options([...base, "--symbols", "NYSE:KO"]), {
    log: memoryLogger(),
    root: project.dir,
  });
  assert.notDeepEqual(await Deno.readFile(path), before, "the repair was written");
  assert.deepEqual(report.repaired, ["NASDAQ:AAPL"]);
  assert.deepEqual(report.failed.map((f) => f.symbol), ["NYSE:KO"]);
  assert.equal(report.exit_code, 3, "something landed: not 'nothing written'");
  assert.ok(!/nothing written/.test(report.error ?? ""), report.error ?? "");
});

Deno.test("--retire-not-found: a not-found symbol whose current version is in the future is reported as skewed", async () => {
  await using project = await tempProject();
  await using mirror = startMirror();
  const path = `${project.dir}/${CATALOG}`;
  const symbols = mirrorSymbols(["NASDAQ", "NYSE"]).slice(0, 4);
  const [late] = symbols.slice(-1);
  const base = ["--base-url", mirror.url, "--symbols", symbols.join(",")];
  assert.equal(
    (await runJob(options(base), { log: memoryLogger(), root: project.dir })).exit_code,
    0,
  );
  await rewrite(
    path,
    `SELECT * REPLACE (CASE WHEN symbol = '${late}' THEN TIMESTAMP '2099-01-01' ELSE valid_from END
       AS valid_from) FROM $FILE`,
  );
  mirror.configure({ overrides: { [late]: "not-found" } });
  const report = await runJob(options([...base, "--retire-not-found"]), {
    log: memoryLogger(),
    root: project.dir,
  });
  assert.equal(report.retired, 0);
  const entry = report.failed.find((f) => f.symbol === late);
  assert.ok(entry, JSON.stringify(report.failed));
  assert.match(entry.reason, /^clock skew: .* not retired/);
  assert.equal(report.failed.length, 1, "listed once");
  const rows = (await catalogRows(path)).filter((r) => r.symbol === late);
  assert.deepEqual(rows.map((r) => [r.active, r.vu]), [[true, null]], "left alone");
});

Deno.test("a chunked dry run lists a repair once, not once per chunk", async () => {
  await using project = await tempProject();
  await using mirror = startMirror();
  const path = `${project.dir}/${CATALOG}`;
  const symbols = ["NASDAQ:AAPL", "NASDAQ:MSFT", "NYSE:KO", "NYSE:PEP"];
  const base = ["--base-url", mirror.url, "--symbols", symbols.join(",")];
  await runJob(options(base), { log: memoryLogger(), root: project.dir });
  await rewrite(
    path,
    `SELECT * FROM $FILE UNION ALL SELECT * REPLACE ('stale' AS description,
       valid_from - INTERVAL 1 DAY AS valid_from) FROM $FILE WHERE symbol = 'NASDAQ:AAPL'`,
  );
  const report = await runJob(options([...base, "--dry-run"]), {
    log: memoryLogger(),
    root: project.dir,
    chunkSize: 2,
  });
  assert.deepEqual(report.repaired, ["NASDAQ:AAPL"]);
});

Deno.test("every valid symbol is fetched, failed or skipped, exactly once: an unreachable host skips them all", async () => {
  await using project = await tempProject();
  await using mirror = startMirror({ unreachable: "refused" });
  const symbols = ["NASDAQ:AAPL", "NASDAQ:MSFT", "NYSE:KO", "NYSE:PEP", "NYSE:T", "NYSE:F"];
  const report = await runJob(
    options(["--base-url", mirror.url, "--symbols", symbols.join(","), "--workers", "1"]),
    { log: memoryLogger(), root: project.dir },
  );
  assert.equal(report.exit_code, 1);
  assert.match(report.error ?? "", /cannot reach/);
  const seen = [
    ...report.failed.map((f) => f.symbol),
    ...report.skipped.map((f) => f.symbol),
  ].sort();
  assert.deepEqual(seen, [...symbols].sort(), "each once");
  assert.equal(report.fetched + report.failed.length + report.skipped.length, report.valid);
  assert.ok(report.skipped.length > 0, "the ones never asked are skipped");
  for (const s of report.skipped) assert.match(s.reason, /^unreachable: cannot reach/);
});

Deno.test("a signal during the fetch: the symbols not fetched are skipped naming the signal", async () => {
  await using project = await tempProject();
  await using mirror = startMirror({ latencyMs: 200 });
  const symbols = ["NASDAQ:AAPL", "NASDAQ:MSFT", "NYSE:KO", "NYSE:PEP", "NYSE:T", "NYSE:F"];
  const stop = new AbortController();
  const log = memoryLogger();
  const running = runJob(
    options(["--base-url", mirror.url, "--symbols", symbols.join(","), "--workers", "1"]),
    { log, root: project.dir, signal: stop.signal },
  );
  // Stop once the first answer is in (an event, not a time).
  while (mirror.stats.requests < 2) await new Promise((r) => setTimeout(r, 10));
  stop.abort("SIGINT");
  const report = await running;
  assert.equal(report.exit_code, 130);
  assert.equal(
    report.fetched + report.failed.length + report.skipped.length,
    report.valid,
    JSON.stringify(report),
  );
  assert.ok(report.skipped.length >= 4, JSON.stringify(report.skipped));
  for (const s of report.skipped) assert.match(s.reason, /^signal: stopped by SIGINT/);
});

Deno.test("a .bak that cannot be replaced (a folder of that name): the previous version is kept elsewhere, with a warning", async () => {
  await using project = await tempProject();
  const target = await project.write("symbols.parquet", "v1");
  await Deno.mkdir(`${target}.bak`);
  await Deno.writeTextFile(`${target}.bak/inside`, "a stray folder");
  const outcome = await atomicReplace(target, (temp) => Deno.writeTextFile(temp, "v2"), {
    backup: true,
  });
  assert.equal(await Deno.readTextFile(target), "v2");
  assert.ok(outcome.warning, "a warning");
  assert.match(outcome.warning, /could not become .*symbols\.parquet\.bak/);
  assert.ok(outcome.backup);
  assert.equal(await Deno.readTextFile(outcome.backup), "v1", "the previous version exists");
  assert.equal((await listing(project.dir)).filter((n) => n.endsWith(".tmp")).length, 0);
});

Deno.test("a run whose .bak is a folder warns and keeps the previous catalog", async () => {
  await using project = await tempProject();
  await using mirror = startMirror();
  const path = `${project.dir}/${CATALOG}`;
  const base = ["--base-url", mirror.url];
  await runJob(options([...base, "--symbols", "NASDAQ:AAPL"]), {
    log: memoryLogger(),
    root: project.dir,
  });
  const previous = await Deno.readFile(path);
  await Deno.mkdir(`${path}.bak`);
  const log = memoryLogger();
  const report = await runJob(options([...base, "--symbols", "NASDAQ:AAPL,NYSE:KO"]), {
    log,
    root: project.dir,
  });
  assert.equal(report.exit_code, 0, report.error ?? "");
  const warning = log.lines.find((l) => /could not become .*symbols\.parquet\.bak/.test(l));
  assert.ok(warning, log.lines.join("\n"));
  const kept = (await listing(`${project.dir}/data/lakehouse`)).find((n) =>
    n.startsWith("symbols.parquet.bak-")
  );
  assert.ok(kept, "kept beside it");
  assert.deepEqual(await Deno.readFile(`${project.dir}/data/lakehouse/${kept}`), previous);
});

Deno.test("a foreign catalog whose values do not fit our types: the usual 'cannot read', untouched", async () => {
  await using project = await tempProject();
  await using mirror = startMirror();
  const path = `${project.dir}/${CATALOG}`;
  await Deno.mkdir(`${project.dir}/data/lakehouse`, { recursive: true });
  await query(
    `COPY (SELECT 'NASDAQ:AAPL' AS symbol, 1e20::DOUBLE AS pricescale, 1::DOUBLE AS minmov) TO '${path}' (FORMAT parquet)`,
  );
  const bytes = await Deno.readFile(path);
  const report = await runJob(options(["--base-url", mirror.url, "--symbols", "NASDAQ:AAPL"]), {
    log: memoryLogger(),
    root: project.dir,
  });
  assert.equal(report.exit_code, 1);
  assert.match(
    report.error ?? "",
    /^cannot read catalog .*symbols\.parquet: .*pricescale|out of range/,
  );
  assert.match(report.error ?? "", /it was left untouched/);
  assert.equal(mirror.stats.requests, 0, "found before the first request");
  assert.deepEqual(await Deno.readFile(path), bytes);
});

Deno.test("a foreign catalog's lower-case symbol is the same symbol as its canonical spelling", async () => {
  await using project = await tempProject();
  await using mirror = startMirror();
  const path = `${project.dir}/${CATALOG}`;
  const base = ["--base-url", mirror.url];
  await runJob(options([...base, "--symbols", "NASDAQ:AAPL,NYSE:KO"]), {
    log: memoryLogger(),
    root: project.dir,
  });
  await rewrite(
    path,
    `SELECT * REPLACE (CASE WHEN symbol = 'NASDAQ:AAPL' THEN 'nasdaq:aapl ' ELSE symbol END AS symbol) FROM $FILE`,
  );
  const report = await runJob(options([...base, "--from-catalog"]), {
    log: memoryLogger(),
    root: project.dir,
  });
  assert.equal(report.exit_code, 0, report.error ?? "");
  assert.equal(report.new, 0, "not a new symbol");
  assert.equal(report.unchanged, 2);
  assert.equal(mirror.stats.perSymbol["NASDAQ:AAPL"], 2, "refreshed in its canonical spelling");
  assert.equal((await catalogRows(path)).length, 2, "no second current row");
  // Its next real change writes the one spelling.
  mirror.configure({
    overrides: { "NASDAQ:AAPL": { ...fetched("NASDAQ:AAPL").record, description: "new" } },
  });
  const changed = await runJob(options([...base, "--from-catalog"]), {
    log: memoryLogger(),
    root: project.dir,
  });
  assert.equal(changed.changed, 1, changed.error ?? "");
  const current = (await catalogRows(path)).filter((r) => r.vu === null);
  assert.deepEqual(current.map((r) => r.symbol).sort(), ["NASDAQ:AAPL", "NYSE:KO"]);
});

for (
  const [name, prepare, pattern] of [
    [
      "a folder as the catalog path",
      async (path: string) => await Deno.mkdir(path, { recursive: true }),
      /is not a regular file/,
    ],
    [
      "a zero-byte catalog",
      async (path: string) => {
        await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
        await Deno.writeFile(path, new Uint8Array());
      },
      /cannot read catalog/,
    ],
    [
      "a catalog that is not Parquet",
      async (path: string) => {
        await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
        await Deno.writeTextFile(path, "PAR1 not really");
      },
      /cannot read catalog/,
    ],
    [
      "a catalog whose rows fail their checksum",
      async (path: string) => {
        await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
        await mergeOnce(path, [fetched("NASDAQ:AAPL"), fetched("NYSE:KO")]);
        const [{ sum }] = await query(
          `SELECT value::VARCHAR AS sum FROM parquet_kv_metadata('${path}') WHERE key::VARCHAR = 'meta_ingest_rows_checksum'`,
        );
        // One value changed, the checksum kept: damage that still parses.
        await query(
          `COPY (SELECT * REPLACE (CASE WHEN symbol = 'NASDAQ:AAPL' THEN 'tampered' ELSE description END AS description) FROM read_parquet('${path}')) TO '${path}.new' (FORMAT parquet, KV_METADATA {meta_ingest_rows_checksum: '${sum}'})`,
        );
        await Deno.rename(`${path}.new`, path);
      },
      /do not match the checksum/,
    ],
    [
      "a folder in the lock's place",
      async (path: string) => await Deno.mkdir(`${path}.lock`, { recursive: true }),
      /lock path .* is a folder/,
    ],
  ] as const
) {
  Deno.test(`${name}: the run fails before its first request`, async () => {
    await using project = await tempProject();
    await using mirror = startMirror();
    const path = `${project.dir}/${CATALOG}`;
    await prepare(path);
    const report = await runJob(
      options(["--base-url", mirror.url, "--symbols", "NASDAQ:AAPL,NYSE:KO"]),
      { log: memoryLogger(), root: project.dir },
    );
    assert.equal(report.exit_code, 1, report.error ?? "");
    assert.match(report.error ?? "", pattern);
    assert.equal(mirror.stats.requests, 0, "no request was sent");
  });
}

Deno.test("a dry run plans against one version while another run replaces the catalog", async () => {
  await using project = await tempProject();
  await using mirror = startMirror();
  const path = `${project.dir}/${CATALOG}`;
  const base = ["--base-url", mirror.url];
  // Version A: AAPL says "A" among 4 symbols; version B: it says "B" among 2.
  const symbols = mirrorSymbols(["NASDAQ", "NYSE"]).slice(0, 4);
  await Deno.mkdir(`${project.dir}/data/lakehouse`, { recursive: true });
  await mergeOnce(
    path,
    symbols.map((s) => fetched(s, s === symbols[0] ? { description: "A" } : {})),
  );
  const versionA = `${project.dir}/a.parquet`;
  await Deno.copyFile(path, versionA);
  await Deno.remove(path);
  await mergeOnce(
    path,
    symbols.slice(0, 2).map((s) => fetched(s, s === symbols[0] ? { description: "B" } : {})),
  );
  const versionB = `${project.dir}/b.parquet`;
  await Deno.copyFile(path, versionB);
  const rowsOf: Record<string, number> = { '"A"': 4, '"B"': 2 };
  // Another writer replaces the catalog by rename, A and B in turn, all
  // along, every 100 ms (as fast as merges of a small catalog can follow each other).
  let writing = true;
  const writer = (async () => {
    for (let i = 0; writing; i++) {
      const temp = `${path}.${i}.tmp`;
      await Deno.copyFile(i % 2 ? versionA : versionB, temp);
      await Deno.rename(temp, path);
      // Now and then a longer gap, as between real runs: a reader always
      // finds a quiet moment within its tries, even on a busy machine.
      await new Promise((r) => setTimeout(r, i % 4 === 3 ? 700 : 100));
    }
  })();
  try {
    for (let run = 0; run < 15; run++) {
      const report = await runJob(options([...base, "--symbols", symbols[0], "--dry-run"]), {
        log: memoryLogger(),
        root: project.dir,
      });
      assert.equal(report.exit_code, 0, report.error ?? "");
      const old = report.changes[0]?.fields.find((f) => f.field === "description")?.old;
      assert.equal(report.catalog.rows, rowsOf[JSON.stringify(old)], `run ${run}: ${old}`);
    }
  } finally {
    writing = false;
    await writer;
  }
});
