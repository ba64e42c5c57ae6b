/**
 * An S3 object client for one bucket: the object half of the catalog store
 * (issue 16). Requests are signed by `aws4fetch` (SigV4); everything else
 * (URLs, retries, time limits, conditional writes, errors) is here.
 *
 * Promises:
 * - Configuration follows the AWS conventions ({@linkcode S3_ENV_NAMES}),
 *   taken as a plain object, never read from `Deno.env` here. The secret and
 *   the session token never appear in an error, an event, `toString()`,
 *   `JSON.stringify` or `Deno.inspect`; the key id only masked (`AKIA…WXYZ`).
 * - A non-AWS endpoint (`AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`) gets
 *   path-style URLs; AWS proper gets virtual-hosted ones.
 * - Every operation is bounded: at most `attempts` requests (5xx, 429,
 *   `SlowDown`, `InternalError` retried with jittered exponential backoff),
 *   each with its own time limit, a connection failure tried at most
 *   `connectAttempts` times, no answer at all never retried, and no retry
 *   started past `budgetMs`.
 * - {@linkcode S3Client.put} is one PUT (no multipart), so the object is the
 *   old or the new one whatever happens. Its conditions work with stores that
 *   want the quoted ETag (AWS) and with those that want it bare (Ceph RGW,
 *   DigitalOcean Spaces): on 412 the key is read with HEAD, and when its ETag
 *   is still the one sent, the other form is tried once; the form that worked
 *   goes first for the rest of the client's life (so a big body is not sent
 *   twice on every write). A write that cannot succeed ends (conflict, or an
 *   error saying the store ignores its own ETag); it never loops.
 * - {@linkcode S3Client.copy} is a server-side copy conditional on the
 *   source's ETag, and checks the copy's ETag too, because Ceph RGW 16.2
 *   ignores `x-amz-copy-source-if-match`.
 * - Failures are {@linkcode StoreError}s (an {@linkcode IngestError}) whose
 *   `failure` says what to do: unreachable store (naming the endpoint),
 *   credentials, missing bucket, wrong region, a denied Deno permission, or
 *   the store's own error code and message.
 *
 * @example
 * ```ts
 * import { parseS3Uri, S3Client, s3Config } from "./s3.ts";
 * const { bucket, key } = parseS3Uri("s3://cat/lake/symbols.parquet");
 * const client = new S3Client(s3Config({ AWS_ACCESS_KEY_ID: "id", AWS_SECRET_ACCESS_KEY: "s" }), bucket);
 * const read = await client.get(key, "/tmp/symbols.parquet");
 * const outcome = await client.put(
 *   key,
 *   "/tmp/merged.parquet",
 *   read ? { ifMatch: read.etag } : { ifNoneMatch: "*" },
 * );
 * ```
 *
 * @module
 */
import { AwsV4Signer } from "aws4fetch";
import { createHash } from "node:crypto";
import { z } from "zod";
import { IngestError } from "../core/errors.ts";
import { readCapped } from "../fs/read_capped.ts";
import { delay } from "../std/delay.ts";
import { S3_ENV_NAMES, type S3Env } from "./env.ts";

/** The region when `AWS_REGION` is not set. */
export const DEFAULT_REGION = "us-east-1";

/** A set but empty variable counts as unset. */
const optional = z.string().optional().transform((value) => value === "" ? undefined : value);

// Each message names the variable and never echoes its value.
const envSchema = z.object({
  AWS_ACCESS_KEY_ID: z.string({ error: "AWS_ACCESS_KEY_ID is not set" })
    .min(1, { error: "AWS_ACCESS_KEY_ID is empty" })
    .max(128, { error: "AWS_ACCESS_KEY_ID is longer than 128 characters" })
    .regex(/^[\x21-\x7e]+$/, { error: "AWS_ACCESS_KEY_ID holds spaces or control characters" }),
  AWS_SECRET_ACCESS_KEY: z.string({ error: "AWS_SECRET_ACCESS_KEY is not set" })
    .min(1, { error: "AWS_SECRET_ACCESS_KEY is empty" })
    .regex(/^[\x21-\x7e]+$/, {
      error: "AWS_SECRET_ACCESS_KEY holds spaces or control characters",
    }),
  AWS_SESSION_TOKEN: optional.refine(
    (value) => value === undefined || /^[\x21-\x7e]+$/.test(value),
    {
      error: "AWS_SESSION_TOKEN holds spaces or control characters",
    },
  ),
  AWS_REGION: optional.refine((value) => value === undefined || /^[a-z0-9-]{1,64}$/.test(value), {
    error: "AWS_REGION must be a region name such as us-east-1 (lowercase letters, digits, -)",
  }),
  AWS_ENDPOINT_URL_S3: optional,
  AWS_ENDPOINT_URL: optional,
});

/**
 * Masks a key id for messages: its first and last four characters when it
 * is long enough to keep most of it hidden (`AKIA…WXYZ`), else `…`.
 *
 * @example
 * ```ts
 * import { maskKeyId } from "./s3.ts";
 * maskKeyId("AKIAIOSFODNN7EXAMPLE"); // "AKIA…MPLE"
 * ```
 */
export function maskKeyId(keyId: string): string {
  return keyId.length >= 16 ? `${keyId.slice(0, 4)}…${keyId.slice(-4)}` : "…";
}

function parseEndpoint(name: string, text: string): URL {
  const bad = () =>
    new IngestError(
      "usage",
      `${name} must be an http(s) URL of the store, without user, path, query or fragment`,
      "e.g. http://127.0.0.1:7480 or https://ACCOUNT.r2.cloudflarestorage.com",
    );
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw bad();
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw bad();
  if (url.username || url.password || url.search || url.hash) throw bad();
  if (url.pathname !== "/" && url.pathname !== "") throw bad();
  return url;
}

const INSPECT = Symbol.for("Deno.customInspect");
const NODE_INSPECT = Symbol.for("nodejs.util.inspect.custom");

/**
 * Validated S3 settings. The secret and session token live in private
 * fields: printing or serialising a config shows the masked key id only.
 */
export class S3Config {
  /** The signing region. */
  readonly region: string;
  /** The store's origin, or null for AWS S3 itself. */
  readonly endpoint: URL | null;
  /** The key id, masked (see {@linkcode maskKeyId}). */
  readonly maskedKeyId: string;
  /** Whether a session token is configured (never its value). */
  readonly hasSessionToken: boolean;
  #accessKeyId: string;
  #secretAccessKey: string;
  #sessionToken: string | undefined;

  /**
   * Prefer {@linkcode s3Config}, which validates.
   *
   * @param settings validated settings
   */
  constructor(settings: {
    accessKeyId: string;
    secretAccessKey: string;
    sessionToken?: string;
    region: string;
    endpoint: URL | null;
  }) {
    this.region = settings.region;
    this.endpoint = settings.endpoint;
    this.#accessKeyId = settings.accessKeyId;
    this.#secretAccessKey = settings.secretAccessKey;
    this.#sessionToken = settings.sessionToken;
    this.maskedKeyId = maskKeyId(settings.accessKeyId);
    this.hasSessionToken = settings.sessionToken !== undefined;
  }

  /** The credentials for the signer; only this module calls it. */
  credentials(): { accessKeyId: string; secretAccessKey: string; sessionToken?: string } {
    return {
      accessKeyId: this.#accessKeyId,
      secretAccessKey: this.#secretAccessKey,
      sessionToken: this.#sessionToken,
    };
  }

  /** The texts no message may contain (for scrubbing a store's own words). */
  secrets(): string[] {
    return [this.#secretAccessKey, this.#sessionToken, this.#accessKeyId]
      .filter((text): text is string => text !== undefined && text.length >= 4);
  }

  /** What a log may show: region, endpoint, masked key id. */
  toJSON(): Record<string, unknown> {
    return {
      region: this.region,
      endpoint: this.endpoint?.origin ?? "aws",
      accessKeyId: this.maskedKeyId,
      sessionToken: this.hasSessionToken ? "(set)" : "(none)",
    };
  }

  /** One line for messages; no secret. */
  toString(): string {
    return `S3 ${this.endpoint?.origin ?? "aws"} region ${this.region} key ${this.maskedKeyId}`;
  }

  /** `Deno.inspect` / `console.log` show {@linkcode S3Config.toJSON}. */
  [INSPECT](): string {
    return `S3Config ${JSON.stringify(this.toJSON())}`;
  }

  /** Node's inspect shows {@linkcode S3Config.toJSON}. */
  [NODE_INSPECT](): string {
    return `S3Config ${JSON.stringify(this.toJSON())}`;
  }
}

/**
 * Validates the AWS variables ({@linkcode S3_ENV_NAMES}) into a config:
 * `AWS_REGION` defaults to us-east-1, `AWS_ENDPOINT_URL_S3` wins over
 * `AWS_ENDPOINT_URL`, and an empty variable counts as unset. Throws a
 * `usage` {@linkcode IngestError} naming the variable (never its value).
 *
 * @example
 * ```ts
 * import { s3Config } from "./s3.ts";
 * const config = s3Config({
 *   AWS_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE",
 *   AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
 *   AWS_ENDPOINT_URL_S3: "http://127.0.0.1:7480",
 * });
 * String(config); // "S3 http://127.0.0.1:7480 region us-east-1 key AKIA…MPLE"
 * ```
 */
export function s3Config(env: S3Env): S3Config {
  const picked: Record<string, string | undefined> = {};
  for (const name of S3_ENV_NAMES) picked[name] = env[name];
  const parsed = envSchema.safeParse(picked);
  if (!parsed.success) {
    const messages = parsed.error.issues.map((issue) => issue.message);
    throw new IngestError(
      "usage",
      `S3 settings: ${messages.join("; ")}`,
      "set the AWS_* variables for the store (see README, 'A catalog shared by many hosts')",
    );
  }
  const data = parsed.data;
  const endpointName = data.AWS_ENDPOINT_URL_S3 !== undefined
    ? "AWS_ENDPOINT_URL_S3"
    : "AWS_ENDPOINT_URL";
  const endpointText = data.AWS_ENDPOINT_URL_S3 ?? data.AWS_ENDPOINT_URL;
  return new S3Config({
    accessKeyId: data.AWS_ACCESS_KEY_ID,
    secretAccessKey: data.AWS_SECRET_ACCESS_KEY,
    sessionToken: data.AWS_SESSION_TOKEN,
    region: data.AWS_REGION ?? DEFAULT_REGION,
    endpoint: endpointText === undefined ? null : parseEndpoint(endpointName, endpointText),
  });
}

/** A bucket and a key, from an `s3://` URI. */
export interface S3Location {
  /** The bucket name. */
  bucket: string;
  /** The object key (never empty). */
  key: string;
}

/**
 * Why `name` is not a valid bucket name (AWS's general-purpose rules), or
 * null when it is.
 *
 * @example
 * ```ts
 * import { bucketNameProblem } from "./s3.ts";
 * bucketNameProblem("My_Bucket"); // "... lowercase letters, digits, dots and hyphens ..."
 * ```
 */
export function bucketNameProblem(name: string): string | null {
  if (name.length < 3 || name.length > 63) return "a bucket name has 3 to 63 characters";
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name)) {
    return "a bucket name has lowercase letters, digits, dots and hyphens, " +
      "and starts and ends with a letter or digit";
  }
  if (/\.\.|\.-|-\./.test(name)) return "a bucket name has no '..', '.-' or '-.'";
  if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) return "a bucket name is not an IP address";
  if (name.startsWith("xn--") || name.startsWith("sthree-")) {
    return "a bucket name does not start with 'xn--' or 'sthree-'";
  }
  if (name.endsWith("-s3alias") || name.endsWith("--ol-s3")) {
    return "a bucket name does not end with '-s3alias' or '--ol-s3'";
  }
  return null;
}

/**
 * Why `key` cannot be used as an object key here, or null. Besides S3's own
 * limit (1 to 1024 UTF-8 bytes), a key has no control characters and no `.`
 * or `..` segment: a URL would resolve those to another key.
 *
 * @example
 * ```ts
 * import { keyProblem } from "./s3.ts";
 * keyProblem("lake/../symbols.parquet"); // "... '.' or '..' ..."
 * ```
 */
export function keyProblem(key: string): string | null {
  if (key.length === 0) return "the object key is empty";
  if (new TextEncoder().encode(key).length > 1024) return "the object key is over 1024 bytes";
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x1f\x7f]/.test(key)) return "the object key holds control characters";
  if (key.split("/").some((segment) => segment === "." || segment === "..")) {
    return "the object key has a '.' or '..' segment";
  }
  return null;
}

/**
 * Splits `s3://BUCKET/KEY` into bucket and key (the key taken literally, not
 * percent-decoded). Throws a `usage` {@linkcode IngestError} saying what is
 * wrong: another scheme, a bad bucket name, an empty or unusable key.
 * Whether the key must end in `.parquet` is the caller's rule.
 *
 * @example
 * ```ts
 * import { parseS3Uri } from "./s3.ts";
 * parseS3Uri("s3://cat/lake/symbols.parquet"); // { bucket: "cat", key: "lake/symbols.parquet" }
 * ```
 */
export function parseS3Uri(uri: string): S3Location {
  const usage = (what: string) =>
    new IngestError("usage", `not a usable S3 location: ${uri}: ${what}`, "use s3://BUCKET/KEY");
  if (!uri.startsWith("s3://")) throw usage("it does not start with s3://");
  const rest = uri.slice("s3://".length);
  const slash = rest.indexOf("/");
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  const key = slash < 0 ? "" : rest.slice(slash + 1);
  if (bucket === "") throw usage("the bucket is missing");
  const bucketProblem = bucketNameProblem(bucket);
  if (bucketProblem) throw usage(`bucket '${bucket}': ${bucketProblem}`);
  const problem = keyProblem(key);
  if (problem) throw usage(problem);
  return { bucket, key };
}

/** What the client gave up on; decides the advice in the message. */
export type StoreFailure =
  /** No connection, or no answer within the time limit. */
  | "unreachable"
  /** A Deno permission (net, read, write) was denied. */
  | "permission"
  /** 403, a bad signature, an unknown key id, an expired token. */
  | "credentials"
  /** The bucket does not exist. */
  | "no-bucket"
  /** The bucket lives in another region than `AWS_REGION`. */
  | "region"
  /** 5xx, 429 or `SlowDown` on every attempt. */
  | "server"
  /** The object is larger than `maxObjectBytes`. */
  | "too-large"
  /** The store refuses a condition that holds: conditional writes do not work there. */
  | "unsupported"
  /** Any other refusal: the store's code and message are in the error. */
  | "rejected";

/** A failed store operation, for people; `failure` classifies it. */
export class StoreError extends IngestError {
  /** What went wrong, coarsely. */
  readonly failure: StoreFailure;
  /** The HTTP status, when the store answered. */
  readonly status?: number;
  /** The store's error code (`NoSuchBucket`, `SlowDown`…), when it sent one. */
  readonly code?: string;

  /**
   * Makes an error; the kind is `network`.
   *
   * @param failure the class of failure
   * @param message what failed, on which object and endpoint
   * @param hint what to do
   * @param details the HTTP status and the store's error code, and the cause
   */
  constructor(
    failure: StoreFailure,
    message: string,
    hint: string | undefined,
    details: { status?: number; code?: string; cause?: unknown } = {},
  ) {
    super(
      "network",
      message,
      hint,
      details.cause === undefined ? undefined : { cause: details.cause },
    );
    this.name = "StoreError";
    this.failure = failure;
    this.status = details.status;
    this.code = details.code;
  }
}

/** An object's identity: its ETag, exactly as the store sent it, and size. */
export interface ObjectVersion {
  /** The ETag header as received (usually quoted). */
  etag: string;
  /** Size in bytes. */
  size: number;
}

/** The condition of a write: replace exactly this version, or create. */
export type WriteCondition = { ifMatch: string } | { ifNoneMatch: "*" };

/** How a conditional write ended. */
export type WriteOutcome =
  | { kind: "written"; etag: string }
  | { kind: "conflict" };

/** What the client did, for tests and for counting requests in a report. */
export type S3Event =
  /** The store answered a request (`op` is the operation it serves, `method` its own). */
  | {
    kind: "response";
    op: string;
    method: string;
    attempt: number;
    status: number;
    code?: string;
  }
  /** A request got no answer (connection failure or time limit). */
  | { kind: "no-answer"; op: string; attempt: number; reason: string }
  /** The client waits before the next attempt. */
  | { kind: "backoff"; op: string; attempt: number; delayMs: number }
  /** A 412 on an ETag that still matches: the other quoting is tried once. */
  | { kind: "etag-form"; op: string; form: "quoted" | "unquoted" };

/** Options for {@linkcode S3Client}. */
export interface S3ClientOptions {
  /**
   * Time limit of one request until its answer (and, for a GET, its body),
   * before the allowance for the body's size.
   * @default {20000}
   */
  timeoutMs?: number;
  /**
   * The slowest transfer accepted: each request's time limit grows by the
   * body's size at this rate.
   * @default {1048576}
   */
  minBytesPerSecond?: number;
  /**
   * Requests per operation at most, retries of 5xx, 429 and `SlowDown`
   * included.
   * @default {4}
   */
  attempts?: number;
  /**
   * Requests per operation at most when the connection itself fails
   * (refused, reset, DNS).
   * @default {2}
   */
  connectAttempts?: number;
  /**
   * First backoff ceiling; it doubles per retry, with full jitter.
   * @default {250}
   */
  backoffBaseMs?: number;
  /**
   * Largest backoff.
   * @default {4000}
   */
  backoffCapMs?: number;
  /**
   * No retry starts once an operation has run this long.
   * @default {60000}
   */
  budgetMs?: number;
  /**
   * Largest object read or written (a PUT holds it in memory).
   * @default {1073741824}
   */
  maxObjectBytes?: number;
  /**
   * Random numbers in [0, 1) for the jitter.
   * @default {Math.random}
   */
  random?: () => number;
  /**
   * Waits between attempts.
   * @default {delay}
   */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /**
   * Milliseconds clock for `budgetMs`.
   * @default {performance.now}
   */
  now?: () => number;
  /** Aborting stops waiting and in-flight requests (the reason is rethrown). */
  signal?: AbortSignal;
  /** Called for each request outcome and backoff. */
  onEvent?: (event: S3Event) => void;
}

const RETRY_STATUSES = new Set([429, 500, 502, 503, 504]);
const RETRY_CODES = new Set([
  "SlowDown",
  "InternalError",
  "ServiceUnavailable",
  "RequestTimeout",
  "Throttling",
  "ThrottlingException",
]);
const CREDENTIAL_CODES = new Set([
  "AccessDenied",
  "SignatureDoesNotMatch",
  "InvalidAccessKeyId",
  "InvalidToken",
  "ExpiredToken",
  "TokenRefreshRequired",
  "InvalidSecurity",
  "AllAccessDisabled",
  "RequestTimeTooSkewed",
]);
const REGION_CODES = new Set([
  "PermanentRedirect",
  "AuthorizationHeaderMalformed",
  "IllegalLocationConstraintException",
]);
/** The most of an error body read. */
const ERROR_BODY_CAP = 64 * 1024;

/** An S3 error body's `Code` and `Message` (both optional). */
export interface S3ErrorBody {
  /** The error code, e.g. `NoSuchKey`. */
  code?: string;
  /** The store's message, decoded, at most 300 characters. */
  message?: string;
  /** The root element: `Error` for an error. */
  root?: string;
}

function xmlText(text: string): string {
  return text
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#(\d+);/g, (_, n) => String.fromCodePoint(Number(n) % 0x110000))
    .replace(/&amp;/g, "&");
}

/**
 * Reads the `Code` and `Message` of an S3 XML error body (a minimal reader:
 * the first element of each name).
 *
 * @example
 * ```ts
 * import { parseS3Error } from "./s3.ts";
 * parseS3Error("<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>");
 * // { root: "Error", code: "NoSuchKey", message: "gone" }
 * ```
 */
export function parseS3Error(xml: string): S3ErrorBody {
  const root = /<([A-Za-z][\w.-]*)[\s>/]/.exec(xml.replace(/<\?[^>]*\?>/, ""))?.[1];
  const code = /<Code>([^<]{1,200})<\/Code>/.exec(xml)?.[1];
  const message = /<Message>([^<]{0,2000})<\/Message>/.exec(xml)?.[1];
  const decoded = message === undefined ? undefined : xmlText(message).trim().slice(0, 300);
  return {
    root,
    code: code === undefined ? undefined : xmlText(code).trim(),
    message: decoded === "" ? undefined : decoded,
  };
}

/** An ETag without weakness mark or quotes, for comparing. */
export function bareEtag(etag: string): string {
  return etag.trim().replace(/^W\//, "").replace(/^"(.*)"$/, "$1");
}

/** How an ETag is written in a condition header. */
type EtagForm = "quoted" | "unquoted";

function formOf(etag: string): EtagForm {
  return etag.trim().startsWith('"') ? "quoted" : "unquoted";
}

function inForm(etag: string, form: EtagForm): string {
  return form === "quoted" ? `"${bareEtag(etag)}"` : bareEtag(etag);
}

function otherForm(etag: string): { value: string; form: EtagForm } {
  const form = formOf(etag) === "quoted" ? "unquoted" : "quoted";
  return { value: inForm(etag, form), form };
}

function encodeKey(key: string): string {
  return key.split("/").map((segment) =>
    encodeURIComponent(segment).replace(
      /[!'()*]/g,
      (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
    )
  ).join("/");
}

/** SHA-256 in hex (node:crypto: several times faster than WebCrypto on tens of MB). */
function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function describeSeconds(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 100) / 10} s` : `${ms} ms`;
}

/** A request, before signing. */
interface Plan {
  op: string;
  method: "GET" | "HEAD" | "PUT";
  key?: string;
  query?: string;
  headers?: Record<string, string>;
  body?: Uint8Array<ArrayBuffer>;
  /** Bytes expected to move (body or object), for the time limit. */
  bytes?: number;
}

/** A response whose time limit keeps running until `done()`. */
interface Answer {
  res: Response;
  /** Extends the time limit by `bytes` at the slowest accepted rate. */
  allow(bytes: number): void;
  /** Stops the timer. */
  done(): void;
  /** Whether the time limit fired. */
  timedOut(): boolean;
}

/** What one attempt decided. */
type Step<T> =
  | { retry: false; value: T }
  | { retry: true; status: number; code?: string; message?: string; ambiguous?: boolean };

/** How one conditional PUT ended (before the ETag quoting rule). */
type PutResult =
  | { kind: "done"; outcome: WriteOutcome }
  | { kind: "precondition"; ambiguous: boolean };

/** How one conditional copy ended (before the ETag quoting rule). */
type CopyResult = { kind: "copied"; etag: string } | { kind: "precondition" };

/** The store answered a request with an error code. */
interface StoreAnswer {
  status: number;
  code?: string;
  message?: string;
  headers: Headers;
}

/**
 * An S3 client bound to one bucket; see the module doc for its promises.
 *
 * @example
 * ```ts
 * import { S3Client, s3Config } from "./s3.ts";
 * const config = s3Config({ AWS_ACCESS_KEY_ID: "id", AWS_SECRET_ACCESS_KEY: "secret" });
 * const client = new S3Client(config, "cat");
 * await client.check();
 * const version = await client.head("lake/symbols.parquet"); // { etag, size } or null
 * ```
 */
export class S3Client {
  /** The bucket every key lives in. */
  readonly bucket: string;
  /** The store's origin, as named in messages. */
  readonly endpoint: string;
  #config: S3Config;
  #pathStyle: boolean;
  #origin: string;
  #options: Required<Omit<S3ClientOptions, "signal" | "onEvent">>;
  #signal?: AbortSignal;
  #onEvent?: (event: S3Event) => void;
  /** The If-Match form this store accepted after a 412 on the other one. */
  #ifMatchForm: EtagForm | null = null;

  /**
   * Binds a client to `bucket`; throws a `usage` {@linkcode IngestError} for
   * an invalid bucket name.
   *
   * @param config from {@linkcode s3Config}
   * @param bucket the bucket name
   * @param options limits, retries, injected clock and randomness
   */
  constructor(config: S3Config, bucket: string, options: S3ClientOptions = {}) {
    const problem = bucketNameProblem(bucket);
    if (problem) {
      throw new IngestError("usage", `bucket '${bucket}' is not a valid name: ${problem}`);
    }
    this.bucket = bucket;
    this.#config = config;
    if (config.endpoint) {
      this.#pathStyle = true;
      this.#origin = config.endpoint.origin;
    } else if (bucket.includes(".")) {
      // A dotted bucket breaks the TLS name of a virtual host.
      this.#pathStyle = true;
      this.#origin = `https://s3.${config.region}.amazonaws.com`;
    } else {
      this.#pathStyle = false;
      this.#origin = `https://${bucket}.s3.${config.region}.amazonaws.com`;
    }
    this.endpoint = this.#origin;
    this.#options = {
      timeoutMs: options.timeoutMs ?? 20_000,
      minBytesPerSecond: options.minBytesPerSecond ?? 1024 * 1024,
      attempts: Math.max(1, options.attempts ?? 4),
      connectAttempts: Math.max(1, options.connectAttempts ?? 2),
      backoffBaseMs: options.backoffBaseMs ?? 250,
      backoffCapMs: options.backoffCapMs ?? 4000,
      budgetMs: options.budgetMs ?? 60_000,
      maxObjectBytes: options.maxObjectBytes ?? 1024 * 1024 * 1024,
      random: options.random ?? Math.random,
      sleep: options.sleep ?? ((ms, signal) => delay(ms, { signal })),
      now: options.now ?? (() => performance.now()),
    };
    this.#signal = options.signal;
    this.#onEvent = options.onEvent;
  }

  /** The host (and port) a Deno `--allow-net` list must name for this client. */
  get netHost(): string {
    return new URL(this.#origin).host;
  }

  /**
   * `s3://BUCKET/KEY`, for messages.
   *
   * @param key the object key
   */
  location(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }

  /** What a log may show; no secret. */
  toJSON(): Record<string, unknown> {
    return { bucket: this.bucket, endpoint: this.endpoint, config: this.#config.toJSON() };
  }

  /**
   * Streams the object into `destFile` (created or truncated). Answers its
   * ETag and size, or null when the key does not exist (the file is then
   * not touched). A failed read removes the partial file.
   *
   * @param key the object key
   * @param destFile a local path
   */
  async get(key: string, destFile: string): Promise<ObjectVersion | null> {
    this.#checkKey(key);
    return await this.#run("GET", key, async (attempt) => {
      const answer = await this.#send({ op: "GET", method: "GET", key }, attempt);
      try {
        const { res } = answer;
        if (res.status === 200) {
          this.#event({ kind: "response", op: "GET", method: "GET", attempt, status: 200 });
          const etag = this.#etagOf(res, "GET", key);
          const length = Number(res.headers.get("content-length") ?? NaN);
          if (Number.isFinite(length)) {
            if (length > this.#options.maxObjectBytes) {
              await res.body?.cancel();
              throw this.#tooLarge(key, length);
            }
            answer.allow(length);
          }
          const size = await this.#saveBody(res, destFile, key, answer);
          if (size === null) return { retry: true, status: 200, code: "IncompleteBody" };
          if (Number.isFinite(length) && size !== length) {
            await Deno.remove(destFile).catch(() => {});
            return { retry: true, status: 200, code: "IncompleteBody" };
          }
          return { retry: false, value: { etag, size } };
        }
        const error = await this.#readError(res);
        this.#event({
          kind: "response",
          op: "GET",
          method: "GET",
          attempt,
          status: res.status,
          code: error.code,
        });
        if (res.status === 404 && error.code !== "NoSuchBucket") {
          return { retry: false, value: null };
        }
        return this.#retryOrThrow("GET", key, error);
      } finally {
        answer.done();
      }
    });
  }

  /**
   * The object's ETag and size, or null when the key does not exist (or,
   * since a HEAD answer has no body, when the bucket does not:
   * {@linkcode S3Client.check} tells those apart).
   *
   * @param key the object key
   */
  async head(key: string): Promise<ObjectVersion | null> {
    this.#checkKey(key);
    return await this.#headAs("HEAD", key);
  }

  async #headAs(op: string, key: string): Promise<ObjectVersion | null> {
    return await this.#run(op, key, async (attempt) => {
      const answer = await this.#send({ op, method: "HEAD", key }, attempt);
      try {
        const { res } = answer;
        await res.body?.cancel();
        this.#event({ kind: "response", op, method: "HEAD", attempt, status: res.status });
        if (res.status === 200) {
          const size = Number(res.headers.get("content-length") ?? NaN);
          return {
            retry: false,
            value: { etag: this.#etagOf(res, op, key), size: Number.isFinite(size) ? size : -1 },
          };
        }
        if (res.status === 404) return { retry: false, value: null };
        return this.#retryOrThrow(op, key, { status: res.status, headers: res.headers });
      } finally {
        answer.done();
      }
    });
  }

  /**
   * Writes `sourceFile` to `key` in one PUT, if `condition` holds: the key's
   * ETag is `ifMatch`, or (`ifNoneMatch: "*"`) the key does not exist.
   * Answers `written` with the new ETag, or `conflict` (412, 409
   * `ConditionalRequestConflict`, or a missing key under `ifMatch`). See the
   * module doc for the ETag quoting rule.
   *
   * @param key the object key
   * @param sourceFile a local file of at most `maxObjectBytes`
   * @param condition what must hold for the write to happen
   */
  async put(key: string, sourceFile: string, condition: WriteCondition): Promise<WriteOutcome> {
    this.#checkKey(key);
    const body = await this.#readWhole(sourceFile, key);
    const hash = sha256Hex(body);
    const send = (headers: Record<string, string>) => this.#putOnce(key, body, hash, headers);

    if ("ifNoneMatch" in condition) {
      const first = await send({ "if-none-match": "*" });
      if (first.kind !== "precondition") return first.outcome;
      return await this.#ambiguousWin("PUT", key, body, first.ambiguous);
    }
    // The form this store took last time goes first; else the ETag as received.
    const sent = this.#ifMatchForm
      ? inForm(condition.ifMatch, this.#ifMatchForm)
      : condition.ifMatch;
    const first = await send({ "if-match": sent });
    if (first.kind !== "precondition") return first.outcome;
    const current = await this.#headAs("PUT", key);
    if (!current) return { kind: "conflict" };
    if (bareEtag(current.etag) !== bareEtag(condition.ifMatch)) {
      return first.ambiguous ? this.#ownWrite(current, body) : { kind: "conflict" };
    }
    const other = otherForm(sent);
    this.#event({ kind: "etag-form", op: "PUT", form: other.form });
    const second = await send({ "if-match": other.value });
    if (second.kind !== "precondition") {
      if (second.outcome.kind === "written") this.#ifMatchForm = other.form;
      return second.outcome;
    }
    const after = await this.#headAs("PUT", key);
    if (after && bareEtag(after.etag) === bareEtag(condition.ifMatch)) {
      throw this.#unsupported("PUT", key, "If-Match");
    }
    return after && second.ambiguous ? this.#ownWrite(after, body) : { kind: "conflict" };
  }

  /**
   * One conditional PUT, retried on 5xx; `precondition` when the store
   * refused the condition. `ambiguous` when an earlier attempt got a 5xx
   * after sending the body, so the write may have happened.
   */
  async #putOnce(
    key: string,
    body: Uint8Array<ArrayBuffer>,
    hash: string,
    condition: Record<string, string>,
  ): Promise<PutResult> {
    let ambiguous = false;
    return await this.#run<PutResult>("PUT", key, async (attempt) => {
      const answer = await this.#send({
        op: "PUT",
        method: "PUT",
        key,
        headers: {
          ...condition,
          "content-type": "application/octet-stream",
          "x-amz-content-sha256": hash,
        },
        body,
        bytes: body.length,
      }, attempt);
      try {
        const { res } = answer;
        if (res.status === 200) {
          await res.body?.cancel();
          this.#event({ kind: "response", op: "PUT", method: "PUT", attempt, status: 200 });
          return {
            retry: false,
            value: {
              kind: "done",
              outcome: { kind: "written", etag: this.#etagOf(res, "PUT", key) },
            },
          };
        }
        const error = await this.#readError(res);
        this.#event({
          kind: "response",
          op: "PUT",
          method: "PUT",
          attempt,
          status: res.status,
          code: error.code,
        });
        if (isPrecondition(error, "if-match" in condition)) {
          return { retry: false, value: { kind: "precondition", ambiguous } };
        }
        const step = this.#retryOrThrow<never>("PUT", key, error);
        if (step.retry && res.status >= 500) ambiguous = true;
        return step;
      } finally {
        answer.done();
      }
    });
  }

  /**
   * Copies `sourceKey` to `destKey` on the server if the source's ETag is
   * `ifMatch` (`x-amz-copy-source-if-match`): `written` with the copy's
   * ETag, or `conflict` when the source changed or is gone. Because some
   * stores ignore that header (Ceph RGW 16.2), the copy's own ETag is checked
   * too: a copy of another version is a conflict.
   *
   * @param sourceKey the key copied
   * @param destKey the key written (overwritten unconditionally)
   * @param condition the source's ETag as read
   */
  async copy(
    sourceKey: string,
    destKey: string,
    condition: { ifMatch: string },
  ): Promise<WriteOutcome> {
    this.#checkKey(sourceKey);
    this.#checkKey(destKey);
    const first = await this.#copyOnce(sourceKey, destKey, condition.ifMatch);
    if (first.kind === "copied") return await this.#checkCopy(sourceKey, first.etag, condition);
    const current = await this.#headAs("COPY", sourceKey);
    if (!current || bareEtag(current.etag) !== bareEtag(condition.ifMatch)) {
      return { kind: "conflict" };
    }
    const other = otherForm(condition.ifMatch);
    this.#event({ kind: "etag-form", op: "COPY", form: other.form });
    const second = await this.#copyOnce(sourceKey, destKey, other.value);
    if (second.kind === "copied") return await this.#checkCopy(sourceKey, second.etag, condition);
    const after = await this.#headAs("COPY", sourceKey);
    if (after && bareEtag(after.etag) === bareEtag(condition.ifMatch)) {
      throw this.#unsupported("COPY", sourceKey, "x-amz-copy-source-if-match");
    }
    return { kind: "conflict" };
  }

  /** The copy holds the version asked for, or it was a conflict. */
  async #checkCopy(
    sourceKey: string,
    etag: string,
    condition: { ifMatch: string },
  ): Promise<WriteOutcome> {
    if (bareEtag(etag) === bareEtag(condition.ifMatch)) return { kind: "written", etag };
    // A store may give a copy a new ETag (e.g. SSE-KMS); then the source
    // still having the ETag asked for shows the right version was copied.
    const source = await this.#headAs("COPY", sourceKey);
    if (source && bareEtag(source.etag) === bareEtag(condition.ifMatch)) {
      return { kind: "written", etag };
    }
    return { kind: "conflict" };
  }

  async #copyOnce(
    sourceKey: string,
    destKey: string,
    ifMatch: string,
  ): Promise<CopyResult> {
    return await this.#run<CopyResult>("COPY", destKey, async (attempt) => {
      const answer = await this.#send({
        op: "COPY",
        method: "PUT",
        key: destKey,
        headers: {
          "x-amz-copy-source": `/${this.bucket}/${encodeKey(sourceKey)}`,
          "x-amz-copy-source-if-match": ifMatch,
          "x-amz-metadata-directive": "COPY",
        },
      }, attempt);
      try {
        const { res } = answer;
        const bytes = res.body ? await readCapped(res.body, ERROR_BODY_CAP) : new Uint8Array();
        const text = bytes ? new TextDecoder().decode(bytes) : "";
        const parsed = parseS3Error(text);
        // S3 may answer a copy with 200 and an <Error> body.
        const failed = res.status !== 200 || parsed.root === "Error";
        const error: StoreAnswer = {
          status: res.status,
          code: failed ? parsed.code : undefined,
          message: failed ? parsed.message : undefined,
          headers: res.headers,
        };
        this.#event({
          kind: "response",
          op: "COPY",
          method: "PUT",
          attempt,
          status: res.status,
          code: error.code,
        });
        if (!failed) {
          const etag = /<ETag>([^<]{1,200})<\/ETag>/.exec(text)?.[1];
          if (etag === undefined) {
            throw new StoreError(
              "rejected",
              `S3 COPY to ${this.location(destKey)} at ${this.endpoint}: the answer has no ETag`,
              "the store does not speak S3 CopyObject as expected",
              { status: res.status },
            );
          }
          return { retry: false, value: { kind: "copied", etag: xmlText(etag) } };
        }
        if (isPrecondition(error, true)) return { retry: false, value: { kind: "precondition" } };
        if (res.status === 200) {
          // An <Error> inside a 200: InternalError and the like are retried.
          return { retry: true, status: 500, code: error.code, message: error.message };
        }
        return this.#retryOrThrow("COPY", destKey, error);
      } finally {
        answer.done();
      }
    });
  }

  /**
   * One cheap request (a listing of at most one key) that proves the
   * endpoint answers, the bucket exists and the credentials work; throws a
   * {@linkcode StoreError} saying which does not.
   */
  async check(): Promise<void> {
    await this.#run("CHECK", undefined, async (attempt) => {
      const answer = await this.#send(
        { op: "CHECK", method: "GET", query: "list-type=2&max-keys=1" },
        attempt,
      );
      try {
        const { res } = answer;
        if (res.status === 200) {
          await res.body?.cancel();
          this.#event({ kind: "response", op: "CHECK", method: "GET", attempt, status: 200 });
          return { retry: false, value: undefined };
        }
        const error = await this.#readError(res);
        this.#event({
          kind: "response",
          op: "CHECK",
          method: "GET",
          attempt,
          status: res.status,
          code: error.code,
        });
        if (res.status === 404 && error.code === undefined) error.code = "NoSuchBucket";
        return this.#retryOrThrow("CHECK", undefined, error);
      } finally {
        answer.done();
      }
    });
  }

  // --- the machinery -------------------------------------------------------

  #checkKey(key: string): void {
    const problem = keyProblem(key);
    if (problem) throw new IngestError("usage", `${this.location(key)}: ${problem}`);
  }

  #event(event: S3Event): void {
    this.#onEvent?.(event);
  }

  #url(key: string | undefined, query: string | undefined): string {
    const path = this.#pathStyle
      ? `/${this.bucket}${key === undefined ? "" : `/${encodeKey(key)}`}`
      : `/${key === undefined ? "" : encodeKey(key)}`;
    return `${this.#origin}${path}${query ? `?${query}` : ""}`;
  }

  /** Signs and sends one request under its time limit. */
  async #send(plan: Plan, attempt: number): Promise<Answer> {
    const { timeoutMs, minBytesPerSecond } = this.#options;
    const controller = new AbortController();
    let timedOut = false;
    let deadline = timeoutMs + ((plan.bytes ?? 0) / minBytesPerSecond) * 1000;
    const started = performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = () => {
      clearTimeout(timer);
      const left = Math.max(0, deadline - (performance.now() - started));
      timer = setTimeout(() => {
        timedOut = true;
        controller.abort(new DOMException("time limit", "TimeoutError"));
      }, left);
    };
    arm();
    const onAbort = () => controller.abort(this.#signal?.reason);
    this.#signal?.addEventListener("abort", onAbort, { once: true });
    const done = () => {
      clearTimeout(timer);
      this.#signal?.removeEventListener("abort", onAbort);
    };
    const signer = new AwsV4Signer({
      ...this.#config.credentials(),
      method: plan.method,
      url: this.#url(plan.key, plan.query),
      headers: plan.headers ?? {},
      body: plan.body,
      service: "s3",
      region: this.#config.region,
    });
    const signed = await signer.sign();
    try {
      const res = await fetch(signed.url, {
        method: signed.method,
        headers: signed.headers,
        body: plan.body,
        redirect: "manual",
        signal: controller.signal,
      });
      return {
        res,
        allow: (bytes) => {
          deadline += (bytes / minBytesPerSecond) * 1000;
          arm();
        },
        done,
        timedOut: () => timedOut,
      };
    } catch (err) {
      done();
      throw this.#noAnswer(plan.op, plan.key, attempt, err, timedOut);
    }
  }

  /** A request that got no answer: a classified error, marked for retry or not. */
  #noAnswer(
    op: string,
    key: string | undefined,
    attempt: number,
    err: unknown,
    timedOut: boolean,
  ): Error {
    if (this.#signal?.aborted) return asError(this.#signal.reason);
    const what = key === undefined ? `bucket ${this.bucket}` : this.location(key);
    if (err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied) {
      return new StoreError(
        "permission",
        `S3 ${op} ${what}: Deno denied network access to ${this.netHost}`,
        `allow it: --allow-net=${this.netHost} (or the permission set's "net" list), then rebuild`,
        { cause: err },
      );
    }
    if (timedOut) {
      const reason = `no answer within ${describeSeconds(this.#options.timeoutMs)}`;
      this.#event({ kind: "no-answer", op, attempt, reason });
      return new StoreError(
        "unreachable",
        `S3 store ${this.endpoint} is unreachable: ${op} ${what} got ${reason}`,
        "check that the store is running and AWS_ENDPOINT_URL_S3 / AWS_REGION name it",
        { cause: err },
      );
    }
    const reason = connectionReason(err);
    this.#event({ kind: "no-answer", op, attempt, reason });
    return new Unanswered(
      new StoreError(
        "unreachable",
        `S3 store ${this.endpoint} is unreachable: ${op} ${what}: ${reason}`,
        "check that the store is running and AWS_ENDPOINT_URL_S3 / AWS_REGION name it",
        { cause: err },
      ),
    );
  }

  /**
   * Runs `step` until it answers, retrying what it marks retryable and
   * connection failures, within `attempts`, `connectAttempts` and
   * `budgetMs`.
   */
  async #run<T>(
    op: string,
    key: string | undefined,
    step: (attempt: number) => Promise<Step<T>>,
  ): Promise<T> {
    const { attempts, connectAttempts, backoffBaseMs, backoffCapMs, budgetMs } = this.#options;
    const started = this.#options.now();
    let connectFailures = 0;
    for (let attempt = 1;; attempt++) {
      let last: StoreError;
      try {
        const result = await step(attempt);
        if (!result.retry) return result.value;
        last = this.#serverError(op, key, result, attempt);
      } catch (err) {
        if (!(err instanceof Unanswered)) throw err;
        connectFailures++;
        last = err.error;
        if (connectFailures >= connectAttempts) throw last;
      }
      if (attempt >= attempts) throw last;
      const ceiling = Math.min(backoffCapMs, backoffBaseMs * 2 ** (attempt - 1));
      const delayMs = Math.round(this.#options.random() * ceiling);
      if (this.#options.now() - started + delayMs > budgetMs) throw last;
      this.#event({ kind: "backoff", op, attempt, delayMs });
      await this.#options.sleep(delayMs, this.#signal);
    }
  }

  #serverError(
    op: string,
    key: string | undefined,
    result: { status: number; code?: string; message?: string },
    attempts: number,
  ): StoreError {
    const what = key === undefined ? `bucket ${this.bucket}` : this.location(key);
    const answer = [result.status, result.code, result.message].filter(Boolean).join(" ");
    return new StoreError(
      "server",
      `S3 store ${this.endpoint} kept failing: ${op} ${what}: ${this.#scrub(answer)} ` +
        `(${attempts} attempt${attempts === 1 ? "" : "s"})`,
      "the store is overloaded or failing; try again later",
      { status: result.status, code: result.code },
    );
  }

  /** A retry step for 5xx, 429 and throttling codes; a classified error otherwise. */
  #retryOrThrow<T>(op: string, key: string | undefined, error: StoreAnswer): Step<T> {
    if (RETRY_STATUSES.has(error.status) || (error.code && RETRY_CODES.has(error.code))) {
      return { retry: true, status: error.status, code: error.code, message: error.message };
    }
    throw this.#classify(op, key, error);
  }

  #classify(op: string, key: string | undefined, error: StoreAnswer): StoreError {
    const what = key === undefined ? `bucket ${this.bucket}` : this.location(key);
    const answer = this.#scrub(
      [error.status, error.code, error.message].filter(Boolean).join(" "),
    );
    const details = { status: error.status, code: error.code };
    const bucketRegion = error.headers.get("x-amz-bucket-region");
    if (
      error.status === 301 || error.status === 307 || (error.code && REGION_CODES.has(error.code))
    ) {
      return new StoreError(
        "region",
        `S3 ${op} ${what} at ${this.endpoint}: ${answer}`,
        bucketRegion
          ? `the bucket is in ${bucketRegion}: set AWS_REGION=${bucketRegion}`
          : "check AWS_REGION and AWS_ENDPOINT_URL_S3",
        details,
      );
    }
    if (error.code === "NoSuchBucket") {
      return new StoreError(
        "no-bucket",
        `S3 bucket ${this.bucket} does not exist at ${this.endpoint} (${op} ${what})`,
        "create the bucket, or fix the bucket in the s3:// path",
        details,
      );
    }
    if (error.status === 403 || (error.code && CREDENTIAL_CODES.has(error.code))) {
      const token = this.#config.hasSessionToken ? ", AWS_SESSION_TOKEN" : "";
      return new StoreError(
        "credentials",
        `S3 ${op} ${what} at ${this.endpoint} was refused: ${answer}`,
        error.code === "RequestTimeTooSkewed"
          ? "check this host's clock"
          : `check the credentials: AWS_ACCESS_KEY_ID (${this.#config.maskedKeyId}), ` +
            `AWS_SECRET_ACCESS_KEY${token}, and that they may read and write bucket ${this.bucket}`,
        details,
      );
    }
    return new StoreError(
      "rejected",
      `S3 ${op} ${what} at ${this.endpoint} failed: ${answer}`,
      undefined,
      details,
    );
  }

  /** Removes any credential text a store might echo. */
  #scrub(text: string): string {
    let out = text;
    for (const secret of this.#config.secrets()) out = out.split(secret).join("[redacted]");
    return out;
  }

  async #readError(res: Response): Promise<StoreAnswer> {
    const bytes = res.body ? await readCapped(res.body, ERROR_BODY_CAP) : null;
    const parsed = bytes ? parseS3Error(new TextDecoder().decode(bytes)) : {};
    return {
      status: res.status,
      code: parsed.code,
      message: parsed.message,
      headers: res.headers,
    };
  }

  #etagOf(res: Response, op: string, key: string): string {
    const etag = res.headers.get("etag");
    if (etag === null || etag.trim() === "") {
      throw new StoreError(
        "rejected",
        `S3 ${op} ${this.location(key)} at ${this.endpoint}: the answer has no ETag`,
        "the store must send ETags for conditional writes",
        { status: res.status },
      );
    }
    return etag;
  }

  /** Streams a body to a file; null (file removed) when the body broke off. */
  async #saveBody(
    res: Response,
    destFile: string,
    key: string,
    answer: Answer,
  ): Promise<number | null> {
    const max = this.#options.maxObjectBytes;
    let size = 0;
    let tooLarge = false;
    const counter = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        size += chunk.length;
        if (size > max) {
          tooLarge = true;
          controller.error(new Error("object too large"));
          return;
        }
        controller.enqueue(chunk);
      },
    });
    const file = await Deno.open(destFile, { write: true, create: true, truncate: true });
    try {
      await (res.body ?? new Response("").body!).pipeThrough(counter).pipeTo(file.writable);
      return size;
    } catch (err) {
      await Deno.remove(destFile).catch(() => {});
      if (tooLarge) throw this.#tooLarge(key, size);
      if (this.#signal?.aborted) throw asError(this.#signal.reason);
      if (answer.timedOut()) {
        throw new StoreError(
          "unreachable",
          `S3 store ${this.endpoint} is too slow: GET ${this.location(key)} did not finish in time`,
          "check the store and the network",
          { cause: err },
        );
      }
      return null;
    }
  }

  /** After 412 on a retried write: did an earlier attempt write our bytes? */
  async #ambiguousWin(
    op: string,
    key: string,
    body: Uint8Array,
    ambiguous: boolean,
  ): Promise<WriteOutcome> {
    if (!ambiguous) return { kind: "conflict" };
    const current = await this.#headAs(op, key);
    return current ? this.#ownWrite(current, body) : { kind: "conflict" };
  }

  /** `written` when the object's ETag is the MD5 of our bytes (a single PUT's ETag). */
  #ownWrite(current: ObjectVersion, body: Uint8Array): WriteOutcome {
    const md5 = createHash("md5").update(body).digest("hex");
    return bareEtag(current.etag) === md5
      ? { kind: "written", etag: current.etag }
      : { kind: "conflict" };
  }

  /**
   * A local file's bytes, read into one buffer of its size (Deno.readFile
   * grows its buffer: twice as slow on tens of MB), refused over
   * `maxObjectBytes` or when it changes size while read.
   */
  async #readWhole(path: string, key: string): Promise<Uint8Array<ArrayBuffer>> {
    using file = await Deno.open(path, { read: true });
    const size = (await file.stat()).size;
    if (size > this.#options.maxObjectBytes) throw this.#tooLarge(key, size);
    const bytes = new Uint8Array(size);
    let offset = 0;
    while (offset < size) {
      const n = await file.read(bytes.subarray(offset));
      if (n === null) break;
      offset += n;
    }
    if (offset !== size || (await file.read(new Uint8Array(1))) !== null) {
      throw new IngestError(
        "internal",
        `${path} changed while it was read for ${this.location(key)}`,
      );
    }
    return bytes;
  }

  #tooLarge(key: string, size: number): StoreError {
    return new StoreError(
      "too-large",
      `S3 object ${this.location(key)} has ${size} bytes, over the limit of ` +
        `${this.#options.maxObjectBytes}`,
      "a catalog object is written in one PUT; raise maxObjectBytes only if that is intended",
    );
  }

  #unsupported(op: string, key: string, header: string): StoreError {
    return new StoreError(
      "unsupported",
      `S3 store ${this.endpoint} refused ${op} ${this.location(key)} with ${header} ` +
        `set to the object's current ETag, quoted and unquoted`,
      "this store does not support conditional writes; use a store that does " +
        "(AWS S3, Ceph RGW, MinIO, R2)",
      { status: 412 },
    );
  }
}

/** A connection failure, marked for the retry loop. */
class Unanswered extends Error {
  constructor(readonly error: StoreError) {
    super(error.message);
  }
}

/** A 412, a 409 ConditionalRequestConflict, or (under If-Match) a 404 NoSuchKey. */
function isPrecondition(error: StoreAnswer, ifMatch: boolean): boolean {
  if (error.status === 412) return true;
  if (error.status === 409 && error.code === "ConditionalRequestConflict") return true;
  return ifMatch && error.status === 404 && error.code === "NoSuchKey";
}

function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}

/** The short reason of a failed connection, from fetch's error chain. */
function connectionReason(err: unknown): string {
  const texts: string[] = [];
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    texts.push(e.message);
  }
  const all = texts.join(" ");
  const known = [
    [/connection refused/i, "connection refused"],
    [/connection reset/i, "connection reset"],
    [/dns error|failed to lookup|name or service not known|no address/i, "host name not found"],
    [/certificate|tls|ssl/i, "TLS failure"],
    [/timed out/i, "connection timed out"],
    [/unreachable/i, "network unreachable"],
  ] as const;
  for (const [pattern, reason] of known) if (pattern.test(all)) return reason;
  return texts[texts.length - 1]?.slice(0, 200) ?? "no answer";
}
