/**
 * Scratch project roots for tests: a fresh real directory, removed after.
 *
 * @module
 */

/** A temporary project root; `await using` removes it. */
export interface TempProject extends AsyncDisposable {
  /** Real path of the directory. */
  dir: string;
  /** Writes a file relative to the root (creating folders). */
  write(path: string, content: string | Uint8Array): Promise<string>;
}

/**
 * Makes a temporary project root.
 *
 * @example
 * ```ts
 * await using project = await tempProject();
 * await project.write("c.json", "[]");
 * ```
 */
export async function tempProject(prefix = "meta-ingest-test-"): Promise<TempProject> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix }));
  return {
    dir,
    async write(path, content) {
      const full = `${dir}/${path}`;
      await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
      if (typeof content === "string") await Deno.writeTextFile(full, content);
      else await Deno.writeFile(full, content);
      return full;
    },
    async [Symbol.asyncDispose]() {
      await Deno.chmod(dir, 0o755).catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * The names in a folder, sorted.
 *
 * @example
 * ```ts
 * await listing(project.dir); // ["data", "run"]
 * ```
 */
export async function listing(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}
