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

/** One column of a table we write. */
export interface Column {
  readonly name: string;
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
 * Columns kept since the batch endpoint came (older catalogs lack them, and
 * their rows read them as null). A value where the current row has null is
 * learned, not changed: it never opens a version by itself (it rides along
 * with the next real change), so an old catalog's rows do not all look
 * changed on the first run that knows these columns.
 */
export const LEARNED_FIELDS = [
  "minmove2",
  "fractional",
  "root",
  "expiration",
  "contract_type",
] as const;

/** The staging table of timezone aliases (alias -> canonical), from lib/record/timezones.ts. */
export const TIMEZONE_ALIAS_SCHEMA = [
  { name: "alias", type: "VARCHAR" },
  { name: "canonical", type: "VARCHAR" },
] as const satisfies readonly Column[];

/** Record fields whose value, when the API leaves it null, comes from a default. */
export const DEFAULTED_FIELDS = ["base", "country", "timezone", "session"] as const;

/** The staging table of fetched records: record fields plus `default_*`. */
export const INCOMING_SCHEMA: readonly Column[] = [
  ...RECORD_SCHEMA,
  ...DEFAULTED_FIELDS.map((f) => ({ name: `default_${f}`, type: "VARCHAR" as const })),
];

const FLOAT_TYPES = new Set(["DOUBLE", "FLOAT", "REAL", "DECIMAL"]);

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
 */
export function parquetViewSql(
  view: string,
  variable: string,
  schema: readonly Column[],
  found: ReadonlyMap<string, string>,
): string {
  const known = new Set(schema.map((c) => c.name));
  const select = schema.map((c) => {
    const source = found.get(c.name);
    const id = quoteIdent(c.name);
    if (source === undefined) return `NULL::${c.type} AS ${id}`;
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
  } ` +
    `FROM read_parquet(getvariable('${variable}'))`;
}

/** Sets the session variable holding a file path. $1 = path. */
export function setPathVariableSql(variable: string): string {
  return `SET VARIABLE ${quoteIdent(variable)} = $1`;
}

/** Drops a table or view of that name, whichever it is. */
export function dropRelationSql(name: string): string[] {
  return [`DROP VIEW IF EXISTS ${quoteIdent(name)}`, `DROP TABLE IF EXISTS ${quoteIdent(name)}`];
}

/** Counts a relation's rows. */
export function countRowsSql(table: string): string {
  return `SELECT count(*) AS n FROM ${quoteIdent(table)}`;
}

/** Row and current-row counts of the loaded catalog. */
export const CATALOG_COUNTS =
  "SELECT count(*) AS rows, count(*) FILTER (WHERE valid_until IS NULL) AS current FROM catalog";

/** Symbols whose current row is active (a missing `active` counts as active). */
export const ACTIVE_SYMBOLS =
  "SELECT DISTINCT symbol FROM catalog WHERE valid_until IS NULL AND active IS NOT FALSE AND symbol IS NOT NULL ORDER BY symbol";

/**
 * The run's timestamp: now, or just after the newest `valid_from` if the
 * clock is behind it, so history intervals never run backwards.
 * $1 = now.
 */
export const RUN_TIMESTAMP =
  "SELECT CAST(greatest($1::TIMESTAMP, max(valid_from) + INTERVAL 1 MICROSECOND) AS VARCHAR) AS ts FROM catalog";

/** Size of a written Parquet file (reads it back). $1 = path. */
export const FILE_COUNTS =
  "SELECT count(*) AS rows, count(*) FILTER (WHERE valid_until IS NULL) AS current FROM read_parquet($1)";

/** "Equal" as the history rules mean it: null equals null, doubles within 1e-12. */
const sameValue = (type: Column["type"], x: string, y: string) =>
  type === "DOUBLE"
    ? `((${x} IS NULL AND ${y} IS NULL) OR coalesce(abs(${x} - ${y}) <= 1e-12, false) OR coalesce(isnan(${x}) AND isnan(${y}), false))`
    : `(${x} IS NOT DISTINCT FROM ${y})`;

const isLearned = (name: string) => (LEARNED_FIELDS as readonly string[]).includes(name);

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
 * timezone in its one spelling via the staged `timezone_aliases` and the
 * subtype lower-cased, as incoming values are, so a spelling is never a
 * change),
 * `proposed` (what each symbol's current row should say: API values first,
 * then what the catalog already knows, then built-in defaults, so a null from
 * the API never erases a known value; with $1 = true, definite not-founds
 * become inactive), and `changes` (new, changed and retired symbols).
 */
export const COMPUTE_CHANGES = {
  currentRows: `CREATE OR REPLACE TABLE current_rows AS
   SELECT * REPLACE (
     coalesce(active, true) AS active,
     lower(subtype) AS subtype,
     coalesce((SELECT a.canonical FROM timezone_aliases a WHERE a.alias = catalog.timezone), timezone)
       AS timezone)
   FROM catalog
   WHERE valid_until IS NULL
     AND symbol IN (SELECT symbol FROM incoming UNION ALL SELECT symbol FROM not_found)
   QUALIFY row_number() OVER (PARTITION BY symbol ORDER BY valid_from DESC NULLS LAST) = 1`,
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
   WHERE p.is_new OR NOT (${COMPARED.map((c) => equal(c, "p", "c")).join(" AND ")})`,
};

/** Counts of the diff: new, changed, retired and unchanged (fetched but same). */
export const CHANGE_COUNTS = `SELECT
  count(*) FILTER (WHERE action = 'new') AS new,
  count(*) FILTER (WHERE action = 'changed') AS changed,
  count(*) FILTER (WHERE action = 'retired') AS retired,
  (SELECT count(*) FROM incoming) - count(*) FILTER (WHERE action <> 'retired') AS unchanged
  FROM changes`;

/** Symbols new to the catalog in this run. */
export const NEW_SYMBOLS = "SELECT symbol FROM changes WHERE action = 'new' ORDER BY symbol";

/** Each changed field of each changed or retired symbol, old and new as text. */
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
    return `SELECT symbol, action, '${c.name}' AS field, ${o}::VARCHAR AS old, ${n}::VARCHAR AS new,
            NOT ${unchanged(c, n, o)} AS differs FROM pairs`;
  }).join(" UNION ALL ")
}) WHERE differs ORDER BY symbol, field`;

/**
 * Writes the merged catalog: every old row as it was, except that current
 * rows of changed or retired symbols are closed at the run timestamp, then
 * one new current row per change starting at that same instant. Extra
 * columns a catalog carries (beyond ours) are copied forward from the row
 * being closed. $1 = run timestamp, $2 = output path.
 */
export const WRITE_CATALOG = `COPY (
  SELECT * REPLACE (
    CASE WHEN valid_until IS NULL AND symbol IN (SELECT symbol FROM changes WHERE action <> 'new')
         THEN $1::TIMESTAMP ELSE valid_until END AS valid_until)
  FROM catalog
  UNION ALL BY NAME
  SELECT * FROM (
    SELECT ${cols(RECORD_SCHEMA, "ch.")}, $1::TIMESTAMP AS updated_at, $1::TIMESTAMP AS valid_from,
           NULL::TIMESTAMP AS valid_until, extra.* EXCLUDE (symbol)
    FROM changes ch
    LEFT JOIN (SELECT * EXCLUDE (${
  cols(CATALOG_SCHEMA.filter((c) => c.name !== "symbol"))
}) FROM current_rows) extra
      USING (symbol)
    ORDER BY ch.symbol)
) TO $2 (FORMAT parquet, COMPRESSION zstd)`;

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
