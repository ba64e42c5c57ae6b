/**
 * Whole runs, as users make them: the CLI as a child process under the real
 * permission set, against the local TradingView mirror, on real files.
 */
import assert from "node:assert/strict";
import { catalogRows, currentRows, query } from "../testing/catalog.ts";
import { type Cli, cliBoth, cliTest } from "../testing/cli.ts";
import { listing, tempProject } from "../testing/tmp.ts";
import { mirrorSymbols, startMirror } from "../testing/mirror.ts";

const CATALOG = "data/lakehouse/symbols.parquet";

function report(stdout: string) {
  return JSON.parse(stdout);
}

cliTest("a run fetches, validates, merges and reports", async (cli: Cli) => {
  await using project = await tempProject();
  await using mirror = startMirror({ latencyMs: 5 });
  await project.write(
    "run/candidates.json",
    JSON.stringify({
      data: ["binance:btcusdt", { symbol: "NASDAQ:AAPL", score: 1 }, "CME_MINI:ES1!", null],
    }),
  );
  const wallStart = performance.now();
  const result = await cli.run([
    "--candidates-file",
    "run/candidates.json",
    "--base-url",
    mirror.url,
    "--json",
  ], {
    cwd: project.dir,
  });
  const wallMs = performance.now() - wallStart;
  assert.equal(result.code, 3, result.stderr); // one invalid entry
  const r = report(result.stdout);
  assert.deepEqual(
    [
      r.requested,
      r.valid,
      r.invalid.length,
      r.fetched,
      r.failed.length,
      r.new,
      r.changed,
      r.unchanged,
    ],
    [4, 3, 1, 3, 0, 3, 0, 0],
  );
  assert.deepEqual(r.http, {
    requests: 3,
    retries: 0,
    status429: 0,
    status403: 0,
    empty_bodies: 0,
    pauses: 0,
    paused_ms: 0,
    by_endpoint: { symbol: 3, scan: 0 },
  });
  assert.deepEqual(r.catalog, { path: CATALOG, rows: 3, current: 3 });
  assert.ok(
    Number.isInteger(r.duration_ms) && r.duration_ms >= 5 && r.duration_ms <= wallMs,
    `duration_ms ${r.duration_ms} within the run's ${wallMs} ms`,
  );
  const current = await currentRows(`${project.dir}/${CATALOG}`);
  assert.deepEqual([...current.keys()], ["BINANCE:BTCUSDT", "CME_MINI:ES1!", "NASDAQ:AAPL"]);
  assert.equal(current.get("CME_MINI:ES1!")!.tick_size, 0.25);
  assert.match(result.stderr, /meta-ingest: requested 4, valid 3, invalid 1/);
  assert.match(result.stderr, /#4 null: null is not a symbol/);
  assert.deepEqual(await listing(`${project.dir}/data/lakehouse`), [
    "exchanges.parquet",
    "symbols.parquet",
    "symbols.runs.parquet",
  ]);
});

cliBoth("an idle rerun changes nothing: exit 0, same bytes and mtime", async (cli: Cli) => {
  await using project = await tempProject();
  await using mirror = startMirror();
  const args = ["--symbols", "NASDAQ:AAPL,NYSE:KO", "--base-url", mirror.url, "--json"];
  assert.equal((await cli.run(args, { cwd: project.dir })).code, 0);
  const path = `${project.dir}/${CATALOG}`;
  const bytes = await Deno.readFile(path);
  const mtime = (await Deno.stat(path)).mtime;
  const again = await cli.run(args, { cwd: project.dir });
  assert.equal(again.code, 0);
  assert.deepEqual([report(again.stdout).unchanged, report(again.stdout).new], [2, 0]);
  assert.deepEqual(await Deno.readFile(path), bytes);
  assert.deepEqual((await Deno.stat(path)).mtime, mtime);
});

cliBoth("--dry-run fetches and lists what would change, and writes nothing", async (cli: Cli) => {
  await using project = await tempProject();
  await using mirror = startMirror();
  assert.equal(
    (await cli.run(["--symbols", "NASDAQ:AAPL", "--base-url", mirror.url], { cwd: project.dir }))
      .code,
    0,
  );
  const path = `${project.dir}/${CATALOG}`;
  const bytes = await Deno.readFile(path);
  mirror.configure({
    overrides: {
      "NASDAQ:AAPL": { pricescale: 1000, minmov: 1, type: "stock", description: "Apple" },
    },
  });
  const result = await cli.run([
    "--symbols",
    "NASDAQ:AAPL,NYSE:KO",
    "--base-url",
    mirror.url,
    "--dry-run",
    "--json",
  ], {
    cwd: project.dir,
  });
  assert.equal(result.code, 0, result.stderr);
  const r = report(result.stdout);
  assert.deepEqual([r.dry_run, r.new, r.changed], [true, 1, 1]);
  const aapl = r.changes.find((c: { symbol: string }) => c.symbol === "NASDAQ:AAPL");
  assert.deepEqual(aapl.fields.find((f: { field: string }) => f.field === "pricescale"), {
    field: "pricescale",
    old: "100",
    new: "1000",
  });
  assert.match(result.stderr, /targets \(2\): NASDAQ:AAPL, NYSE:KO\n/);
  assert.match(result.stderr, /would change \(2\):/);
  assert.match(result.stderr, /NASDAQ:AAPL changed \(.*pricescale: "100" → "1000"/);
  assert.match(result.stderr, /NYSE:KO new/);
  assert.deepEqual(await Deno.readFile(path), bytes);
  assert.deepEqual(await listing(`${project.dir}/data/lakehouse`), [
    "exchanges.parquet",
    "symbols.parquet",
    "symbols.runs.parquet",
  ]);
});

cliTest("--dry-run on a fresh project creates nothing", async (cli: Cli) => {
  await using project = await tempProject();
  await using mirror = startMirror();
  const result = await cli.run(
    ["--symbols", "NASDAQ:AAPL", "--base-url", mirror.url, "--dry-run"],
    {
      cwd: project.dir,
    },
  );
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(await listing(project.dir), []);
});

cliTest(
  "some symbols failing: exit 3, the rest merged, failures listed with reasons",
  async (cli: Cli) => {
    await using project = await tempProject();
    await using mirror = startMirror({
      overrides: { "NASDAQ:BAD": { pricescale: -1, minmov: 1, type: "stock" } },
      fault: (
        { symbol },
      ) => (symbol === "NASDAQ:DOWN" ? { kind: "status", status: 503 } : undefined),
    });
    const result = await cli.run([
      "--symbols",
      "NASDAQ:AAPL,NASDAQ:BAD,NASDAQ:DOWN,NASDAQ:GHOST",
      "--base-url",
      mirror.url,
      "--max-retries",
      "1",
      "--json",
    ], { cwd: project.dir });
    assert.equal(result.code, 3, result.stderr);
    const r = report(result.stdout);
    assert.deepEqual(r.failed, [
      {
        symbol: "NASDAQ:BAD",
        reason: "invalid response: pricescale must be a positive whole number, got -1",
      },
      { symbol: "NASDAQ:DOWN", reason: "HTTP 503 (gave up after 2 attempts)" },
      { symbol: "NASDAQ:GHOST", reason: "not found on TradingView" },
    ]);
    assert.deepEqual([...(await currentRows(`${project.dir}/${CATALOG}`)).keys()], ["NASDAQ:AAPL"]);
    assert.equal(mirror.stats.perSymbol["NASDAQ:GHOST"], 1, "not-found is not retried");
    assert.equal(mirror.stats.perSymbol["NASDAQ:BAD"], 1, "validation failures are not retried");
    assert.match(result.stderr, /failed symbols \(3\):\n {2}- NASDAQ:BAD: invalid response/);
  },
);

cliBoth("every symbol failing: exit 1 and no catalog written", async (cli: Cli) => {
  await using project = await tempProject();
  await using mirror = startMirror();
  const result = await cli.run([
    "--symbols",
    "NASDAQ:GHOST1,NASDAQ:GHOST2",
    "--base-url",
    mirror.url,
  ], {
    cwd: project.dir,
  });
  assert.equal(result.code, 1);
  assert.deepEqual(await listing(project.dir), []);
});

cliTest(
  "--from-catalog without a catalog: exit 1 and how to seed it, nothing fetched or created",
  async (cli: Cli) => {
    for (const folder of [false, true]) {
      await using project = await tempProject();
      await using mirror = startMirror();
      if (folder) await Deno.mkdir(`${project.dir}/data/lakehouse`, { recursive: true });
      const result = await cli.run(["--from-catalog", "--base-url", mirror.url, "--json"], {
        cwd: project.dir,
      });
      assert.equal(result.code, 1, result.stderr);
      const r = report(result.stdout);
      assert.equal(r.exit_code, 1);
      assert.match(
        r.error,
        /--from-catalog: there is no catalog at data\/lakehouse\/symbols\.parquet to refresh \(seed it first with a run that names its symbols \(--candidates-file or --symbols\)/,
      );
      assert.match(result.stderr, /error: --from-catalog: there is no catalog/);
      assert.equal(mirror.stats.requests, 0);
      assert.deepEqual(
        await listing(folder ? `${project.dir}/data/lakehouse` : project.dir),
        [],
      );
    }
  },
);

cliTest("never more requests in flight than --workers", async (cli: Cli) => {
  await using project = await tempProject();
  await using mirror = startMirror({ latencyMs: 30, jitterMs: 20 });
  const symbols = mirrorSymbols(["NYSE"]).slice(0, 24).join(",");
  for (const workers of ["1", "3", "5"]) {
    mirror.resetStats();
    const result = await cli.run([
      "--symbols",
      symbols,
      "--workers",
      workers,
      "--endpoint",
      "symbol", // one request per symbol: the pool's width is what is measured
      "--base-url",
      mirror.url,
    ], {
      cwd: project.dir,
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(mirror.stats.peakInFlight, Number(workers));
    assert.equal(mirror.stats.requests, 24);
  }
});

cliBoth(
  "--from-catalog refreshes the active symbols; --retire-not-found retires",
  async (cli: Cli) => {
    await using project = await tempProject();
    await using mirror = startMirror();
    const base = ["--base-url", mirror.url, "--json"];
    assert.equal(
      (await cli.run(["--symbols", "NASDAQ:AAPL,NYSE:KO,AMEX:SPY,NASDAQ:MSFT", ...base], {
        cwd: project.dir,
      })).code,
      0,
    );
    mirror.configure({ overrides: { "NYSE:KO": "not-found" } });
    const kept = await cli.run(["--from-catalog", ...base], { cwd: project.dir });
    assert.equal(kept.code, 3);
    assert.equal(report(kept.stdout).retired, 0);
    const retired = await cli.run(["--from-catalog", "--retire-not-found", ...base], {
      cwd: project.dir,
    });
    assert.equal(retired.code, 3);
    assert.deepEqual([report(retired.stdout).requested, report(retired.stdout).retired], [4, 1]);
    const next = await cli.run(["--from-catalog", ...base], { cwd: project.dir });
    assert.equal(report(next.stdout).requested, 3, "retired symbols leave --from-catalog");
    const ko = (await catalogRows(`${project.dir}/${CATALOG}`)).filter((r) =>
      r.symbol === "NYSE:KO"
    );
    assert.deepEqual(ko.map((r) => r.active), [true, false]);
  },
);

cliTest("a corrupt catalog: exit 1, bytes untouched, a clear message", async (cli: Cli) => {
  await using project = await tempProject();
  await using mirror = startMirror();
  const garbage = new Uint8Array(4096).map((_, i) => (i * 7919) % 256);
  const path = await project.write(CATALOG, garbage);
  const mtime = (await Deno.stat(path)).mtime;
  const result = await cli.run(["--symbols", "NASDAQ:AAPL", "--base-url", mirror.url, "--json"], {
    cwd: project.dir,
  });
  assert.equal(result.code, 1);
  assert.match(
    result.stderr,
    /cannot read catalog .*symbols\.parquet: .*left untouched; move it away or restore it from a copy of your own: there is no symbols\.parquet\.bak/,
  );
  assert.doesNotMatch(result.stderr, /Uncaught|at file:/);
  assert.deepEqual(await Deno.readFile(path), garbage);
  assert.deepEqual((await Deno.stat(path)).mtime, mtime);
  assert.deepEqual(await listing(`${project.dir}/data/lakehouse`), ["symbols.parquet"]);
});

cliTest("the lock is waited for, and a timeout names the holder", async (cli: Cli) => {
  await using project = await tempProject();
  await using mirror = startMirror();
  await Deno.mkdir(`${project.dir}/data/lakehouse`, { recursive: true });
  const holder = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-q",
      "-A",
      new URL("../testing/hold_lock.ts", import.meta.url).pathname,
      `${project.dir}/${CATALOG}.lock`,
      // Until it is killed below: a busy machine may take seconds to get the
      // run to the lock, and the lock must still be held then.
      "60000",
    ],
    stdout: "piped",
  }).spawn();
  const reader = holder.stdout.pipeThrough(new TextDecoderStream()).getReader();
  assert.match((await reader.read()).value ?? "", /acquired/);
  const result = await cli.run(
    ["--symbols", "NASDAQ:AAPL", "--base-url", mirror.url, "--lock-timeout-ms", "300"],
    { cwd: project.dir },
  );
  assert.equal(result.code, 1, result.stderr);
  assert.match(
    result.stderr,
    new RegExp(`catalog is locked by pid ${holder.pid} .*gave up after 300 ms`),
  );
  assert.equal(mirror.stats.requests, 1, "the fetch happened before the lock was needed");
  holder.kill("SIGKILL");
  await holder.status;
  reader.releaseLock();
  const after = await cli.run(["--symbols", "NASDAQ:AAPL", "--base-url", mirror.url], {
    cwd: project.dir,
  });
  assert.equal(after.code, 0, "the dead holder's stale lock is taken over");
  assert.match(after.stderr, /took over a stale lock from pid/);
});

cliTest("eight runs at once on one catalog lose no update", async (cli: Cli) => {
  await using project = await tempProject();
  await using mirror = startMirror({ latencyMs: 10, jitterMs: 20 });
  const symbols = mirrorSymbols(["BINANCE", "NASDAQ", "CME_MINI", "FX_IDC"]).filter((_, i) =>
    i % 7 === 0
  ).slice(0, 80);
  // The merges are what contend, and they do not depend on the endpoint
  // (these runs use the default, auto).
  const runs = 8;
  const slices = Array.from({ length: runs }, (_, i) => symbols.filter((_, j) => j % runs === i));
  const results = await Promise.all(
    slices.map((slice) =>
      cli.run(["--symbols", slice.join(","), "--base-url", mirror.url, "--workers", "2"], {
        cwd: project.dir,
      })
    ),
  );
  for (const run of results) assert.equal(run.code, 0, run.stderr);
  const rows = await catalogRows(`${project.dir}/${CATALOG}`);
  assert.equal(rows.length, symbols.length);
  assert.deepEqual(rows.map((r) => r.symbol), [...symbols].sort());
  assert.ok(rows.every((r) => r.vu === null && r.active === true));
  assert.deepEqual(await listing(`${project.dir}/data/lakehouse`), [
    "exchanges.parquet",
    "symbols.parquet",
    "symbols.parquet.bak",
    "symbols.runs.parquet",
  ]);
  const exchanges = await query("SELECT exchange FROM read_parquet($1) ORDER BY 1", [
    `${project.dir}/data/lakehouse/exchanges.parquet`,
  ]);
  assert.deepEqual(exchanges.map((e) => e.exchange), ["BINANCE", "CME_MINI", "FX_IDC", "NASDAQ"]);
});

cliTest(
  "two catalogs in one folder share exchanges.parquet without losing a row",
  async (cli: Cli) => {
    await using project = await tempProject();
    await using mirror = startMirror({ latencyMs: 10, jitterMs: 10 });
    const runs = await Promise.all([
      ...["BINANCE:BTCUSDT", "NASDAQ:AAPL", "CME_MINI:ES1!"].map((symbol) =>
        cli.run([
          "--symbols",
          symbol,
          "--catalog-path",
          "data/lakehouse/a.parquet",
          "--base-url",
          mirror.url,
        ], {
          cwd: project.dir,
        })
      ),
      ...["FX_IDC:EURUSD", "NYSE:KO", "COMEX:GC1!"].map((symbol) =>
        cli.run([
          "--symbols",
          symbol,
          "--catalog-path",
          "data/lakehouse/b.parquet",
          "--base-url",
          mirror.url,
        ], {
          cwd: project.dir,
        })
      ),
    ]);
    for (const run of runs) assert.equal(run.code, 0, run.stderr);
    const exchanges = await query("SELECT exchange FROM read_parquet($1) ORDER BY 1", [
      `${project.dir}/data/lakehouse/exchanges.parquet`,
    ]);
    assert.deepEqual(exchanges.map((e) => e.exchange), [
      "BINANCE",
      "CME_MINI",
      "COMEX",
      "FX_IDC",
      "NASDAQ",
      "NYSE",
    ]);
    assert.equal((await catalogRows(`${project.dir}/data/lakehouse/a.parquet`)).length, 3);
    assert.equal((await catalogRows(`${project.dir}/data/lakehouse/b.parquet`)).length, 3);
    const left = (await listing(`${project.dir}/data/lakehouse`)).filter((n) =>
      n.endsWith(".tmp") || n.endsWith(".lock")
    );
    assert.deepEqual(left, []);
  },
);

cliTest("a catalog path named exchanges.parquet is a usage error", async (cli: Cli) => {
  await using project = await tempProject();
  const result = await cli.run([
    "--symbols",
    "NASDAQ:AAPL",
    "--catalog-path",
    "data/exchanges.parquet",
  ], {
    cwd: project.dir,
  });
  assert.equal(result.code, 2);
  assert.match(result.stderr, /--catalog-path cannot be named exchanges\.parquet/);
  assert.deepEqual(await listing(project.dir), []);
});

cliTest(
  "a symlink planted at the lock path is refused and its target left alone",
  async (cli: Cli) => {
    await using project = await tempProject();
    await using other = await tempProject();
    await using mirror = startMirror();
    const victim = await other.write("victim.txt", "keep me");
    await Deno.mkdir(`${project.dir}/data/lakehouse`, { recursive: true });
    await Deno.symlink(victim, `${project.dir}/${CATALOG}.lock`);
    const result = await cli.run(["--symbols", "NASDAQ:AAPL", "--base-url", mirror.url], {
      cwd: project.dir,
    });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /lock path .*symbols\.parquet\.lock is a symlink/);
    assert.equal(await Deno.readTextFile(victim), "keep me");
  },
);

cliTest(
  "--retire-not-found retires nothing when 'not found' is everywhere (a wrong --base-url)",
  async (cli: Cli) => {
    await using project = await tempProject();
    await using mirror = startMirror();
    assert.equal(
      (await cli.run(["--symbols", "NASDAQ:AAPL,NYSE:KO", "--base-url", mirror.url], {
        cwd: project.dir,
      })).code,
      0,
    );
    const path = `${project.dir}/${CATALOG}`;
    const bytes = await Deno.readFile(path);
    const wrong = `${mirror.url}/wrong-prefix`; // every request answers 404
    const result = await cli.run([
      "--from-catalog",
      "--retire-not-found",
      "--base-url",
      wrong,
      "--json",
    ], {
      cwd: project.dir,
    });
    assert.equal(result.code, 1);
    assert.equal(report(result.stdout).retired, 0);
    assert.match(result.stderr, /not retiring: 2 of 2 symbols were "not found"/);
    assert.deepEqual(await Deno.readFile(path), bytes);
  },
);

cliTest("--endpoint scan: 50 symbols in 1 request, the summary says so", async (cli: Cli) => {
  await using project = await tempProject();
  await using mirror = startMirror({ latencyMs: 5 });
  const symbols = mirrorSymbols(["NASDAQ", "NYSE"]).slice(0, 50);
  const result = await cli.run(
    ["--symbols", symbols.join(","), "--endpoint", "scan", "--base-url", mirror.url, "--json"],
    { cwd: project.dir },
  );
  assert.equal(result.code, 0, result.stderr);
  const r = report(result.stdout);
  assert.deepEqual([r.fetched, r.new], [50, 50]);
  assert.deepEqual(r.http, {
    requests: 1,
    retries: 0,
    status429: 0,
    status403: 0,
    empty_bodies: 0,
    pauses: 0,
    paused_ms: 0,
    by_endpoint: { symbol: 0, scan: 1 },
  });
  assert.match(result.stderr, /http: 50 symbols in 1 request \(1 \/scan, 0 \/symbol\), 0 retries/);
  assert.equal(mirror.stats.byEndpoint.scan, 1);
});

cliTest(
  "symbol then scan on unchanged data records nothing; scan then symbol nothing spurious",
  async (cli: Cli) => {
    // Crypto (timezone Etc/UTC in the data, UTC in the defaults), equities,
    // futures (the kept columns) and forex (no timezone in the data).
    const symbols = [
      ...mirrorSymbols(["BINANCE", "OKX"]).slice(0, 6),
      ...mirrorSymbols(["NASDAQ"]).slice(0, 4),
      ...mirrorSymbols(["CBOT", "COMEX"]).slice(0, 6),
      ...mirrorSymbols(["FX_IDC"]).slice(0, 3),
    ].join(",");
    await using mirror = startMirror();
    const run = (dir: string, endpoint: string) =>
      cli.run(["--symbols", symbols, "--endpoint", endpoint, "--base-url", mirror.url, "--json"], {
        cwd: dir,
      });
    await using first = await tempProject();
    assert.equal((await run(first.dir, "symbol")).code, 0);
    const path = `${first.dir}/${CATALOG}`;
    const bytes = await Deno.readFile(path);
    const scan = report((await run(first.dir, "scan")).stdout);
    assert.deepEqual([scan.new, scan.changed, scan.unchanged, scan.changes], [0, 0, 19, []]);
    assert.deepEqual(await Deno.readFile(path), bytes);

    await using second = await tempProject();
    assert.equal((await run(second.dir, "scan")).code, 0);
    const symbol = report((await run(second.dir, "symbol")).stdout);
    const rows = await catalogRows(`${second.dir}/${CATALOG}`);
    const versions = rows.filter((r) => r.vu !== null).map((r) => r.symbol);
    // Only what /scan cannot know is learned: the session of symbols whose
    // exchange default is a placeholder ("Unknown").
    assert.equal(symbol.changed, versions.length);
    for (const row of rows.filter((r) => r.vu === null)) {
      assert.notEqual(row.timezone, "Etc/UTC", `${row.symbol}: one spelling`);
    }
    const current = await currentRows(`${second.dir}/${CATALOG}`);
    const btc = [...current.values()].find((r) => String(r.symbol).startsWith("BINANCE:"))!;
    assert.deepEqual([btc.timezone, btc.session], ["UTC", "24x7"]);
    assert.ok(
      rows.filter((r) => r.vu !== null).every((r) => r.session === "Unknown"),
      "the only versions are sessions learned from /symbol",
    );
  },
);

cliTest(
  "--endpoint scan with --retire-not-found retires only what /symbol confirms",
  async (cli: Cli) => {
    await using project = await tempProject();
    await using mirror = startMirror();
    const base = ["--base-url", mirror.url, "--json", "--endpoint", "scan"];
    const seed = await cli.run(
      ["--symbols", "NASDAQ:AAPL,NYSE:KO,AMEX:SPY,NASDAQ:MSFT,BINANCE:BTCUSDT", ...base],
      { cwd: project.dir },
    );
    assert.equal(seed.code, 0, seed.stderr);
    mirror.configure({
      overrides: { "NYSE:KO": "not-found" },
      // /symbol is down for MSFT; /scan leaves it out: never retired.
      fault: ({ endpoint, symbol }) =>
        endpoint === "symbol" && symbol === "NASDAQ:MSFT"
          ? { kind: "status", status: 503 }
          : undefined,
    });
    mirror.configure({ overrides: { "NYSE:KO": "not-found", "NASDAQ:MSFT": "not-found" } });
    const result = await cli.run(
      ["--from-catalog", "--retire-not-found", "--max-retries", "0", ...base],
      { cwd: project.dir },
    );
    assert.equal(result.code, 3, result.stderr);
    const r = report(result.stdout);
    assert.deepEqual(r.failed, [
      { symbol: "NASDAQ:MSFT", reason: "HTTP 503 (gave up after 1 attempt)" },
      { symbol: "NYSE:KO", reason: "not found on TradingView" },
    ]);
    assert.equal(r.retired, 1);
    assert.deepEqual(r.http.by_endpoint, { scan: 3, symbol: 2 });
  },
);
