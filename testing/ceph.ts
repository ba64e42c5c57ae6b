/**
 * A real S3 store for the tests: a one-node Ceph cluster (one monitor, one
 * OSD on `memstore`, radosgw with beast) on loopback, in a temp folder, with
 * one S3 user. Debian's `ceph-mon ceph-osd radosgw` packages provide it; see
 * /work/shared/notes/ceph-one-node.md for the settings and why.
 *
 * - {@linkcode startCeph} starts one and answers its endpoint and keys;
 *   `stop()` (or `await using`) stops every daemon by the PID in its pid file
 *   (SIGTERM, then SIGKILL) and removes the folder. A watchdog stops it too
 *   when the owning process is gone, however it ended.
 * - {@linkcode sharedCeph} is for test files: the store named by
 *   `META_TEST_S3` (JSON, as `make test` sets it), else one store per test
 *   process, shared by its test modules, stopped when the process ends.
 * - {@linkcode freshBucket} makes a bucket of a unique name, so tests never
 *   share one.
 * - {@linkcode s3Test} registers a test that needs the store; when Ceph is
 *   not installed (and no `META_TEST_S3` is set) it is registered as ignored,
 *   with the reason in its name.
 *
 * As a process (for `make test`): `deno run -A testing/ceph.ts start
 * [--owner PID]` starts a store and prints its `META_TEST_S3` JSON on stdout
 * (nothing when Ceph is not installed); `... stop JSON` stops it.
 *
 * @module
 */
import { AwsClient } from "aws4fetch";
import { join } from "node:path";
import { z } from "zod";
import { delay } from "../lib/std/delay.ts";

/** Where tests find the store: what `META_TEST_S3` holds. */
export interface S3TestStore {
  /** `http://127.0.0.1:PORT` */
  endpoint: string;
  /** The signing region (Ceph accepts any). */
  region: string;
  /** The S3 user's key id. */
  accessKeyId: string;
  /** The S3 user's secret. */
  secretAccessKey: string;
  /** The cluster's folder (for `stop`), when this machine runs it. */
  dir?: string;
}

/** A running Ceph store this process started. */
export interface CephStore extends S3TestStore, AsyncDisposable {
  /** The cluster's folder. */
  dir: string;
  /** Milliseconds from the first command to the first S3 answer. */
  startupMs: number;
  /** Resident memory of the three daemons now, in bytes. */
  memoryBytes(): Promise<number>;
  /**
   * Stops only the gateway (SIGTERM, then SIGKILL): the endpoint then
   * refuses connections; the data stays.
   */
  stopGateway(): Promise<void>;
  /** Starts the gateway again on the same port and waits for its first answer. */
  startGateway(): Promise<void>;
  /** Stops every daemon and removes the folder; safe to call twice. */
  stop(): Promise<void>;
}

/** The variable naming a running store (JSON of {@linkcode S3TestStore}). */
export const STORE_ENV = "META_TEST_S3";

/** The programs a store needs (packages ceph-mon, ceph-osd, radosgw). */
export const CEPH_PROGRAMS = [
  "ceph-mon",
  "ceph-osd",
  "radosgw",
  "radosgw-admin",
  "monmaptool",
  "ceph",
] as const;

/** The apt command that installs them. */
export const CEPH_INSTALL = "apt-get install -y --no-install-recommends ceph-mon ceph-osd radosgw";

/** Fixed keys of the test user (a store on loopback, gone after the run). */
const ACCESS_KEY = "METAINGESTTESTKEY000";
const SECRET_KEY = "meta-ingest-test-secret-0000000000000000";
const REGION = "us-east-1";
const DAEMON_TIMEOUT_MS = 60_000;
const READY_TIMEOUT_MS = 120_000;

const storeSchema = z.object({
  endpoint: z.string().url(),
  region: z.string().min(1),
  accessKeyId: z.string().min(1),
  secretAccessKey: z.string().min(1),
  dir: z.string().optional(),
});

function onPath(program: string): boolean {
  for (const folder of (Deno.env.get("PATH") ?? "").split(":")) {
    if (!folder) continue;
    try {
      if (Deno.statSync(join(folder, program)).isFile) return true;
    } catch {
      // not here
    }
  }
  return false;
}

/**
 * Why no store can be started here (a program is missing), or null.
 *
 * @example
 * ```ts
 * cephUnavailable(); // "Ceph not installed (apt-get install ...)" or null
 * ```
 */
export function cephUnavailable(): string | null {
  const missing = CEPH_PROGRAMS.filter((program) => !onPath(program));
  if (missing.length === 0) return null;
  if (missing.length === CEPH_PROGRAMS.length) return `Ceph not installed (${CEPH_INSTALL})`;
  return `Ceph incomplete, no ${missing.join(", ")} (${CEPH_INSTALL})`;
}

/** The store `META_TEST_S3` names, or null when it is unset or empty. */
export function storeFromEnv(): S3TestStore | null {
  const text = Deno.env.get(STORE_ENV);
  if (!text) return null;
  return storeSchema.parse(JSON.parse(text));
}

/**
 * Why S3 tests cannot run here, or null: they can when `META_TEST_S3` names
 * a store or Ceph is installed.
 */
export function s3Unavailable(): string | null {
  return Deno.env.get(STORE_ENV) ? null : cephUnavailable();
}

async function freePort(): Promise<number> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return await Promise.resolve(port);
}

/**
 * What the `ceph` command line says when the monitor it just started is not
 * serving commands yet (seen under load: "Error EPERM: problem getting
 * command descriptions from mon."). The command was never sent, so it is
 * safe to send again.
 */
const MON_NOT_READY = /problem getting command descriptions/;
/** Tries of a command the monitor was not ready for, and the pause between. */
const MON_TRIES = 10;
const MON_PAUSE_MS = 500;

/**
 * Runs one start-up step. `again` says which failures to try again (at most
 * MON_TRIES times): only ones that left nothing done, or steps that are
 * idempotent.
 */
async function run(
  program: string,
  args: string[],
  what: string,
  dir: string,
  again: (stderr: string) => boolean = () => false,
): Promise<string> {
  for (let attempt = 1;; attempt++) {
    const output = await new Deno.Command(program, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(DAEMON_TIMEOUT_MS),
    }).output();
    if (output.success) return new TextDecoder().decode(output.stdout);
    const stderr = new TextDecoder().decode(output.stderr).trim();
    if (attempt < MON_TRIES && again(stderr)) {
      await delay(MON_PAUSE_MS);
      continue;
    }
    const err = stderr.split("\n").slice(-5).join("\n");
    throw new Error(
      `ceph start-up (${what}) failed in ${dir} (try ${attempt}): ${program} exited ${output.code}\n${err}`,
    );
  }
}

function conf(dir: string, fsid: string, monPort: number, rgwPort: number): string {
  return `[global]
fsid = ${fsid}
mon host = v1:127.0.0.1:${monPort}
mon initial members = a
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
paxos propose interval = 0.05
paxos min wait = 0.01
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
osd objectstore = memstore
memstore device bytes = 4294967296
mon osd full ratio = 0.98
mon osd backfillfull ratio = 0.97
mon osd nearfull ratio = 0.96
osd crush update on start = false
osd class update on start = false
mon data = ${dir}/mon/$cluster-$id
osd data = ${dir}/osd/$cluster-$id
run dir = ${dir}/run
log file = ${dir}/log/$name.log
admin socket = ${dir}/run/$name.asok
pid file = ${dir}/run/$name.pid

[client.rgw.test]
rgw frontends = beast endpoint=127.0.0.1:${rgwPort}
rgw gc obj min wait = 0
rgw gc processor period = 2
`;
}

/** The daemons named by the cluster's pid files (file name, PID) still running as its own. */
async function daemonPids(dir: string): Promise<{ name: string; pid: number }[]> {
  const found: { name: string; pid: number }[] = [];
  let entries: Deno.DirEntry[] = [];
  try {
    entries = await Array.fromAsync(Deno.readDir(join(dir, "run")));
  } catch {
    return found;
  }
  for (const entry of entries) {
    if (!entry.name.endsWith(".pid")) continue;
    const text = await Deno.readTextFile(join(dir, "run", entry.name)).catch(() => "");
    const pid = Number(text.trim());
    if (!Number.isInteger(pid) || pid <= 1) continue;
    // A PID may have been reused: only signal a Ceph daemon of this folder.
    const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() => "");
    if (cmdline.includes(join(dir, "ceph.conf"))) found.push({ name: entry.name, pid });
  }
  return found;
}

/** Whether `pid` still runs (a zombie counts as gone). */
async function alive(pid: number): Promise<boolean> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => null);
  if (stat === null) return false;
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  return state !== "Z" && state !== "X";
}

async function waitGone(pids: number[], ms: number): Promise<number[]> {
  const until = Date.now() + ms;
  let left = pids;
  while (left.length > 0 && Date.now() < until) {
    await delay(100);
    const still: number[] = [];
    for (const pid of left) if (await alive(pid)) still.push(pid);
    left = still;
  }
  return left;
}

function signal(pids: number[], sig: Deno.Signal): void {
  for (const pid of pids) {
    try {
      Deno.kill(pid, sig);
    } catch {
      // already gone
    }
  }
}

/**
 * Stops the cluster in `dir` by the PIDs in its pid files, one kind at a
 * time (each goes quickly only while the ones it talks to are up): the
 * gateway, the OSD, then the monitor, each with SIGTERM and, if still there
 * after 5 s, SIGKILL. Then removes the folder. Safe on a folder already gone.
 *
 * @example
 * ```ts
 * await stopCephDir("/tmp/meta-ingest-ceph-x");
 * ```
 */
export async function stopCephDir(dir: string): Promise<void> {
  const daemons = await daemonPids(dir);
  const order = ["client.", "osd.", "mon."];
  const rank = (name: string) => {
    const at = order.findIndex((prefix) => name.startsWith(prefix));
    return at < 0 ? order.length : at;
  };
  for (let step = 0; step <= order.length; step++) {
    const pids = daemons.filter((d) => rank(d.name) === step).map((d) => d.pid);
    if (pids.length === 0) continue;
    signal(pids, "SIGTERM");
    const stubborn = await waitGone(pids, 5_000);
    signal(stubborn, "SIGKILL");
    await waitGone(stubborn, 5_000);
  }
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}

/**
 * A detached shell that stops the cluster once `owner` is gone (or returns
 * at once when the folder is removed first).
 */
async function startWatchdog(dir: string, owner: number): Promise<void> {
  const self = new URL(import.meta.url).pathname;
  const script = `while [ -d "$2" ] && kill -0 "$1" 2>/dev/null; do sleep 1; done
[ -d "$2" ] && exec "$3" run -A --config "$5" "$4" stop --dir "$2"`;
  await new Deno.Command("sh", {
    args: [
      "-c",
      `(sh -c '${script}' watchdog "$@" </dev/null >/dev/null 2>&1 &)`,
      "sh",
      String(owner),
      dir,
      Deno.execPath(),
      self,
      new URL("../deno.json", import.meta.url).pathname,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).output();
}

/** Options for {@linkcode startCeph}. */
export interface StartOptions {
  /**
   * The folder to use (created if missing).
   * @default {a new temp folder}
   */
  dir?: string;
  /**
   * Stop the cluster when this process is gone; null for none.
   * @default {Deno.pid}
   */
  owner?: number | null;
  /** Progress lines. */
  log?: (line: string) => void;
}

/**
 * Starts a one-node Ceph S3 store; see the module doc.
 *
 * @example
 * ```ts
 * await using ceph = await startCeph();
 * console.log(ceph.endpoint, ceph.startupMs);
 * ```
 */
export async function startCeph(options: StartOptions = {}): Promise<CephStore> {
  const unavailable = cephUnavailable();
  if (unavailable) throw new Error(unavailable);
  const dir = options.dir ?? await Deno.makeTempDir({ prefix: "meta-ingest-ceph-" });
  const log = options.log ?? (() => {});
  const owner = options.owner === undefined ? Deno.pid : options.owner;
  for (const sub of ["mon", "osd/ceph-0", "run", "log"]) {
    await Deno.mkdir(join(dir, sub), { recursive: true });
  }
  if (owner !== null) await startWatchdog(dir, owner);
  const started = performance.now();
  try {
    const [monPort, rgwPort] = [await freePort(), await freePort()];
    const fsid = crypto.randomUUID();
    const config = join(dir, "ceph.conf");
    await Deno.writeTextFile(config, conf(dir, fsid, monPort, rgwPort));
    const monmap = join(dir, "monmap");
    await run(
      "monmaptool",
      [
        "--create",
        "--add",
        "a",
        `v1:127.0.0.1:${monPort}`,
        "--fsid",
        fsid,
        monmap,
      ],
      "monmap",
      dir,
    );
    await run("ceph-mon", ["--mkfs", "-i", "a", "--monmap", monmap, "-c", config], "mon mkfs", dir);
    await run("ceph-mon", ["-i", "a", "-c", config], "mon", dir);
    const monNotReady = (stderr: string) => MON_NOT_READY.test(stderr);
    const osdCreate = ["-c", config, "osd", "create"];
    const id = (await run("ceph", osdCreate, "osd create", dir, monNotReady)).trim();
    if (id !== "0") throw new Error(`ceph start-up: osd create answered '${id}', not 0`);
    await run("ceph-osd", ["-i", "0", "--mkfs", "-c", config], "osd mkfs", dir);
    await run("ceph-osd", ["-i", "0", "-c", config], "osd", dir);
    // Without root=default the OSD is outside the default rule and no PG
    // becomes active.
    await run(
      "ceph",
      [
        "-c",
        config,
        "osd",
        "crush",
        "add",
        "osd.0",
        "1.0",
        "root=default",
        "host=localhost",
      ],
      "crush add",
      dir,
      // Idempotent: placing osd.0 where it already is succeeds.
      () => true,
    );
    await run("radosgw", ["-c", config, "-n", "client.rgw.test"], "radosgw", dir);
    const endpoint = `http://127.0.0.1:${rgwPort}`;
    await waitForGateway(endpoint, dir);
    const startupMs = Math.round(performance.now() - started);
    await run(
      "radosgw-admin",
      [
        "-c",
        config,
        "user",
        "create",
        "--uid=meta-ingest-test",
        "--display-name=meta-ingest test",
        `--access-key=${ACCESS_KEY}`,
        `--secret=${SECRET_KEY}`,
      ],
      "user create",
      dir,
    );
    log(`ceph: S3 at ${endpoint} after ${(startupMs / 1000).toFixed(1)} s (${dir})`);
    let stopped: Promise<void> | null = null;
    const stop = () => stopped ??= stopCephDir(dir);
    return {
      endpoint,
      region: REGION,
      accessKeyId: ACCESS_KEY,
      secretAccessKey: SECRET_KEY,
      dir,
      startupMs,
      memoryBytes: () => memoryOf(dir),
      stopGateway: async () => {
        const pids = (await daemonPids(dir)).filter((d) => d.name.startsWith("client."))
          .map((d) => d.pid);
        signal(pids, "SIGTERM");
        const stubborn = await waitGone(pids, 5_000);
        signal(stubborn, "SIGKILL");
        await waitGone(stubborn, 5_000);
      },
      startGateway: async () => {
        await run("radosgw", ["-c", config, "-n", "client.rgw.test"], "radosgw", dir);
        await waitForGateway(endpoint, dir);
      },
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (err) {
    await stopCephDir(dir);
    throw err;
  }
}

async function waitForGateway(endpoint: string, dir: string): Promise<void> {
  const until = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < until) {
    try {
      const res = await fetch(endpoint, { signal: AbortSignal.timeout(2_000) });
      await res.body?.cancel();
      if (res.status === 200) return;
    } catch {
      // not up yet
    }
    await delay(200);
  }
  const tail = await Deno.readTextFile(join(dir, "log", "client.rgw.test.log"))
    .then((text) => text.trim().split("\n").slice(-5).join("\n"))
    .catch(() => "(no log)");
  throw new Error(`ceph start-up: radosgw did not answer at ${endpoint} within 120 s\n${tail}`);
}

async function memoryOf(dir: string): Promise<number> {
  let total = 0;
  for (const { pid } of await daemonPids(dir)) {
    const status = await Deno.readTextFile(`/proc/${pid}/status`).catch(() => "");
    const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    if (kb) total += Number(kb) * 1024;
  }
  return total;
}

/** The folder of this process's shared store. */
function sharedDir(): string {
  return join(Deno.env.get("TMPDIR") ?? "/tmp", `meta-ingest-ceph-shared-${Deno.pid}`);
}

let shared: Promise<S3TestStore> | null = null;

/**
 * The store for this test process: the one `META_TEST_S3` names, else one
 * started on first use and shared by every test module of this process
 * (they run as workers of one process), stopped by its watchdog when the
 * process ends.
 *
 * @example
 * ```ts
 * const store = await sharedCeph();
 * const bucket = await freshBucket(store);
 * ```
 */
export function sharedCeph(): Promise<S3TestStore> {
  return shared ??= acquireShared();
}

async function acquireShared(): Promise<S3TestStore> {
  const named = storeFromEnv();
  if (named) return named;
  const dir = sharedDir();
  const described = join(dir, "store.json");
  let mine = false;
  try {
    await Deno.mkdir(dir);
    mine = true;
  } catch (err) {
    if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
  }
  if (mine) {
    try {
      const store = await startCeph({ dir, owner: Deno.pid });
      const { endpoint, region, accessKeyId, secretAccessKey } = store;
      const text = JSON.stringify({ endpoint, region, accessKeyId, secretAccessKey, dir });
      await Deno.writeTextFile(`${described}.tmp`, text);
      await Deno.rename(`${described}.tmp`, described);
      return storeSchema.parse(JSON.parse(text));
    } catch (err) {
      await Deno.mkdir(dir, { recursive: true }).catch(() => {});
      await Deno.writeTextFile(join(dir, "failed"), String(err)).catch(() => {});
      throw err;
    }
  }
  // Another module of this process is starting it.
  const until = Date.now() + READY_TIMEOUT_MS + DAEMON_TIMEOUT_MS;
  while (Date.now() < until) {
    const text = await Deno.readTextFile(described).catch(() => null);
    if (text) return storeSchema.parse(JSON.parse(text));
    const failed = await Deno.readTextFile(join(dir, "failed")).catch(() => null);
    if (failed) throw new Error(`the shared Ceph store failed to start: ${failed}`);
    await delay(200);
  }
  throw new Error(`the shared Ceph store in ${dir} did not become ready`);
}

/** A signing client for the store (admin requests of the tests). */
export function adminClient(store: S3TestStore): AwsClient {
  return new AwsClient({
    accessKeyId: store.accessKeyId,
    secretAccessKey: store.secretAccessKey,
    service: "s3",
    region: store.region,
    retries: 0,
  });
}

let bucketCount = 0;

/**
 * Creates a bucket of a unique name and answers the name.
 *
 * @example
 * ```ts
 * const bucket = await freshBucket(await sharedCeph(), "copy");
 * ```
 */
export async function freshBucket(store: S3TestStore, label = "t"): Promise<string> {
  const tag = label.toLowerCase().replace(/[^a-z0-9-]/g, "-").slice(0, 20);
  const name = `${tag}-${Deno.pid}-${++bucketCount}-${crypto.randomUUID().slice(0, 8)}`
    .replace(/^-+/, "")
    .slice(0, 63);
  const res = await adminClient(store).fetch(`${store.endpoint}/${name}`, { method: "PUT" });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`creating bucket ${name}: ${res.status} ${body}`);
  return name;
}

/**
 * The AWS variables that point the client at `store`.
 *
 * @example
 * ```ts
 * const env = s3EnvOf(await sharedCeph()); // { AWS_ACCESS_KEY_ID: ..., AWS_ENDPOINT_URL_S3: ... }
 * ```
 */
export function s3EnvOf(store: S3TestStore): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: store.accessKeyId,
    AWS_SECRET_ACCESS_KEY: store.secretAccessKey,
    AWS_REGION: store.region,
    AWS_ENDPOINT_URL_S3: store.endpoint,
  };
}

/**
 * Registers a test that needs the store; ignored, with the reason in its
 * name, when no store can run here.
 *
 * @example
 * ```ts
 * s3Test("a put reads back", async (store) => {
 *   const bucket = await freshBucket(store);
 * });
 * ```
 */
export function s3Test(name: string, fn: (store: S3TestStore) => Promise<void>): void {
  const skipped = s3Unavailable();
  Deno.test({
    name: skipped ? `${name} [skipped: ${skipped}]` : name,
    ignore: skipped !== null,
    fn: async () => await fn(await sharedCeph()),
  });
}

async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  if (command === "start") {
    const unavailable = cephUnavailable();
    if (unavailable) {
      console.error(`ceph: ${unavailable}; the S3 tests will be skipped`);
      return 0;
    }
    const ownerAt = rest.indexOf("--owner");
    const owner = ownerAt >= 0 ? Number(rest[ownerAt + 1]) : null;
    const store = await startCeph({
      owner: owner !== null && Number.isInteger(owner) && owner > 1 ? owner : null,
      log: (line) => console.error(line),
    });
    const { endpoint, region, accessKeyId, secretAccessKey, dir } = store;
    console.log(JSON.stringify({ endpoint, region, accessKeyId, secretAccessKey, dir }));
    return 0;
  }
  if (command === "stop") {
    const dirAt = rest.indexOf("--dir");
    let dir: string | undefined;
    if (dirAt >= 0) dir = rest[dirAt + 1];
    else {
      const text = rest[0] ?? Deno.env.get(STORE_ENV) ?? "";
      if (text.trim() === "") return 0; // nothing was started
      dir = storeSchema.parse(JSON.parse(text)).dir;
    }
    if (!dir || !/meta-ingest-ceph-/.test(dir)) {
      console.error(`ceph: not a store folder: ${dir ?? "(none)"}`);
      return 1;
    }
    await stopCephDir(dir);
    return 0;
  }
  console.error(
    "usage: deno run -A testing/ceph.ts start [--owner PID] | stop JSON | stop --dir DIR",
  );
  return 2;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
