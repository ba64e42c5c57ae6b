/**
 * Catalog paths: read as exactly that file (never a DuckDB glob), and never
 * named like one of the files the tool keeps beside a catalog.
 */
import assert from "node:assert/strict";
import { IngestError } from "../lib/core/errors.ts";
import { tempPathFor } from "../lib/fs/atomic.ts";
import { checkCatalogPath, resolveCatalogPath } from "../lib/input/catalog_path.ts";
import { type Cli, cliTest } from "../testing/cli.ts";
import { query } from "../testing/catalog.ts";
import { startMirror } from "../testing/mirror.ts";
import { writeSyntheticCatalog } from "../testing/synthetic_catalog.ts";
import { listing, tempProject } from "../testing/tmp.ts";

function usageError(path: string): string {
  try {
    checkCatalogPath(path, path);
  } catch (err) {
    assert.ok(err instanceof IngestError && err.kind === "usage", String(err));
    return err.message;
  }
  assert.fail(`${path} was accepted`);
}

Deno.test("glob characters anywhere in the path are refused, braces and backslashes are not", () => {
  for (
    const path of ["/p/gl/symbols?.parquet", "/p/*.parquet", "/p/s[X].parquet", "/p/**/a.parquet"]
  ) {
    assert.match(usageError(path), /which DuckDB reads as a file pattern/);
  }
  assert.match(usageError("/p/dir[1]/symbols.parquet"), /contains '\['/);
  for (const path of ["/p/a{b,c}.parquet", "/p/a\\b.parquet", "/p/data/symbols.parquet"]) {
    checkCatalogPath(path, path);
  }
});

Deno.test("names of the tool's own files are refused as catalog names", () => {
  const catalog = "/p/data/symbols.parquet";
  const companions = [
    `${catalog}.lock`,
    `${catalog}.bak`,
    tempPathFor(catalog),
    tempPathFor(`${catalog}.bak`),
    "/p/data/exchanges.parquet",
    "/p/data/EXCHANGES.PARQUET",
    "/p/data/exchanges.parquet.lock",
    "/p/data/exchanges.parquet.bak",
    tempPathFor("/p/data/exchanges.parquet"),
    "/p/data/symbols.runs.parquet", // the run log of symbols.parquet
    "/p/data/.symbols.parquet.1.0a1b2c3d.probe",
  ];
  for (const path of companions) usageError(path);
  checkCatalogPath("/p/data/exchanges.parquet.v2.parquet", "x");
  checkCatalogPath("/p/data/locks.parquet", "x");
});

Deno.test("resolveCatalogPath checks the resolved path: a root with '[' is refused too", async () => {
  await using project = await tempProject("meta-ingest-[x]-");
  await assert.rejects(
    resolveCatalogPath("data/symbols.parquet", project.dir),
    /--catalog-path data\/symbols\.parquet contains '\[' \(it resolves to .*\)/,
  );
});

cliTest(
  "a catalog path with '?' never reads the catalog it would match: exit 2, nothing touched",
  async (cli: Cli) => {
    await using project = await tempProject();
    await using mirror = startMirror();
    await Deno.mkdir(`${project.dir}/gl`);
    const other = `${project.dir}/gl/symbolsX.parquet`;
    await writeSyntheticCatalog(other, { symbols: 5 });
    const bytes = await Deno.readFile(other);
    for (const given of ["gl/symbols?.parquet", "gl/symbols*.parquet", "gl/symbols[X].parquet"]) {
      for (const source of [["--symbols", "NASDAQ:AAPL"], ["--from-catalog"]]) {
        const result = await cli.run(
          [...source, "--catalog-path", given, "--base-url", mirror.url, "--json"],
          { cwd: project.dir },
        );
        assert.equal(result.code, 2, result.stderr);
        assert.equal(JSON.parse(result.stdout).exit_code, 2);
        assert.match(result.stderr, /DuckDB reads as a file pattern/);
      }
    }
    assert.deepEqual(await Deno.readFile(other), bytes);
    assert.deepEqual(await listing(`${project.dir}/gl`), ["symbolsX.parquet"]);
    assert.equal(mirror.stats.requests, 0);
    const [{ n }] = await query("SELECT count(*)::INTEGER AS n FROM read_parquet($1)", [other]);
    assert.equal(n, 5);
  },
);

cliTest(
  "catalog names that collide with companion files are usage errors and destroy nothing",
  async (cli: Cli) => {
    await using project = await tempProject();
    await using mirror = startMirror();
    const names = [
      "x/a.parquet.lock",
      "y/b.parquet.bak",
      "z/exchanges.parquet.lock",
      "z/exchanges.parquet",
      "z/.symbols.parquet.1.0000abcd.tmp",
    ];
    for (const name of names) await project.write(name, "someone's data");
    for (const name of names) {
      const result = await cli.run(
        ["--symbols", "NASDAQ:AAPL", "--catalog-path", name, "--base-url", mirror.url],
        { cwd: project.dir },
      );
      assert.equal(result.code, 2, `${name}: ${result.stderr}`);
      assert.match(result.stderr, /own files|exchanges table/, name);
    }
    for (const name of names) {
      assert.equal(await Deno.readTextFile(`${project.dir}/${name}`), "someone's data", name);
    }
    assert.equal(mirror.stats.requests, 0);
  },
);
