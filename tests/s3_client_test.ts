/**
 * lib/store/s3.ts against a real S3 store (a one-node Ceph, testing/ceph.ts)
 * for every behaviour the catalog relies on, and against a tiny in-process
 * fake for the retry arithmetic (5xx, SlowDown, endless 503, hangs).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import {
  bareEtag,
  maskKeyId,
  parseS3Error,
  parseS3Uri,
  S3Client,
  type S3ClientOptions,
  s3Config,
  type S3Event,
  StoreError,
} from "../lib/store/s3.ts";
import { IngestError } from "../lib/core/errors.ts";
import { freshBucket, s3EnvOf, s3Test, type S3TestStore } from "../testing/ceph.ts";
import { tempProject } from "../testing/tmp.ts";
import { REPO_ROOT } from "../tools/permissions.ts";

// --- helpers ---------------------------------------------------------------

interface Recorded {
  events: S3Event[];
  delays: number[];
  options: S3ClientOptions;
}

/** Options that record events and waits, with no real waiting. */
function recorded(extra: S3ClientOptions = {}): Recorded {
  const events: S3Event[] = [];
  const delays: number[] = [];
  return {
    events,
    delays,
    options: {
      random: () => 0.5,
      sleep: (ms) => {
        delays.push(ms);
        return Promise.resolve();
      },
      onEvent: (event) => events.push(event),
      ...extra,
    },
  };
}

function clientFor(store: S3TestStore, bucket: string, options: S3ClientOptions = {}): S3Client {
  return new S3Client(s3Config(s3EnvOf(store)), bucket, options);
}

const responses = (events: S3Event[]) =>
  events.filter((e) => e.kind === "response").map((e) =>
    e.kind === "response" ? `${e.op}/${e.method} ${e.status}` : ""
  );

async function readText(path: string): Promise<string> {
  return await Deno.readTextFile(path);
}

/** The object's bytes as text (via a fresh GET). */
async function objectText(client: S3Client, key: string, dir: string): Promise<string | null> {
  const file = join(dir, `read-${crypto.randomUUID()}`);
  const got = await client.get(key, file);
  return got ? await readText(file) : null;
}

async function rejects(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail("expected a rejection");
}

// --- configuration and URIs --------------------------------------------------

const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY";
const TOKEN = "FwoGZXIvYXdzEXAMPLESESSIONTOKEN";

Deno.test("s3Config: AWS defaults, endpoint precedence, and no secret in any rendering", () => {
  const config = s3Config({
    AWS_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE",
    AWS_SECRET_ACCESS_KEY: SECRET,
    AWS_SESSION_TOKEN: TOKEN,
    AWS_ENDPOINT_URL: "http://other:1",
    AWS_ENDPOINT_URL_S3: "http://127.0.0.1:7480",
    AWS_REGION: "",
  });
  assert.equal(config.region, "us-east-1");
  assert.equal(config.endpoint?.origin, "http://127.0.0.1:7480");
  assert.equal(config.maskedKeyId, "AKIA…MPLE");
  const renderings = [
    String(config),
    JSON.stringify(config),
    Deno.inspect(config),
    Deno.inspect({ nested: config }, { depth: 10 }),
    JSON.stringify(new S3Client(config, "cat")),
    Deno.inspect(new S3Client(config, "cat"), { depth: 10 }),
  ];
  for (const text of renderings) {
    assert.ok(!text.includes(SECRET), text);
    assert.ok(!text.includes(TOKEN), text);
    assert.ok(!text.includes("AKIAIOSFODNN7EXAMPLE"), text);
  }
  assert.equal(s3Config({ AWS_ACCESS_KEY_ID: "k", AWS_SECRET_ACCESS_KEY: "s" }).endpoint, null);
});

Deno.test("s3Config: each problem names the variable, never the value", () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ AWS_SECRET_ACCESS_KEY: SECRET }, /AWS_ACCESS_KEY_ID is not set/],
    [{ AWS_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE" }, /AWS_SECRET_ACCESS_KEY is not set/],
    [{ AWS_ACCESS_KEY_ID: "k", AWS_SECRET_ACCESS_KEY: `${SECRET} x` }, /SECRET_ACCESS_KEY holds/],
    [{ AWS_ACCESS_KEY_ID: "k", AWS_SECRET_ACCESS_KEY: "s", AWS_REGION: "EU West" }, /AWS_REGION/],
    [
      { AWS_ACCESS_KEY_ID: "k", AWS_SECRET_ACCESS_KEY: "s", AWS_ENDPOINT_URL_S3: "ftp://h" },
      /AWS_ENDPOINT_URL_S3 must be an http/,
    ],
    [
      {
        AWS_ACCESS_KEY_ID: "k",
        AWS_SECRET_ACCESS_KEY: "s",
        AWS_ENDPOINT_URL: `http://user:${SECRET}@h/`,
      },
      /AWS_ENDPOINT_URL must be an http/,
    ],
    [
      { AWS_ACCESS_KEY_ID: "k", AWS_SECRET_ACCESS_KEY: "s", AWS_ENDPOINT_URL: "http://h/x" },
      /without user, path/,
    ],
  ];
  for (const [env, pattern] of cases) {
    const err = (() => {
      try {
        s3Config(env);
      } catch (err) {
        return err;
      }
      assert.fail(`accepted ${Object.keys(env)}`);
    })();
    assert.ok(err instanceof IngestError);
    assert.equal(err.kind, "usage");
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes(SECRET) && !(err.hint ?? "").includes(SECRET));
  }
});

Deno.test("maskKeyId shows at most the ends of a long key id", () => {
  assert.equal(maskKeyId("AKIAIOSFODNN7EXAMPLE"), "AKIA…MPLE");
  assert.equal(maskKeyId("short"), "…");
});

Deno.test("parseS3Uri: bucket and key, with a clear error for each mistake", () => {
  assert.deepEqual(parseS3Uri("s3://cat/lake/symbols.parquet"), {
    bucket: "cat",
    key: "lake/symbols.parquet",
  });
  assert.deepEqual(parseS3Uri("s3://my.bucket-1/a b+c%20.parquet"), {
    bucket: "my.bucket-1",
    key: "a b+c%20.parquet",
  });
  const bad: [string, RegExp][] = [
    ["https://cat/x.parquet", /does not start with s3:\/\//],
    ["s3://", /bucket is missing/],
    ["s3:///x.parquet", /bucket is missing/],
    ["s3://cat", /object key is empty/],
    ["s3://cat/", /object key is empty/],
    ["s3://Cat/x.parquet", /lowercase letters/],
    ["s3://ab/x.parquet", /3 to 63/],
    ["s3://a..b/x.parquet", /'\.\.'/],
    ["s3://192.168.1.1/x.parquet", /IP address/],
    ["s3://cat/lake/../x.parquet", /'\.' or '\.\.' segment/],
    ["s3://cat/./x.parquet", /'\.' or '\.\.' segment/],
    ["s3://cat/a\nb.parquet", /control characters/],
    [`s3://cat/${"k".repeat(1025)}`, /over 1024 bytes/],
  ];
  for (const [uri, pattern] of bad) {
    assert.throws(() => parseS3Uri(uri), (err: unknown) => {
      assert.ok(err instanceof IngestError);
      assert.equal(err.kind, "usage");
      assert.match(err.message, pattern, uri);
      return true;
    });
  }
});

Deno.test("parseS3Error reads Code and Message, decoded, and tolerates junk", () => {
  assert.deepEqual(
    parseS3Error(
      '<?xml version="1.0"?><Error><Code>SlowDown</Code><Message>a &amp; b &lt;c&gt;</Message></Error>',
    ),
    { root: "Error", code: "SlowDown", message: "a & b <c>" },
  );
  assert.deepEqual(parseS3Error("<Error><Code>X</Code><Message></Message></Error>"), {
    root: "Error",
    code: "X",
    message: undefined,
  });
  assert.deepEqual(parseS3Error("not xml"), {
    root: undefined,
    code: undefined,
    message: undefined,
  });
  assert.equal(bareEtag('W/"abc"'), "abc");
  assert.equal(bareEtag("abc"), "abc");
});

// --- a fake store for the retry arithmetic -------------------------------------

type Handler = (req: Request, n: number) => Response | Promise<Response>;

/** A loopback HTTP server answering with `handler`; counts requests. */
function fakeStore(handler: Handler) {
  let count = 0;
  const requests: { method: string; headers: Headers }[] = [];
  const controller = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: controller.signal, onListen: () => {} },
    async (req) => {
      requests.push({ method: req.method, headers: new Headers(req.headers) });
      return await handler(req, ++count);
    },
  );
  const endpoint = `http://127.0.0.1:${server.addr.port}`;
  return {
    endpoint,
    requests,
    get count() {
      return count;
    },
    client(options: S3ClientOptions = {}) {
      return new S3Client(
        s3Config({
          AWS_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE",
          AWS_SECRET_ACCESS_KEY: SECRET,
          AWS_ENDPOINT_URL_S3: endpoint,
        }),
        "fake",
        options,
      );
    },
    async [Symbol.asyncDispose]() {
      controller.abort();
      await server.finished;
    },
  };
}

const xmlError = (status: number, code: string, message = "") =>
  new Response(
    `<?xml version="1.0"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`,
    {
      status,
      headers: { "content-type": "application/xml" },
    },
  );

Deno.test("fake store: 503 twice, then the answer; waits follow the jittered doubling", async () => {
  await using store = fakeStore((_req, n) =>
    n <= 2 ? xmlError(503, "ServiceUnavailable") : new Response(null, {
      status: 200,
      headers: { etag: '"e1"', "content-length": "0" },
    })
  );
  const rec = recorded({ backoffBaseMs: 100 });
  const head = await store.client(rec.options).head("k");
  assert.deepEqual(head, { etag: '"e1"', size: 0 });
  assert.equal(store.count, 3);
  assert.deepEqual(rec.delays, [50, 100], "random 0.5 of 100, then of 200");
});

Deno.test("fake store: an endless SlowDown stops after `attempts` requests with a server error", async () => {
  await using store = fakeStore(() =>
    xmlError(503, "SlowDown", "Please reduce your request rate.")
  );
  const rec = recorded({ attempts: 4, backoffBaseMs: 100, backoffCapMs: 250 });
  await using project = await tempProject();
  const err = await rejects(store.client(rec.options).get("k", join(project.dir, "out")));
  assert.ok(err instanceof StoreError);
  assert.equal(err.failure, "server");
  assert.equal(err.code, "SlowDown");
  assert.match(err.message, /kept failing: GET s3:\/\/fake\/k: 503 SlowDown .*\(4 attempts\)/);
  assert.equal(store.count, 4);
  assert.deepEqual(rec.delays, [50, 100, 125], "capped at 250");
  assert.deepEqual(await Array.fromAsync(Deno.readDir(project.dir)), [], "no partial file");
});

Deno.test("fake store: a SlowDown under a 400 status is retried too", async () => {
  await using store = fakeStore((_req, n) =>
    n === 1
      ? xmlError(400, "SlowDown")
      : new Response(null, { status: 200, headers: { etag: "e" } })
  );
  await using project = await tempProject();
  const got = await store.client(recorded().options).get("k", join(project.dir, "out"));
  assert.equal(got?.etag, "e");
  assert.equal(store.count, 2);
});

Deno.test("fake store: the time budget ends retries before `attempts` does", async () => {
  await using store = fakeStore(() => xmlError(500, "InternalError"));
  let clock = 0;
  const rec = recorded({
    attempts: 10,
    budgetMs: 1000,
    now: () => clock,
    sleep: (ms) => {
      clock += ms + 300; // each request and wait costs time
      return Promise.resolve();
    },
    random: () => 1,
    backoffBaseMs: 200,
  });
  const err = await rejects(store.client(rec.options).head("k"));
  assert.ok(err instanceof StoreError && err.failure === "server");
  assert.equal(store.count, 3, "200+300, then 400+300 spent; the next 800 ms wait would overrun");
});

Deno.test("fake store: no answer within the time limit fails at once, naming the endpoint", async () => {
  const hold = Promise.withResolvers<void>();
  await using store = fakeStore(async () => {
    await hold.promise;
    return new Response(null);
  });
  const rec = recorded({ timeoutMs: 200 });
  const err = await rejects(store.client(rec.options).head("k"));
  hold.resolve();
  assert.ok(err instanceof StoreError);
  assert.equal(err.failure, "unreachable");
  assert.ok(err.message.includes(store.endpoint), err.message);
  assert.match(err.message, /no answer within 200 ms/);
  assert.equal(store.count, 1, "a silent store is not asked again");
});

Deno.test("fake store: a PUT whose 500 hid a write is recognised by its MD5 on the 412", async () => {
  // The first PUT lands but answers 500; the retry meets its own write (412).
  let stored: Uint8Array | null = null;
  await using store = fakeStore(async (req, n) => {
    if (req.method === "PUT" && n === 1) {
      stored = new Uint8Array(await req.arrayBuffer());
      return xmlError(500, "InternalError");
    }
    if (req.method === "PUT") return xmlError(412, "PreconditionFailed");
    const md5 = createHash("md5").update(stored!).digest("hex");
    return new Response(null, { status: 200, headers: { etag: `"${md5}"` } });
  });
  await using project = await tempProject();
  const file = await project.write("cat.parquet", "new bytes");
  const rec = recorded();
  const outcome = await store.client(rec.options).put("k", file, { ifNoneMatch: "*" });
  const md5 = createHash("md5").update("new bytes").digest("hex");
  assert.deepEqual(outcome, { kind: "written", etag: `"${md5}"` });
  assert.deepEqual(responses(rec.events), ["PUT/PUT 500", "PUT/PUT 412", "PUT/HEAD 200"]);
});

Deno.test("fake store: a store that refuses its own current ETag ends with 'unsupported', in 4 requests", async () => {
  await using store = fakeStore((req) =>
    req.method === "PUT"
      ? xmlError(412, "PreconditionFailed")
      : new Response(null, { status: 200, headers: { etag: '"same"' } })
  );
  await using project = await tempProject();
  const file = await project.write("cat.parquet", "x");
  const rec = recorded();
  const err = await rejects(store.client(rec.options).put("k", file, { ifMatch: '"same"' }));
  assert.ok(err instanceof StoreError);
  assert.equal(err.failure, "unsupported");
  assert.equal(store.count, 4, "PUT, HEAD, PUT unquoted, HEAD: never a loop");
  assert.deepEqual(
    store.requests.filter((r) => r.method === "PUT").map((r) => r.headers.get("if-match")),
    [
      '"same"',
      "same",
    ],
  );
});

Deno.test("fake store: a copy answered 200 with an <Error> body is retried", async () => {
  await using store = fakeStore((_req, n) =>
    n === 1
      ? new Response("<Error><Code>InternalError</Code><Message>try again</Message></Error>")
      : new Response(
        '<CopyObjectResult><ETag>"abc"</ETag></CopyObjectResult>',
      )
  );
  const rec = recorded();
  const outcome = await store.client(rec.options).copy("k", "k.bak", { ifMatch: '"abc"' });
  assert.deepEqual(outcome, { kind: "written", etag: '"abc"' });
  assert.equal(store.count, 2);
  assert.equal(store.requests[0].headers.get("x-amz-copy-source"), "/fake/k");
  assert.equal(store.requests[0].headers.get("x-amz-copy-source-if-match"), '"abc"');
});

Deno.test("fake store: a wrong region is named with the bucket's own region", async () => {
  await using store = fakeStore(() =>
    new Response(null, { status: 301, headers: { "x-amz-bucket-region": "eu-west-1" } })
  );
  const err = await rejects(store.client(recorded().options).head("k"));
  assert.ok(err instanceof StoreError);
  assert.equal(err.failure, "region");
  assert.match(err.hint ?? "", /AWS_REGION=eu-west-1/);
});

Deno.test("fake store: a credential echoed by the store is redacted from the error", async () => {
  await using store = fakeStore(() => xmlError(400, "InvalidArgument", `bad key ${SECRET} here`));
  await using project = await tempProject();
  const err = await rejects(store.client(recorded().options).get("k", join(project.dir, "out")));
  assert.ok(err instanceof StoreError);
  assert.equal(err.failure, "rejected");
  assert.match(err.message, /400 InvalidArgument bad key \[redacted\] here/);
  assert.ok(!`${err.message} ${err.hint}`.includes(SECRET));
});

Deno.test("fake store: an endless error body is cut off, not read to its end", async () => {
  let chunks = 0;
  await using store = fakeStore(() =>
    new Response(
      new ReadableStream({
        pull(controller) {
          chunks++;
          controller.enqueue(new TextEncoder().encode("<Error><Code>X</Code>".padEnd(4096)));
        },
      }),
      { status: 400 },
    )
  );
  await using project = await tempProject();
  const err = await rejects(store.client(recorded().options).get("k", join(project.dir, "out")));
  assert.ok(err instanceof StoreError);
  assert.equal(err.failure, "rejected");
  assert.equal(err.code, undefined, "an over-long body is not parsed");
  // Read to its end, it would never end: that the call returned is the proof.
  assert.ok(chunks > 16, "the body was longer than the cap");
});

Deno.test("a closed port: 'unreachable', naming the endpoint, within connectAttempts requests", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const rec = recorded({ connectAttempts: 2 });
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client(
    s3Config({
      AWS_ACCESS_KEY_ID: "k",
      AWS_SECRET_ACCESS_KEY: SECRET,
      AWS_ENDPOINT_URL_S3: endpoint,
    }),
    "cat",
    rec.options,
  );
  for (const op of [() => client.check(), () => client.head("x.parquet")]) {
    rec.events.length = 0;
    const err = await rejects(op());
    assert.ok(err instanceof StoreError);
    assert.equal(err.failure, "unreachable");
    assert.ok(err.message.includes(endpoint), err.message);
    assert.match(err.message, /connection refused/);
    assert.equal(rec.events.filter((e) => e.kind === "no-answer").length, 2);
  }
});

Deno.test("a denied net permission is named as such and not retried", async () => {
  await using project = await tempProject();
  const script = await project.write(
    "probe.ts",
    `import { S3Client, s3Config } from "${join(REPO_ROOT, "lib/store/s3.ts")}";
let requests = 0;
const client = new S3Client(
  s3Config({ AWS_ACCESS_KEY_ID: "k", AWS_SECRET_ACCESS_KEY: "s", AWS_ENDPOINT_URL_S3: "http://127.0.0.1:45678" }),
  "cat",
  { onEvent: () => requests++ },
);
try {
  await client.head("x.parquet");
} catch (err) {
  console.log(JSON.stringify({ failure: err.failure, message: err.message, hint: err.hint, requests }));
}
`,
  );
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--config",
      join(REPO_ROOT, "deno.json"),
      `--allow-read=${REPO_ROOT},${project.dir}`,
      "--allow-net=example.com",
      "--no-prompt",
      script,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  assert.ok(text, new TextDecoder().decode(output.stderr));
  const result = JSON.parse(text);
  assert.equal(result.failure, "permission");
  assert.match(result.message, /Deno denied network access to 127\.0\.0\.1:45678/);
  assert.match(result.hint, /--allow-net=127\.0\.0\.1:45678/);
  assert.equal(result.requests, 0, "no event: nothing was sent and nothing retried");
});

// --- the real store --------------------------------------------------------------

s3Test("ceph: put, get and head round trip; a missing key is null", async (store) => {
  const client = clientFor(store, await freshBucket(store, "roundtrip"));
  await using project = await tempProject();
  await client.check();
  const source = await project.write("src.parquet", "catalog v1");
  const written = await client.put("lake/symbols.parquet", source, { ifNoneMatch: "*" });
  assert.equal(written.kind, "written");
  const dest = join(project.dir, "dest.parquet");
  const got = await client.get("lake/symbols.parquet", dest);
  assert.deepEqual(got, { etag: written.kind === "written" ? written.etag : "", size: 10 });
  assert.equal(await readText(dest), "catalog v1");
  assert.deepEqual(await client.head("lake/symbols.parquet"), got);
  assert.equal(await client.get("lake/none.parquet", join(project.dir, "none")), null);
  await assert.rejects(Deno.stat(join(project.dir, "none")), Deno.errors.NotFound);
  assert.equal(await client.head("lake/none.parquet"), null);
});

s3Test(
  "ceph: keys with spaces, plus signs, percent signs and non-ASCII sign and round-trip",
  async (store) => {
    const client = clientFor(store, await freshBucket(store, "keys"));
    await using project = await tempProject();
    for (const key of ["a b/c+d%20e.parquet", "ünï/cödé (1)!*'.parquet", "deep//x.parquet"]) {
      const source = await project.write("k", key);
      assert.equal((await client.put(key, source, { ifNoneMatch: "*" })).kind, "written", key);
      assert.equal(await objectText(client, key, project.dir), key);
    }
    assert.equal(await client.head("a b/c+d e.parquet"), null, "'%20' is not a space");
  },
);

s3Test(
  "ceph: If-None-Match on an existing key is a conflict; the object is unchanged",
  async (store) => {
    const client = clientFor(store, await freshBucket(store, "inm"));
    await using project = await tempProject();
    await client.put("k.parquet", await project.write("a", "first"), { ifNoneMatch: "*" });
    const outcome = await client.put("k.parquet", await project.write("b", "second"), {
      ifNoneMatch: "*",
    });
    assert.deepEqual(outcome, { kind: "conflict" });
    assert.equal(await objectText(client, "k.parquet", project.dir), "first");
  },
);

s3Test(
  "ceph: the ETag as received (quoted) works via one unquoted retry, which the client remembers",
  async (store) => {
    const rec = recorded();
    const client = clientFor(store, await freshBucket(store, "quote"), rec.options);
    await using project = await tempProject();
    const first = await client.put("k.parquet", await project.write("a", "v1"), {
      ifNoneMatch: "*",
    });
    assert.equal(first.kind, "written");
    const etag = first.kind === "written" ? first.etag : "";
    assert.match(etag, /^".+"$/, "the store sends it quoted");

    rec.events.length = 0;
    const second = await client.put("k.parquet", await project.write("b", "v2"), { ifMatch: etag });
    assert.equal(second.kind, "written");
    // Ceph 16.2 matches only the bare form: 412, HEAD, the unquoted retry.
    assert.deepEqual(responses(rec.events), ["PUT/PUT 412", "PUT/HEAD 200", "PUT/PUT 200"]);
    assert.deepEqual(
      rec.events.filter((e) => e.kind === "etag-form"),
      [{ kind: "etag-form", op: "PUT", form: "unquoted" }],
    );
    assert.equal(await objectText(client, "k.parquet", project.dir), "v2");

    // The client now sends the bare form first, whatever it is given.
    rec.events.length = 0;
    const third = await client.put("k.parquet", await project.write("c", "v3"), {
      ifMatch: second.kind === "written" ? second.etag : "",
    });
    assert.equal(third.kind, "written");
    assert.deepEqual(responses(rec.events), ["PUT/PUT 200"]);

    // A new client given the bare form succeeds at once too.
    rec.events.length = 0;
    const bare = bareEtag(third.kind === "written" ? third.etag : "");
    const fresh = clientFor(store, client.bucket, rec.options);
    const fourth = await fresh.put("k.parquet", await project.write("d", "v4"), { ifMatch: bare });
    assert.equal(fourth.kind, "written");
    assert.deepEqual(responses(rec.events), ["PUT/PUT 200"]);
  },
);

s3Test(
  "ceph: a stale ETag is a conflict (quoted or bare) and the object is unchanged",
  async (store) => {
    const rec = recorded();
    const client = clientFor(store, await freshBucket(store, "stale"), rec.options);
    await using project = await tempProject();
    const v1 = await client.put("k.parquet", await project.write("a", "v1"), { ifNoneMatch: "*" });
    const stale = v1.kind === "written" ? v1.etag : "";
    await client.put("k.parquet", await project.write("b", "v2"), { ifMatch: bareEtag(stale) });
    for (const etag of [stale, bareEtag(stale)]) {
      rec.events.length = 0;
      const outcome = await client.put("k.parquet", await project.write("c", "v3"), {
        ifMatch: etag,
      });
      assert.deepEqual(outcome, { kind: "conflict" });
      assert.deepEqual(responses(rec.events), ["PUT/PUT 412", "PUT/HEAD 200"], "one PUT, one HEAD");
    }
    assert.equal(await objectText(client, "k.parquet", project.dir), "v2");
  },
);

s3Test(
  "ceph: If-Match on a missing key is a conflict (Ceph says 412), not a loop",
  async (store) => {
    const rec = recorded();
    const client = clientFor(store, await freshBucket(store, "missing"), rec.options);
    await using project = await tempProject();
    const outcome = await client.put("none.parquet", await project.write("a", "x"), {
      ifMatch: '"0123456789abcdef0123456789abcdef"',
    });
    assert.deepEqual(outcome, { kind: "conflict" });
    assert.deepEqual(responses(rec.events), ["PUT/PUT 412", "PUT/HEAD 404"]);
    assert.equal(await client.head("none.parquet"), null);
  },
);

s3Test(
  "ceph: 8 writers racing on one ETag: exactly one wins, and its bytes are the object",
  async (store) => {
    const client = clientFor(store, await freshBucket(store, "race"));
    await using project = await tempProject();
    for (let round = 0; round < 5; round++) {
      const base = await client.put(
        "k.parquet",
        await project.write("base", `base ${round}`),
        round === 0 ? { ifNoneMatch: "*" } : { ifMatch: (await client.head("k.parquet"))!.etag },
      );
      assert.equal(base.kind, "written");
      const etag = base.kind === "written" ? base.etag : "";
      const files = await Promise.all(
        Array.from({ length: 8 }, (_, i) => project.write(`w${i}`, `writer ${i} round ${round}`)),
      );
      const outcomes = await Promise.all(
        files.map((file) => client.put("k.parquet", file, { ifMatch: etag })),
      );
      const winners = outcomes.flatMap((o, i) => o.kind === "written" ? [i] : []);
      assert.equal(winners.length, 1, `round ${round}: ${JSON.stringify(outcomes)}`);
      assert.equal(
        await objectText(client, "k.parquet", project.dir),
        `writer ${winners[0]} round ${round}`,
      );
    }
  },
);

s3Test(
  "ceph: copy conditional on the source's ETag keeps a rollback point; a stale one is a conflict",
  async (store) => {
    const rec = recorded();
    const client = clientFor(store, await freshBucket(store, "copy"), rec.options);
    await using project = await tempProject();
    const v1 = await client.put("k.parquet", await project.write("a", "v1"), { ifNoneMatch: "*" });
    const e1 = v1.kind === "written" ? v1.etag : "";
    for (const etag of [e1, bareEtag(e1)]) {
      const copied = await client.copy("k.parquet", "k.parquet.bak", { ifMatch: etag });
      assert.equal(copied.kind, "written", etag);
      assert.equal(bareEtag(copied.kind === "written" ? copied.etag : ""), bareEtag(e1));
      assert.equal(await objectText(client, "k.parquet.bak", project.dir), "v1");
    }
    await client.put("k.parquet", await project.write("b", "v2"), { ifMatch: bareEtag(e1) });
    // Ceph 16.2 ignores x-amz-copy-source-if-match and copies v2; the copy's
    // ETag gives it away.
    rec.events.length = 0;
    assert.deepEqual(await client.copy("k.parquet", "k.parquet.bak", { ifMatch: e1 }), {
      kind: "conflict",
    });
    assert.deepEqual(
      responses(rec.events),
      ["COPY/PUT 200", "COPY/HEAD 200"],
      "the copy, then a HEAD",
    );
    assert.deepEqual(
      await client.copy("none.parquet", "none.parquet.bak", { ifMatch: e1 }),
      { kind: "conflict" },
      "a missing source",
    );
  },
);

s3Test(
  "ceph: a wrong secret is a credentials error that shows no secret, on every operation",
  async (store) => {
    const bucket = await freshBucket(store, "creds");
    const wrong = "Wrong/Secret+Key0000000000000000000000";
    const client = new S3Client(
      s3Config({ ...s3EnvOf(store), AWS_SECRET_ACCESS_KEY: wrong }),
      bucket,
      recorded().options,
    );
    await using project = await tempProject();
    const file = await project.write("a", "x");
    for (
      const op of [
        () => client.check(),
        () => client.get("k.parquet", join(project.dir, "out")),
        () => client.head("k.parquet"),
        () => client.put("k.parquet", file, { ifNoneMatch: "*" }),
        () => client.copy("k.parquet", "k.bak", { ifMatch: '"x"' }),
      ]
    ) {
      const err = await rejects(op());
      assert.ok(err instanceof StoreError, String(err));
      assert.equal(err.failure, "credentials");
      assert.equal(err.kind, "network");
      assert.match(err.hint ?? "", /check the credentials/);
      const shown = `${err.message} ${err.hint} ${JSON.stringify(err)} ${Deno.inspect(err)}`;
      assert.ok(!shown.includes(wrong), shown);
      assert.ok(!shown.includes(store.secretAccessKey), shown);
    }
    assert.equal(await clientFor(store, bucket).head("k.parquet"), null, "nothing was written");
  },
);

s3Test("ceph: a missing bucket is named as missing", async (store) => {
  const client = clientFor(store, `gone-${crypto.randomUUID().slice(0, 8)}`);
  await using project = await tempProject();
  const file = await project.write("a", "x");
  for (
    const op of [
      () => client.check(),
      () => client.get("k.parquet", join(project.dir, "out")),
      () => client.put("k.parquet", file, { ifNoneMatch: "*" }),
    ]
  ) {
    const err = await rejects(op());
    assert.ok(err instanceof StoreError, String(err));
    assert.equal(err.failure, "no-bucket");
    assert.match(
      err.message,
      new RegExp(`bucket ${client.bucket} does not exist at ${store.endpoint}`),
    );
  }
});
