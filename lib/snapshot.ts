/**
 * Reading one version of a catalog without its lock: what dry runs, probe
 * and status read, as `show` does.
 *
 * Promises: {@linkcode readSnapshot} loads the store's newest version into
 * the catalog, runs `then` on it, and checks the store's files did not
 * change meanwhile; if they did (another run replaced the catalog by
 * rename), it reads again, up to {@linkcode SNAPSHOT_TRIES} times. An error
 * while the files changed is such a change too; on files that did not
 * change it is the error. So
 * everything `then` computes comes from one version, although the view
 * reopens the file per statement.
 *
 * @example
 * ```ts
 * import { readSnapshot } from "./snapshot.ts";
 * import { Catalog } from "./catalog/catalog.ts";
 * import { LocalStore } from "./store/local.ts";
 * await using store = new LocalStore("/p/data/lakehouse/symbols.parquet");
 * await using catalog = await Catalog.open(store.localPath("symbols"));
 * const { value: symbols } = await readSnapshot(store, catalog, () => catalog.activeSymbols());
 * ```
 *
 * @module
 */
import type { Catalog, CatalogCounts } from "./catalog/catalog.ts";
import { IngestError } from "./core/errors.ts";
import type { CatalogStore } from "./store/store.ts";

/** How many times a read that saw the files change under it is tried. */
export const SNAPSHOT_TRIES = 5;

/** The catalog as one snapshot read it. */
export interface Loaded {
  /** Its size. */
  counts: CatalogCounts;
  /** False when there is no catalog yet (it reads as empty). */
  exists: boolean;
}

/**
 * Reads the store's newest version into the catalog; a file that changed
 * while it was read (a local catalog replaced by another run's rename) is
 * read again, so what follows sees one version. `then` runs on that version
 * before it is checked again (the dry run's plan, the targets of
 * `--from-catalog`).
 */
export async function readSnapshot<T>(
  store: CatalogStore,
  catalog: Catalog,
  then: (loaded: Loaded) => Promise<T>,
): Promise<{ loaded: Loaded; value: T }> {
  for (let attempt = 1;; attempt++) {
    const version = await store.read();
    let result: { loaded: Loaded; value: T };
    try {
      const { exists, ...counts } = await catalog.load();
      const loaded = { counts, exists };
      result = { loaded, value: await then(loaded) };
    } catch (err) {
      // A file replaced mid-read fails in odd ways: only an unchanged one is damaged.
      if (attempt < SNAPSHOT_TRIES && !(await store.unchanged(version))) continue;
      throw err;
    }
    if (await store.unchanged(version)) return result;
    if (attempt >= SNAPSHOT_TRIES) {
      throw new IngestError(
        "catalog",
        `catalog ${store.label} kept changing while it was read (${attempt} tries)`,
        "retry when the runs writing it have finished",
      );
    }
  }
}
