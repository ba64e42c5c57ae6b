/**
 * Every SQL statement meta-ingest runs, in one place.
 *
 * Values always travel as bound parameters (`$1`, `$2`, ...). The only text
 * assembled here is identifiers from the fixed schemas below (and column
 * names found in a catalog file, quoted with {@linkcode quoteIdent}).
 * Statements are set-based: a merge is a handful of statements, never a
 * loop over rows.
 *
 * @example
 * ```ts
 * import { CATALOG_SCHEMA, quoteIdent } from "./sql.ts";
 * CATALOG_SCHEMA.map((c) => quoteIdent(c.name)).join(", ");
 * ```
 *
 * @module
 */

import type { CatalogRecord } from "../record/record.ts";
import { FIELD_RULES, NUMBER_TOLERANCE } from "../record/compare.ts";
import { TIMEZONE_ALIASES } from "../record/timezones.ts";

/** One column of a table we write. */
export interface Column {
  /** The column name, as written to the Parquet file. */
  readonly name: string;
  /** Its DuckDB type. */
  readonly type: "VARCHAR" | "BIGINT" | "DOUBLE" | "BOOLEAN" | "TIMESTAMP";
}

/** The catalog columns compared between runs (a record's fields), in order. */
export const RECORD_SCHEMA = [
  { name: "symbol", type: "VARCHAR" },
  { name: "exchange", type: "VARCHAR" },
  { name: "base", type: "VARCHAR" },
  { name: "quote", type: "VARCHAR" },
  { name: "type", type: "VARCHAR" },
  { name: "subtype", type: "VARCHAR" },
  { name: "profile", type: "VARCHAR" },
  { name: "description", type: "VARCHAR" },
  { name: "sector", type: "VARCHAR" },
  { name: "industry", type: "VARCHAR" },
  { name: "country", type: "VARCHAR" },
  { name: "pricescale", type: "BIGINT" },
  { name: "minmov", type: "BIGINT" },
  { name: "tick_size", type: "DOUBLE" },
  { name: "lot_size", type: "DOUBLE" },
  { name: "contract_size", type: "DOUBLE" },
  { name: "timezone", type: "VARCHAR" },
  { name: "session", type: "VARCHAR" },
  { name: "minmove2", type: "BIGINT" },
  { name: "fractional", type: "BOOLEAN" },
  { name: "root", type: "VARCHAR" },
  { name: "expiration", type: "VARCHAR" },
  { name: "contract_type", type: "VARCHAR" },
  { name: "pointvalue", type: "DOUBLE" },
  { name: "continuous", type: "BOOLEAN" },
  { name: "active", type: "BOOLEAN" },
] as const satisfies readonly (Column & { name: keyof CatalogRecord })[];

/** The catalog's written schema: record fields, then history columns. */
export const CATALOG_SCHEMA = [
  ...RECORD_SCHEMA,
  { name: "updated_at", type: "TIMESTAMP" },
  { name: "valid_from", type: "TIMESTAMP" },
  { name: "valid_until", type: "TIMESTAMP" },
] as const satisfies readonly Column[];

/** The written schema of exchanges.parquet. */
export const EXCHANGES_SCHEMA = [
  { name: "exchange", type: "VARCHAR" },
  { name: "country", type: "VARCHAR" },
  { name: "timezone", type: "VARCHAR" },
  { name: "is_crypto", type: "BOOLEAN" },
  { name: "updated_at", type: "TIMESTAMP" },
] as const satisfies readonly Column[];

/**
 * Columns newer than some catalogs (older catalogs lack them, and their rows
 * read them as null): a value where the current row has null is learned, not
 * changed, so it never opens a version by itself (lib/record/compare.ts,
 * `FIELD_RULES`).
 */
export const LEARNED_FIELDS: readonly string[] = Object.entries(FIELD_RULES)
  .filter(([, rule]) => rule.learned).map(([field]) => field);

/** Record fields whose value, when the API leaves it null, comes from a default. */
export const DEFAULTED_FIELDS = ["base", "country", "timezone", "session"] as const;

/** The staging table of fetched records: record fields plus `default_*`. */
export const INCOMING_SCHEMA: readonly Column[] = [
  ...RECORD_SCHEMA,
  ...DEFAULTED_FIELDS.map((f) => ({ name: `default_${f}`, type: "VARCHAR" as const })),
];

const FLOAT_TYPES = new Set(["DOUBLE", "FLOAT", "REAL", "DECIMAL"]);

/**
 * A text constant of our own code as a SQL string literal (values from
 * outside always travel as bound parameters instead).
 */
function sqlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/**
 * Quotes an identifier for DuckDB.
 *
 * @example
 * ```ts
 * import { quoteIdent } from "./sql.ts";
 * quoteIdent('odd"name'); // "\"odd\"\"name\""
 * ```
 */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

const cols = (schema: readonly Column[], prefix = "") =>
  schema.map((c) => `${prefix}${quoteIdent(c.name)}`).join(", ");

/** `CREATE TABLE` with a schema. */
export function createTableSql(table: string, schema: readonly Column[]): string {
  const body = schema.map((c) => `${quoteIdent(c.name)} ${c.type}`).join(", ");
  return `CREATE OR REPLACE TABLE ${quoteIdent(table)} (${body})`;
}

/** Column names and types of a Parquet file. $1 = path. */
export const DESCRIBE_PARQUET =
  "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet($1))";

/**
 * A view of a Parquet file in our schema: known columns cast to their
 * written type (pandas' TIMESTAMP_NS, a DOUBLE pricescale, NaN as null),
 * missing ones as nulls, extra ones kept after ours. The file is read
 * through the view on demand (streamed, never loaded whole); its path is the
 * session variable `variable`, set with {@linkcode setPathVariableSql}.
 * With `from`, the view reads that relation instead (rows already copied
 * out of such a file, with its columns: see {@linkcode wantedScanSql}).
 */
export function parquetViewSql(
  view: string,
  variable: string,
  schema: readonly Column[],
  found: ReadonlyMap<string, string>,
  from: string = `read_parquet(getvariable('${variable}'))`,
): string {
  const known = new Set(schema.map((c) => c.name));
  const select = schema.map((c) => {
    const source = found.get(c.name);
    const id = quoteIdent(c.name);
    if (source === undefined) return `NULL::${c.type} AS ${id}`;
    if (c.name === "symbol" && source === "VARCHAR") return `${canonicalSymbolSql(id)} AS ${id}`;
    const base = source.replace(/\(.*$/, "");
    if (source === c.type && !FLOAT_TYPES.has(base)) return id;
    if (c.type === "BIGINT" && FLOAT_TYPES.has(base)) {
      return `CASE WHEN ${id} IS NULL OR isnan(${id}::DOUBLE) THEN NULL ELSE CAST(${id} AS BIGINT) END AS ${id}`;
    }
    if (c.type === "DOUBLE" && FLOAT_TYPES.has(base)) {
      return `CASE WHEN isnan(${id}::DOUBLE) THEN NULL ELSE CAST(${id} AS DOUBLE) END AS ${id}`;
    }
    return `CAST(${id} AS ${c.type}) AS ${id}`;
  });
  const extras = [...found.keys()].filter((name) => !known.has(name)).map(quoteIdent);
  return `CREATE OR REPLACE VIEW ${quoteIdent(view)} AS SELECT ${
    [...select, ...extras].join(", ")
  } FROM ${from}`;
}

/**
 * A symbol in its one spelling, as targets are spelled (trimmed,
 * upper-cased): a foreign catalog's `nasdaq:aapl ` is `NASDAQ:AAPL`. Text
 * with anything but printable ASCII is left as it is (upper-casing would
 * turn `ß` into `SS`); such a symbol is never a valid target anyway.
 */
function canonicalSymbolSql(id: string): string {
  return `CASE WHEN regexp_full_match(${id}, '[ -~]*') THEN upper(trim(${id})) ELSE ${id} END`;
}

/**
 * The columns of `schema` that a view of a file with the columns `found`
 * casts (their stored type is not ours): a foreign catalog's DOUBLE
 * pricescale, say.
 */
export function castColumns(
  schema: readonly Column[],
  found: ReadonlyMap<string, string>,
): string[] {
  return schema.filter((c) => {
    const source = found.get(c.name);
    return source !== undefined && source !== c.type;
  }).map((c) => c.name);
}

/**
 * Evaluates every cast a view does over the whole file, so a value that does
 * not fit (a pricescale of 1e20 as BIGINT) fails the load, not the merge.
 * `columns` from {@linkcode castColumns}, non-empty.
 */
export function checkCastsSql(view: string, columns: readonly string[]): string {
  return `SELECT ${columns.map((c) => `count(${quoteIdent(c)})`).join(" + ")} AS n FROM ${
    quoteIdent(view)
  }`;
}

/**
 * Sets the session variable holding a file path. $1 = path.
 *
 * @example
 * ```ts
 * import { setPathVariableSql } from "./sql.ts";
 * setPathVariableSql("catalog_path"); // 'SET VARIABLE "catalog_path" = $1'
 * ```
 */
export function setPathVariableSql(variable: string): string {
  return `SET VARIABLE ${quoteIdent(variable)} = $1`;
}

/**
 * An empty view with a schema: what a missing file loads as. A view, like
 * the one a present file loads as, so {@linkcode dropRelationSql} can drop
 * it on the next load whichever it was.
 */
export function emptyViewSql(view: string, schema: readonly Column[]): string {
  const select = schema.map((c) => `NULL::${c.type} AS ${quoteIdent(c.name)}`).join(", ");
  return `CREATE OR REPLACE VIEW ${quoteIdent(view)} AS SELECT ${select} WHERE false`;
}

/** Drops a table or view of that name, whichever it is. */
export function dropRelationSql(name: string): string[] {
  return [`DROP VIEW IF EXISTS ${quoteIdent(name)}`, `DROP TABLE IF EXISTS ${quoteIdent(name)}`];
}

/** Counts a relation's rows. */
export function countRowsSql(table: string): string {
  return `SELECT count(*) AS n FROM ${quoteIdent(table)}`;
}

/**
 * Row count and current-symbol count of the loaded catalog (a symbol with
 * two current rows counts once).
 */
export const CATALOG_COUNTS =
  "SELECT count(*) AS rows, count(DISTINCT symbol) FILTER (WHERE valid_until IS NULL) AS current FROM catalog";

/**
 * Symbols with more than one current row (`valid_until` null), as a buggy
 * older writer may leave them; the next write closes all but the newest.
 */
export const DUPLICATE_CURRENT = {
  table: `CREATE OR REPLACE TABLE duplicate_current AS
   SELECT symbol FROM catalog WHERE valid_until IS NULL AND symbol IS NOT NULL
   GROUP BY symbol HAVING count(*) > 1`,
  symbols: "SELECT symbol FROM duplicate_current ORDER BY symbol",
};

/** The Parquet key-value metadata key of a catalog's row checksum. */
export const CHECKSUM_KEY = "meta_ingest_rows_checksum";

/**
 * The Parquet key-value metadata key naming the DuckDB version that computed
 * the checksum: DuckDB's `hash()` is not stable across its versions, so a
 * checksum from another version cannot be checked (it is accepted, and
 * replaced on the next write).
 */
export const CHECKSUM_ENGINE_KEY = "meta_ingest_checksum_engine";

/** The DuckDB version computing checksums now. */
export const ENGINE_VERSION = "SELECT version() AS engine";

/**
 * The columns the `v1` checksum covers: the catalog's own columns when v1
 * was made. Frozen: a catalog written with a v1 checksum must stay
 * verifiable after the schema grows, so a new column goes into a new
 * version's list, never into this one.
 */
export const CHECKSUM_V1_COLUMNS: readonly string[] = [
  "symbol",
  "exchange",
  "base",
  "quote",
  "type",
  "subtype",
  "profile",
  "description",
  "sector",
  "industry",
  "country",
  "pricescale",
  "minmov",
  "tick_size",
  "lot_size",
  "contract_size",
  "timezone",
  "session",
  "minmove2",
  "fractional",
  "root",
  "expiration",
  "contract_type",
  "active",
  "updated_at",
  "valid_from",
  "valid_until",
];

/**
 * The columns the `v2` checksum covers: v1's and the columns added with it
 * (`pointvalue`, `continuous`). Frozen, as v1's.
 */
export const CHECKSUM_V2_COLUMNS: readonly string[] = [
  ...CHECKSUM_V1_COLUMNS,
  "pointvalue",
  "continuous",
];

/** Each checksum version this tool knows, by its prefix, and the columns it covers. */
export const CHECKSUM_VERSIONS: Readonly<Record<string, readonly string[]>> = {
  "v1:": CHECKSUM_V1_COLUMNS,
  "v2:": CHECKSUM_V2_COLUMNS,
};

/** The version prefix of the checksums this tool writes. */
export const CHECKSUM_VERSION = "v2:";

/**
 * An order-independent checksum of a relation's rows over a version's
 * columns: `v2:<rows>:<sum of hash(row)>`. Set-based and streamed, so cheap
 * on a million rows; it catches accidental damage, not an attacker who can
 * rewrite the file (and its checksum).
 */
function checksumExpr(version: string = CHECKSUM_VERSION): string {
  const columns = CHECKSUM_VERSIONS[version];
  return `'${version}' || count(*)::VARCHAR || ':' || coalesce(sum(hash(${
    columns.map(quoteIdent).join(", ")
  })), 0)::VARCHAR`;
}
const checksumOf = (relation: string, version?: string) =>
  `SELECT ${checksumExpr(version)} AS checksum FROM ${relation}`;

/**
 * The checksum stored in a Parquet file's key-value metadata and the DuckDB
 * version that computed it, each null when absent. $1 = path.
 */
export const STORED_CHECKSUM =
  `SELECT max(value::VARCHAR) FILTER (WHERE key::VARCHAR = '${CHECKSUM_KEY}') AS checksum,
          max(value::VARCHAR) FILTER (WHERE key::VARCHAR = '${CHECKSUM_ENGINE_KEY}') AS engine
   FROM parquet_kv_metadata($1)`;

/**
 * The checksum of a Parquet file's rows as stored, in the checksum version
 * `version` (a key of {@linkcode CHECKSUM_VERSIONS}): no casts, compared with
 * {@linkcode STORED_CHECKSUM} on load. $1 = path.
 */
export function fileChecksumSql(version: string): string {
  return checksumOf("read_parquet($1)", version);
}

/** Every symbol with a current row (active or retired): the symbols the catalog knows. */
export const CURRENT_SYMBOLS =
  "SELECT DISTINCT symbol FROM catalog WHERE valid_until IS NULL AND symbol IS NOT NULL ORDER BY symbol";

/** Symbols whose current row is active (a missing `active` counts as active). */
export const ACTIVE_SYMBOLS =
  "SELECT DISTINCT symbol FROM catalog WHERE valid_until IS NULL AND active IS NOT FALSE AND symbol IS NOT NULL ORDER BY symbol";

/**
 * A written Parquet file read back in one pass: its rows' checksum (as
 * {@linkcode FILE_CHECKSUM}), its size and its current symbols. $1 = path.
 */
export const FILE_SUMMARY: string =
  `SELECT ${checksumExpr()} AS checksum, count(*) AS rows, count(DISTINCT symbol) FILTER (WHERE valid_until IS NULL) AS current FROM read_parquet($1)`;

/**
 * A read of named symbols in one pass over the file (`meta-ingest show`):
 * the rows whose symbol (in its one spelling, as the view spells it) is in
 * `$symbols` (VARCHAR[]) are copied, as the file holds them, into the temp
 * table `wanted_rows`, and with a `checksumVersion` the same pass computes
 * the checksum of every row in that version ({@linkcode fileChecksumSql}'s) into
 * `wanted_scan.checksum`, so verifying costs no second read. `$path` = the
 * file; `found` = its columns and types. Two statements, run in order; the
 * second reads no file. The rows travel packed whole in one struct, so
 * nothing meets a column of the file's own.
 */
export function wantedScanSql(
  found: ReadonlyMap<string, string>,
  checksumVersion: string | null,
): string[] {
  const id = quoteIdent("symbol");
  const symbol = found.get("symbol") === "VARCHAR"
    ? canonicalSymbolSql(id)
    : `CAST(${id} AS VARCHAR)`;
  return [
    `CREATE OR REPLACE TEMP TABLE wanted_scan AS
     SELECT ${checksumVersion ? checksumExpr(checksumVersion) : "NULL::VARCHAR"} AS checksum,
       list(struct_pack(*COLUMNS(*))) FILTER (WHERE list_contains($symbols::VARCHAR[], ${symbol}))
         AS rows
     FROM read_parquet($path)`,
    `CREATE OR REPLACE TEMP TABLE wanted_rows AS
     SELECT unnest(rows, recursive := true) FROM wanted_scan`,
  ];
}

/** The checksum {@linkcode wantedScanSql} computed. */
export const WANTED_CHECKSUM = "SELECT checksum FROM wanted_scan";

/**
 * The order that makes a symbol's current row "the newest" when a damaged
 * catalog holds several: latest `valid_from`, then latest `updated_at`, then
 * the whole row as text, so the pick never depends on the file's row order
 * (deterministic for the same rows). Used where the merge compares against
 * the current row and where it repairs duplicates, so both pick the same row.
 */
const NEWEST_FIRST =
  "valid_from DESC NULLS LAST, updated_at DESC NULLS LAST, row(*COLUMNS(*))::VARCHAR";

/**
 * A column's value in its one spelling, as `normalised` in
 * lib/record/compare.ts does it: timezone aliases to their canonical zone,
 * `type` and `subtype` lower-cased; other columns as they are. `expr` is the
 * SQL of the value. The alias table is our own constant, written as literals.
 *
 * @example
 * ```ts
 * import { normalisedSql } from "./sql.ts";
 * normalisedSql("subtype", '"subtype"'); // 'lower("subtype")'
 * ```
 */
export function normalisedSql(column: string, expr: string): string {
  const rule = (FIELD_RULES as Record<string, { normalise: string } | undefined>)[column];
  switch (rule?.normalise) {
    case "lower":
      return `lower(${expr})`;
    case "timezone":
      return `CASE ${expr} ${
        Object.entries(TIMEZONE_ALIASES).map(([alias, canonical]) =>
          `WHEN ${literal(alias)} THEN ${literal(canonical)}`
        ).join(" ")
      } ELSE ${expr} END`;
    default:
      return expr;
  }
}

/** A text literal (for our own constants only; values from outside are bound). */
function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/**
 * "Equal" as lib/record/compare.ts means it, on values already normalised:
 * null equals null, numbers within its tolerance.
 */
const sameValue = (type: Column["type"], x: string, y: string) =>
  type === "DOUBLE"
    ? `((${x} IS NULL AND ${y} IS NULL) OR coalesce(abs(${x} - ${y}) <= ${NUMBER_TOLERANCE}, false) OR coalesce(isnan(${x}) AND isnan(${y}), false))`
    : `(${x} IS NOT DISTINCT FROM ${y})`;

const isLearned = (name: string) => LEARNED_FIELDS.includes(name);

/**
 * "Unchanged" for a column: equal values, or (for a learned column) no
 * value yet in the current row `old`.
 */
const unchanged = (c: Column, fresh: string, old: string) =>
  isLearned(c.name) ? `(${old} IS NULL OR ${sameValue(c.type, fresh, old)})` : sameValue(
    c.type,
    fresh,
    old,
  );

const equal = (c: Column, a: string, b: string) =>
  unchanged(c, `${a}.${quoteIdent(c.name)}`, `${b}.${quoteIdent(c.name)}`);

const COMPARED = RECORD_SCHEMA.filter((c) => c.name !== "symbol");

/**
 * The SCD2 diff of this run, in three statements run in order:
 * `current_rows` (the latest current row of each symbol in the run; a
 * missing `active` counts as true, as in {@linkcode ACTIVE_SYMBOLS}; the
 * values in their one spelling, {@linkcode normalisedSql}, as incoming
 * values are, so a spelling is never a change),
 * `proposed` (what each symbol's current row should say: API values first,
 * then what the catalog already knows, then built-in defaults, so a null from
 * the API never erases a known value; with $1 = true, definite not-founds
 * become inactive), and `changes` (new, changed and retired symbols).
 */
export const COMPUTE_CHANGES = {
  currentRows: `CREATE OR REPLACE TABLE current_rows AS
   SELECT row.* REPLACE (
     coalesce(row.active, true) AS active,
     ${
    RECORD_SCHEMA.filter((c) => normalisedSql(c.name, "x") !== "x").map((c) =>
      `${normalisedSql(c.name, `row.${quoteIdent(c.name)}`)} AS ${quoteIdent(c.name)}`
    ).join(",\n     ")
  })
   FROM (
     -- The row packed whole (see MERGED): the rank beside it never meets a catalog column.
     SELECT struct_pack(*COLUMNS(*)) AS row,
       row_number() OVER (PARTITION BY symbol ORDER BY ${NEWEST_FIRST}) AS rank
     FROM catalog
     WHERE valid_until IS NULL
       AND symbol IN (SELECT symbol FROM incoming UNION ALL SELECT symbol FROM not_found))
   WHERE rank = 1`,
  /** Run symbols whose current version starts after the run: left alone. $1 = run timestamp. */
  skewed: `CREATE OR REPLACE TABLE skewed AS
   SELECT symbol, valid_from FROM current_rows WHERE valid_from > $1::TIMESTAMP`,
  /** $1 = retire not-found symbols. */
  proposed: `CREATE OR REPLACE TABLE proposed AS
   SELECT ${
    RECORD_SCHEMA.map((c) => {
      const id = quoteIdent(c.name);
      if (c.name === "symbol") return `i.${id}`;
      if (c.name === "active") return `true AS ${id}`;
      if (
        c.name === "profile"
      ) return `coalesce(nullif(i.${id}, 'UNKNOWN'), c.${id}, 'UNKNOWN') AS ${id}`;
      if ((DEFAULTED_FIELDS as readonly string[]).includes(c.name)) {
        return `coalesce(i.${id}, c.${id}, i.${quoteIdent(`default_${c.name}`)}) AS ${id}`;
      }
      return `coalesce(i.${id}, c.${id}) AS ${id}`;
    }).join(", ")
  }, c.symbol IS NULL AS is_new
   FROM incoming i LEFT JOIN current_rows c USING (symbol)
   UNION ALL BY NAME
   SELECT ${
    cols(RECORD_SCHEMA.filter((c) => c.name !== "active"), "c.")
  }, false AS active, false AS is_new
   FROM current_rows c JOIN not_found n USING (symbol)
   WHERE $1::BOOLEAN AND c.active IS NOT FALSE`,
  changes: `CREATE OR REPLACE TABLE changes AS
   SELECT p.* EXCLUDE (is_new),
          CASE WHEN p.is_new THEN 'new' WHEN NOT p.active THEN 'retired' ELSE 'changed' END AS action
   FROM proposed p LEFT JOIN current_rows c USING (symbol)
   WHERE (p.is_new OR NOT (${COMPARED.map((c) => equal(c, "p", "c")).join(" AND ")}))
     AND p.symbol NOT IN (SELECT symbol FROM skewed)`,
};

/**
 * Run symbols left alone for clock skew, with their current `valid_from`:
 * fetched ones (not merged) and not-found ones about to be retired (not
 * retired).
 */
export const SKEWED_SYMBOLS = `SELECT symbol, CAST(valid_from AS VARCHAR) AS valid_from
  FROM skewed ORDER BY symbol`;

/** Guard before a write: changes whose current row starts after $1 (must be 0). */
export const CHANGES_AFTER = `SELECT count(*) AS n FROM changes JOIN current_rows USING (symbol)
  WHERE current_rows.valid_from > $1::TIMESTAMP`;

/** Counts of the diff: new, changed, retired and unchanged (fetched but same). */
export const CHANGE_COUNTS = `SELECT
  count(*) FILTER (WHERE action = 'new') AS new,
  count(*) FILTER (WHERE action = 'changed') AS changed,
  count(*) FILTER (WHERE action = 'retired') AS retired,
  (SELECT count(*) FROM incoming WHERE symbol NOT IN (SELECT symbol FROM skewed))
    - count(*) FILTER (WHERE action <> 'retired') AS unchanged
  FROM changes`;

/** Symbols new to the catalog in this run. */
export const NEW_SYMBOLS = "SELECT symbol FROM changes WHERE action = 'new' ORDER BY symbol";

/**
 * Each field that moves, for each changed or retired symbol, old and new as
 * text: learned values (see {@linkcode LEARNED_FIELDS}) included, since they
 * are written with the change.
 */
export const FIELD_CHANGES = `WITH pairs AS (
    SELECT ch.symbol, ch.action, ${
  COMPARED.map((c) => {
    const id = quoteIdent(c.name);
    return `ch.${id} AS ${quoteIdent(`new_${c.name}`)}, c.${id} AS ${quoteIdent(`old_${c.name}`)}`;
  }).join(", ")
}
    FROM changes ch JOIN current_rows c USING (symbol) WHERE ch.action <> 'new')
  SELECT symbol, action, field, old, new FROM (${
  COMPARED.map((c) => {
    const [n, o] = [quoteIdent(`new_${c.name}`), quoteIdent(`old_${c.name}`)];
    // Every field whose value moves is listed, learned ones included (a
    // value where the current row had null): what is written is what is said.
    return `SELECT symbol, action, '${c.name}' AS field, ${o}::VARCHAR AS old, ${n}::VARCHAR AS new,
            NOT ${sameValue(c.type, n, o)} AS differs FROM pairs`;
  }).join(" UNION ALL ")
}) WHERE differs ORDER BY symbol, field`;

/**
 * The merged catalog: every old row as it was, except that current rows of
 * changed or retired symbols are closed at the run timestamp, and duplicate
 * current rows (see {@linkcode DUPLICATE_CURRENT}) are closed at the newest
 * one's `valid_from`; then one new current row per change starting at the
 * run timestamp. Extra columns a catalog carries (beyond ours) are copied
 * forward from the row being closed. $1 = run timestamp.
 */
const CLOSE_CHANGED = `WHEN symbol IN (SELECT symbol FROM changes WHERE action <> 'new')
         THEN $1::TIMESTAMP`;
const MERGED = `
  SELECT * REPLACE (
    CASE WHEN valid_until IS NOT NULL THEN valid_until ${CLOSE_CHANGED} END AS valid_until)
  FROM catalog
  WHERE valid_until IS NOT NULL OR symbol IS NULL
     OR symbol NOT IN (SELECT symbol FROM duplicate_current)
  UNION ALL BY NAME
  SELECT row.* REPLACE (
    CASE WHEN rank > 1 THEN coalesce(newest_from, row.valid_from, $1::TIMESTAMP)
         WHEN row.symbol IN (SELECT symbol FROM changes WHERE action <> 'new')
         THEN $1::TIMESTAMP END AS valid_until)
  FROM (
    -- Each row packed whole into one struct, so the helper columns beside it
    -- (rank, newest_from) can never meet a column of the catalog's own.
    SELECT struct_pack(*COLUMNS(*)) AS row,
      row_number() OVER (PARTITION BY symbol ORDER BY ${NEWEST_FIRST}) AS rank,
      max(valid_from) OVER (PARTITION BY symbol) AS newest_from
    FROM catalog
    WHERE valid_until IS NULL AND symbol IN (SELECT symbol FROM duplicate_current))
  UNION ALL BY NAME
  SELECT * FROM (
    SELECT ${cols(RECORD_SCHEMA, "ch.")}, $1::TIMESTAMP AS updated_at, $1::TIMESTAMP AS valid_from,
           NULL::TIMESTAMP AS valid_until, extra.* EXCLUDE (symbol)
    FROM changes ch
    LEFT JOIN (SELECT * EXCLUDE (${
  cols(CATALOG_SCHEMA.filter((c) => c.name !== "symbol"))
}) FROM current_rows) extra
      USING (symbol)
    ORDER BY ch.symbol)`;

/** The checksum of the merged catalog about to be written. $1 = run timestamp. */
export const MERGED_CHECKSUM: string = checksumOf(`(${MERGED})`);

/**
 * Writes the merged catalog with its row checksum in the Parquet key-value
 * metadata. $1 = run timestamp, $2 = output path, $3 = checksum, $4 = the
 * DuckDB version that computed it.
 */
export const WRITE_CATALOG = `COPY (${MERGED}
) TO $2 (FORMAT parquet, COMPRESSION zstd, KV_METADATA {${CHECKSUM_KEY}: $3, ${CHECKSUM_ENGINE_KEY}: $4})`;

/** Exchanges whose built-in row differs from (or is missing in) exchanges.parquet. */
export const EXCHANGE_CHANGES = `CREATE OR REPLACE TABLE exchange_changes AS
  SELECT n.* FROM incoming_exchanges n LEFT JOIN exchanges o USING (exchange)
  WHERE o.exchange IS NULL OR NOT (${
  EXCHANGES_SCHEMA.filter((c) => c.name !== "exchange" && c.name !== "updated_at")
    .map((c) => equal(c, "n", "o")).join(" AND ")
})`;

/** Number of exchange rows to upsert. */
export const EXCHANGE_CHANGE_COUNT = "SELECT count(*) AS n FROM exchange_changes";

/** Writes exchanges.parquet with the upserted rows. $1 = run timestamp, $2 = path. */
export const WRITE_EXCHANGES = `COPY (
  SELECT * FROM exchanges WHERE exchange NOT IN (SELECT exchange FROM exchange_changes)
  UNION ALL BY NAME
  SELECT *, $1::TIMESTAMP AS updated_at FROM exchange_changes
  ORDER BY exchange
) TO $2 (FORMAT parquet, COMPRESSION zstd)`;

/** What a read (`meta-ingest show`) picks from the catalog. */
export type ReadSelection = "current" | "as-of" | "history" | "changed-since";

/**
 * What a {@linkcode readSql} statement returns, column by column (named by
 * position, `h0`.., never by a catalog column's name, so no helper can meet
 * a column of the user's; read them by position): `kind` (0 a row, 1 a
 * named symbol without an answer, 2 the end: one last row, so a stream
 * that stops before it is known to have failed), `ord` (the row's place among its
 * symbol's picked versions, from 1), `first` (no earlier picked version),
 * `changes` (JSON text: the fields that differ from the previous picked
 * version, `[{field, old, new}]` with values as text; null without
 * diffs), `symbol` (the sort key) and `values`: every value of the row as
 * one text, fields separated by U+001F, in the order of the catalog's
 * columns then its extra ones, each as DuckDB writes it as text (a
 * timestamp `YYYY-MM-DD HH:MM:SS[.ffffff]`, UTC), `\` and U+001F escaped
 * as `\\` and `\u`, a null as `\N` (for `kind` 1, the symbol alone). One
 * text per row, because handing DuckDB's values over one by one costs far
 * more than splitting a string ({@linkcode decodeReadValues} undoes it).
 */
export const READ_OUTPUT = ["kind", "ord", "first", "changes", "symbol", "values"] as const;

/** The field separator of {@linkcode READ_OUTPUT}'s `values`. */
const VALUE_SEPARATOR = "\x1f";

/** A value as one field of `values` (see {@linkcode READ_OUTPUT}). */
const encodedValue = (expr: string) =>
  `coalesce(replace(replace(CAST(${expr} AS VARCHAR), '\\', '\\\\'), chr(31), '\\u'), '\\N')`;

/**
 * The fields of one `values` text of {@linkcode READ_OUTPUT}, each as
 * DuckDB wrote it, null for a null.
 *
 * @example
 * ```ts
 * import { decodeReadValues } from "./sql.ts";
 * decodeReadValues("NASDAQ:AAPL\x1f\\N\x1fa\\\\b"); // ["NASDAQ:AAPL", null, "a\\b"]
 * ```
 */
export function decodeReadValues(text: string): (string | null)[] {
  return text.split(VALUE_SEPARATOR).map((field) =>
    field === "\\N"
      ? null
      : field.includes("\\")
      ? field.replace(/\\(.)/gs, (_, c: string) => c === "u" ? VALUE_SEPARATOR : c)
      : field
  );
}

/** A catalog column as reads show and compare it (a missing `active` is true). */
function readColumn(name: string): string {
  const id = quoteIdent(name);
  return name === "active" ? `coalesce(${id}, true)` : id;
}

/**
 * The one statement a read prints from (`meta-ingest show`), streamed in
 * order. It reads the `catalog` view only. What it picks:
 * - `current`: each symbol's current row (`valid_until` null);
 * - `as-of`: the row valid at `$at` (`valid_from <= $at < valid_until`; a
 *   null `valid_until` is still valid, a null `valid_from`, as in old
 *   Python catalogs, counts as valid from the start);
 * - `history`: every row;
 * - `changed-since`: for symbols whose current row began after `$at`, the
 *   current row, diffed against the row valid at `$at` (if any).
 * One row per symbol for `current` and `as-of`: should a damaged catalog
 * hold several, the newest in the merge's own order (`NEWEST_FIRST`). A
 * missing `active` reads as true. Changes compare values as the merge
 * does: normalised ({@linkcode normalisedSql}), null equals null, doubles
 * within 1e-12. Output: {@linkcode READ_OUTPUT} (the values: the
 * catalog's columns in schema order, then `extras`); rows by symbol,
 * oldest version first, then named symbols without an answer (not picked,
 * or for `changed-since` not in the catalog at all), sorted. Named
 * parameters: `$symbols` (VARCHAR[], unless `allSymbols`) and `$at` (a
 * TIMESTAMP text, for `as-of` and `changed-since`).
 *
 * No name of its own can meet a column of the catalog's, whatever extra
 * columns it has: every relation it builds has exactly the catalog's
 * columns (`SELECT *`, filters, `QUALIFY` instead of a rank column), the
 * helpers (`ord`, `changes`, ...) are computed in the last SELECT only and
 * named by position (`h0`..`h5`), and the order is by ordinal.
 */
export function readSql(
  selection: ReadSelection,
  allSymbols: boolean,
  extras: readonly string[],
): string {
  // Named symbols: their rows are copied out of the file once (few), and
  // everything after reads that copy; every symbol: the file itself.
  const from = allSymbols ? "catalog" : "wanted";
  const ctes: string[] = allSymbols ? [] : [
    `wanted AS MATERIALIZED (SELECT * FROM catalog WHERE list_contains($symbols::VARCHAR[], symbol))`,
  ];
  const validAt =
    "coalesce(valid_from <= $at::TIMESTAMP, true) AND coalesce($at::TIMESTAMP < valid_until, true)";
  const diffs = selection === "history" || selection === "changed-since";
  // Read twice with named symbols (the rows, and which went unanswered): computed once.
  const once = allSymbols ? "" : "MATERIALIZED";
  if (!diffs) {
    const where = `symbol IS NOT NULL AND ${
      selection === "current" ? "valid_until IS NULL" : validAt
    }`;
    // Only symbols with several candidate rows pay for the full order
    // (NEWEST_FIRST ends in the row as text, dear on a million rows).
    ctes.push(
      `several AS (SELECT symbol FROM ${from} WHERE ${where} GROUP BY symbol HAVING count(*) > 1)`,
      `picked AS ${once} (
        SELECT * FROM ${from} WHERE ${where} AND symbol NOT IN (SELECT symbol FROM several)
        UNION ALL
        -- The row packed whole beside its rank (as the merge does), then unpacked.
        SELECT row.* FROM (
          SELECT struct_pack(*COLUMNS(*)) AS row,
            row_number() OVER (PARTITION BY symbol ORDER BY ${NEWEST_FIRST}) AS rank
          FROM ${from} WHERE ${where} AND symbol IN (SELECT symbol FROM several))
        WHERE rank = 1)`,
    );
  } else {
    const where = selection === "history" ? "symbol IS NOT NULL" : `symbol IS NOT NULL
        AND symbol IN (SELECT symbol FROM ${from} WHERE valid_until IS NULL AND valid_from > $at::TIMESTAMP)
        AND (valid_until IS NULL OR (${validAt}))`;
    ctes.push(`picked AS ${once} (SELECT * FROM ${from} WHERE ${where})`);
  }
  // Versions of a symbol, oldest first (a hash of the whole row breaks exact ties).
  const ord = diffs ? "row_number() OVER w" : "1::BIGINT";
  const changes = diffs
    ? `to_json(CASE WHEN ${ord} = 1 THEN [] ELSE list_filter([${
      COMPARED.map((c) => {
        const now = readColumn(c.name);
        const before = `lag(${now}) OVER w`;
        const same = sameValue(c.type, normalisedSql(c.name, now), normalisedSql(c.name, before));
        return `CASE WHEN NOT ${same} THEN {'field': ${
          sqlString(c.name)
        }, 'old': (${before})::VARCHAR, 'new': (${now})::VARCHAR} END`;
      }).join(", ")
    }], lambda c: c IS NOT NULL) END)::VARCHAR`
    : "NULL::VARCHAR";
  const columns = [...CATALOG_SCHEMA.map((c) => c.name as string), ...extras];
  const values = columns.map((name) => encodedValue(readColumn(name)));
  let unknown = "";
  if (!allSymbols) {
    const found = selection === "changed-since" ? "wanted" : "picked";
    unknown = `UNION ALL
      SELECT 1, NULL, NULL, NULL, s, ${encodedValue("s")}
      FROM unnest($symbols::VARCHAR[]) AS t(s)
      WHERE s NOT IN (SELECT symbol FROM ${found} WHERE symbol IS NOT NULL)`;
  }
  return `WITH ${ctes.join(",\n")}
    SELECT 0 AS h0, ${ord} AS h1, ${ord} = 1 AS h2, ${changes} AS h3, symbol AS h4,
      concat_ws(chr(31), ${values.join(", ")}) AS h5
    FROM picked
    ${
    diffs
      ? `WINDOW w AS (PARTITION BY symbol
          ORDER BY valid_from NULLS FIRST, valid_until NULLS LAST, hash(${
        columns.map(quoteIdent).join(", ")
      }))`
      : ""
  }
    ${selection === "changed-since" ? "QUALIFY valid_until IS NULL" : ""}
    ${unknown}
    UNION ALL SELECT 2, NULL, NULL, NULL, NULL, ''
    ORDER BY 1, 5, 2`;
}

/**
 * The run log's schema (`<catalog>.runs.parquet`): rows of two kinds.
 * `kind = 'check'`: one per symbol ever attempted: `checked_at` (the last
 * time the scanner answered for it, found or definitely not found),
 * `attempted_at` and `outcome` of the last attempt, and its `run_id`.
 * `kind = 'run'`: one per run (the last {@linkcode RUN_LOG_KEEP}):
 * `run_id, started_at, finished_at, endpoint, host, exit_code, summary`
 * (a JSON object of the run's counts).
 */
export const RUN_LOG_SCHEMA = [
  { name: "kind", type: "VARCHAR" },
  { name: "symbol", type: "VARCHAR" },
  { name: "checked_at", type: "TIMESTAMP" },
  { name: "attempted_at", type: "TIMESTAMP" },
  { name: "outcome", type: "VARCHAR" },
  { name: "run_id", type: "VARCHAR" },
  { name: "started_at", type: "TIMESTAMP" },
  { name: "finished_at", type: "TIMESTAMP" },
  { name: "endpoint", type: "VARCHAR" },
  { name: "host", type: "VARCHAR" },
  { name: "exit_code", type: "BIGINT" },
  { name: "summary", type: "VARCHAR" },
] as const satisfies readonly Column[];

/** Runs the run log keeps (the newest). */
export const RUN_LOG_KEEP = 100;

/** The staging table of this run's attempts: symbol and outcome. */
export const RUN_CHECKS_SCHEMA = [
  { name: "symbol", type: "VARCHAR" },
  { name: "outcome", type: "VARCHAR" },
] as const satisfies readonly Column[];

/**
 * Writes the run log with this run added: each attempted symbol's check
 * row upserted (`checked_at` moves only when the scanner answered), the
 * other symbols' rows as they were, the newest runs kept and this one
 * added. $1 = finished_at, $2 = output path, $3 = run_id, $4 = started_at,
 * $5 = endpoint, $6 = host, $7 = exit_code, $8 = summary (JSON text).
 */
export const WRITE_RUN_LOG = `COPY (
  SELECT ${cols(RUN_LOG_SCHEMA)} FROM runlog
  WHERE kind = 'check' AND symbol NOT IN (SELECT symbol FROM run_checks)
  UNION ALL BY NAME
  SELECT 'check' AS kind, n.symbol,
         CASE WHEN n.outcome IN ('fetched', 'not-found') THEN $1::TIMESTAMP ELSE o.checked_at END
           AS checked_at,
         $1::TIMESTAMP AS attempted_at, n.outcome, $3 AS run_id
  FROM run_checks n LEFT JOIN (SELECT symbol, checked_at FROM runlog WHERE kind = 'check') o
    USING (symbol)
  UNION ALL BY NAME
  SELECT * FROM (SELECT ${cols(RUN_LOG_SCHEMA)} FROM runlog WHERE kind = 'run'
    ORDER BY finished_at DESC NULLS LAST LIMIT ${RUN_LOG_KEEP - 1})
  UNION ALL BY NAME
  SELECT 'run' AS kind, $3 AS run_id, $4::TIMESTAMP AS started_at, $1::TIMESTAMP AS finished_at,
         $5 AS endpoint, $6 AS host, $7::BIGINT AS exit_code, $8 AS summary
  ORDER BY kind, symbol, finished_at
) TO $2 (FORMAT parquet, COMPRESSION zstd)`;

/** What `status` reads of the catalog: rows, current and retired symbols. */
export const STATUS_TOTALS = `SELECT count(*) AS rows,
  count(DISTINCT symbol) FILTER (WHERE valid_until IS NULL) AS current,
  count(DISTINCT symbol) FILTER (WHERE valid_until IS NULL AND active IS FALSE) AS retired
  FROM catalog`;

/** Current symbols by exchange and type (active ones; retired ones are counted apart). */
export const STATUS_BREAKDOWN = `SELECT coalesce(exchange, '') AS exchange,
  coalesce(type, '') AS type, count(DISTINCT symbol) AS symbols
  FROM catalog WHERE valid_until IS NULL AND active IS NOT FALSE
  GROUP BY ALL ORDER BY exchange, type`;

/** The newest runs of the run log, newest first; $1 = how many. */
export const STATUS_RUNS = `SELECT run_id, CAST(started_at AS VARCHAR) AS started_at,
  CAST(finished_at AS VARCHAR) AS finished_at, endpoint, host, exit_code, summary
  FROM runlog WHERE kind = 'run' ORDER BY finished_at DESC NULLS LAST LIMIT $1::BIGINT`;

/**
 * Each active current symbol with its last check (null: never checked
 * since the run log began), stalest first; `$stale` (a TIMESTAMP text)
 * marks those checked before it (or never) as stale.
 */
export const STATUS_CHECKS = `SELECT c.symbol, CAST(l.checked_at AS VARCHAR) AS checked_at,
  CAST(l.attempted_at AS VARCHAR) AS attempted_at, l.outcome,
  coalesce(l.checked_at < $stale::TIMESTAMP, true) AS stale
  FROM (SELECT DISTINCT symbol FROM catalog
        WHERE valid_until IS NULL AND active IS NOT FALSE AND symbol IS NOT NULL) c
  LEFT JOIN (SELECT symbol, checked_at, attempted_at, outcome FROM runlog WHERE kind = 'check') l
    USING (symbol)
  ORDER BY l.checked_at NULLS FIRST, c.symbol`;
