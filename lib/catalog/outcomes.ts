/**
 * What a catalog write can tell its caller without loading DuckDB: the
 * catalog's size, and the write that landed but is not confirmed durable.
 *
 * @module
 */
import { errorMessage, IngestError } from "../core/errors.ts";
import type { NotDurableError } from "../fs/atomic.ts";

/** Size of a catalog. */
export interface CatalogCounts {
  /** Every row, history included. */
  rows: number;
  /** Current rows (`valid_until` null). */
  current: number;
}

/**
 * The merge was written (the new files are in place) but its durability is
 * not confirmed: a folder fsync failed after the rename. `counts` is the new
 * catalog's size.
 */
export class NotDurableWrite extends IngestError {
  /** Size of the catalog now in place. */
  readonly counts: CatalogCounts;

  /** `cause` is the commit's error; `counts` the size of the catalog in place. */
  constructor(cause: NotDurableError, counts: CatalogCounts) {
    super(
      "catalog",
      `the new catalog is in place, but its durability is not confirmed: ${
        errorMessage(cause).split("\n")[0]
      }`,
      "a power cut before the folder reaches disk could bring back the previous version; check the filesystem",
      { cause },
    );
    this.counts = counts;
  }
}
