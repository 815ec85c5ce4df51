import assert from "node:assert/strict";
import { Http1Client } from "./http1_client.ts";
import { CraftedReplica, waitFor } from "../testing/mod.ts";
import { Abort } from "../support/mod.ts";
import { UpstreamError, type UpstreamFailure, type UpstreamRequest } from "./upstream.ts";

const get = (
  origin: string,
  target = "/",
  extra: Partial<UpstreamRequest> = {},
): UpstreamRequest => ({
  origin,
  target,
  method: "GET",
  headers: [],
  body: null,
  signal: new Abort(),
  ...extra,
});

const bytes = (text: string) => new TextEncoder().encode(text);

/** A whole 200 answer with a small body. */
const okAnswer = () => "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

/** Whether `error` is an UpstreamError of `kind`. */
const ofKind = (kind: UpstreamFailure) => (error: unknown) =>
  error instanceof UpstreamError && error.kind === kind;

async function text(
  body: Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array> | null,
): Promise<string> {
  if (body === null) return "";
  return await new Response(body).text();
}

/** A Deno.serve server on loopback; `close()` stops it. */
function serve(handler: (req: Request) => Response | Promise<Response>) {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
  return { origin: `http://127.0.0.1:${server.addr.port}`, close: () => server.shutdown() };
}

Deno.test("http1: a small answer comes back as bytes, and the connection is reused", async () => {
  const server = serve((req) =>
    new Response(`hello ${new URL(req.url).search}`, {
      headers: { "x-one": "1", "connection": "keep-alive" },
    })
  );
  const client = new Http1Client();
  try {
    for (let i = 0; i < 5; i++) {
      const res = await client.request(get(server.origin, `/p?i=${i}`));
      assert.equal(res.status, 200);
      assert.ok(res.body instanceof Uint8Array);
      assert.equal(await text(res.body), `hello ?i=${i}`);
      assert.ok(res.headers.some(([n, v]) => n === "x-one" && v === "1"));
      assert.ok(!res.headers.some(([n]) => n === "connection" || n === "keep-alive"));
    }
    assert.equal(client.idle(server.origin), 1, "one connection served all five");
  } finally {
    client.close();
    await server.close();
  }
});

Deno.test("http1: request bodies, bytes and streamed (chunked), and headers arrive", async () => {
  const server = serve(async (req) =>
    new Response(`${req.method} ${req.headers.get("x-a")} ${await req.text()}`)
  );
  const client = new Http1Client();
  try {
    const bytes = await client.request(get(server.origin, "/", {
      method: "POST",
      headers: [["x-a", "b"]],
      body: new TextEncoder().encode("payload"),
    }));
    assert.equal(await text(bytes.body), "POST b payload");
    const stream = ReadableStream.from(["str", "eam", "ed"]).pipeThrough(new TextEncoderStream());
    const streamed = await client.request(get(server.origin, "/", { method: "PUT", body: stream }));
    assert.equal(await text(streamed.body), "PUT null streamed");
    const empty = await client.request(get(server.origin, "/", { method: "POST" }));
    assert.equal(await text(empty.body), "POST null ");
  } finally {
    client.close();
    await server.close();
  }
});

Deno.test("http1: a large answer is streamed whole; HEAD and 204 have no body", async () => {
  const big = "x".repeat(1_000_000);
  const server = serve((req) =>
    req.method === "HEAD" || new URL(req.url).pathname === "/none"
      ? new Response(null, { status: req.method === "HEAD" ? 200 : 204 })
      : new Response(big)
  );
  const client = new Http1Client();
  try {
    const res = await client.request(get(server.origin));
    assert.ok(res.body instanceof ReadableStream);
    assert.equal((await text(res.body)).length, big.length);
    assert.equal(client.idle(server.origin), 1, "pooled once the body was read");
    const head = await client.request(get(server.origin, "/", { method: "HEAD" }));
    assert.equal(head.body, null);
    const none = await client.request(get(server.origin, "/none"));
    assert.equal(none.status, 204);
    assert.equal(none.body, null);
    // Bodiless answers are not trusted to leave the connection clean: not pooled.
    assert.equal(client.idle(server.origin), 0);
  } finally {
    client.close();
    await server.close();
  }
});

Deno.test("http1: chunked with extensions and trailers, close-delimited, interim 100", async () => {
  await using server = await CraftedReplica.start("a", ({ target }) => ({
    send: target === "/chunked"
      ? "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" +
        "5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nx-trailer: t\r\n\r\n"
      : target === "/continue"
      ? "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok"
      : "HTTP/1.0 200 OK\r\n\r\nuntil close",
    close: target === "/close",
  }));
  const client = new Http1Client();
  try {
    const chunked = await client.request(get(server.url, "/chunked"));
    assert.equal(await text(chunked.body), "hello world");
    const cont = await client.request(get(server.url, "/continue"));
    assert.equal(cont.status, 201);
    assert.equal(await text(cont.body), "ok");
    // Close-delimited: the body ends when the replica closes the connection.
    const res = await client.request(get(server.url, "/close"));
    assert.equal(await text(res.body), "until close");
    assert.equal(client.idle(server.url), 0, "a close-delimited connection is not reused");
  } finally {
    client.close();
  }
});

Deno.test("http1: a pooled connection closed as the request arrives: GET sent again on a new one, POST not", async () => {
  // The stale keep-alive race: the replica closes a kept connection just as the next request
  // arrives on it (its idle timeout fired), so no answer comes and the idle watch could not
  // have seen it coming. Every connection answers its first request and closes on the second.
  await using replica = await CraftedReplica.start("a", ({ nth }) => nth === 1 ? "ok" : "close");
  const client = new Http1Client();
  try {
    assert.equal((await client.request(get(replica.url))).status, 200);
    assert.equal(client.idle(replica.url), 1);
    const again = await client.request(get(replica.url, "/again"));
    assert.equal(again.status, 200, "the GET was sent again and answered");
    assert.deepEqual(replica.received, ["GET /", "GET /again", "GET /again"]);
    assert.equal(replica.connections, 2, "once on the stale connection, once on a new one");

    // A POST may have been acted on when the connection closed: it is not sent twice.
    assert.equal(client.idle(replica.url), 1);
    await assert.rejects(
      client.request(get(replica.url, "/post", { method: "POST", body: bytes("x") })),
      ofKind("closed"),
    );
    assert.equal(replica.count("POST"), 1, "the POST reached the replica once");
    assert.equal(replica.connections, 2, "and no new connection was opened for it");
  } finally {
    client.close();
  }
});

Deno.test("http1: a POST never goes out on a connection idle longer than freshMs; a GET may", async () => {
  let now = 0;
  await using replica = await CraftedReplica.start("a");
  const client = new Http1Client({ freshMs: 1_000, now: () => now });
  try {
    await client.request(get(replica.url));
    now = 999; // still fresh: the POST reuses the connection
    await client.request(get(replica.url, "/", { method: "POST", body: bytes("1") }));
    assert.equal(replica.connections, 1);
    now = 2_000; // idle 1,001 ms: the server may be closing it
    const post = await client.request(get(replica.url, "/", { method: "POST", body: bytes("2") }));
    assert.equal(post.status, 200);
    assert.equal(replica.connections, 2, "the POST went out on a new connection");
    now = 4_000; // a GET can be sent again if the old connection fails: it is reused
    await client.request(get(replica.url));
    assert.equal(replica.connections, 2, "the GET reused the idle connection");
  } finally {
    client.close();
  }
});

Deno.test("http1: every failure has its kind: refused, closed, reset, protocol", async () => {
  const client = new Http1Client();
  try {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = listener.addr.port;
    listener.close();
    await assert.rejects(client.request(get(`http://127.0.0.1:${port}`)), ofKind("refused"));
    for (
      const [kind, action] of [
        ["closed", "close"],
        ["reset", "reset"],
        ["protocol", { send: "SMTP ready\r\n\r\n" }],
      ] as const
    ) {
      for (const method of ["GET", "POST"]) {
        await using replica = await CraftedReplica.start("a", () => action);
        const request = get(replica.url, "/", {
          method,
          body: method === "POST" ? bytes("x") : null,
        });
        await assert.rejects(client.request(request), ofKind(kind), `${method}, ${kind}`);
        assert.equal(replica.received.length, 1, `${method}, ${kind}: the request reached it`);
      }
    }
  } finally {
    client.close();
  }
});

Deno.test("http1: a body cut short fails with its kind, and the connection is not reused", async () => {
  const client = new Http1Client();
  try {
    for (
      const [kind, answer] of [
        ["closed", "HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\nonly this"],
        ["closed", "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n"],
        ["protocol", "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello!!\r\n"],
      ] as const
    ) {
      await using replica = await CraftedReplica.start("a", () => ({ send: answer, close: true }));
      const res = await client.request(get(replica.url));
      assert.equal(res.status, 200);
      await assert.rejects(text(res.body), ofKind(kind), answer);
      assert.equal(client.idle(replica.url), 0);
    }
  } finally {
    client.close();
  }
});

Deno.test("http1: an abort while the replica stalls rejects with the signal's reason at once", async () => {
  await using replica = await CraftedReplica.start("a", () => "stall");
  const client = new Http1Client();
  const abort = new Abort();
  try {
    const pending = client.request(get(replica.url, "/", { signal: abort }));
    await waitFor(() => replica.received.length === 1, "the request reached the replica");
    abort.abort(new DOMException("response timeout", "TimeoutError"));
    await assert.rejects(
      pending,
      (e: unknown) => e instanceof DOMException && e.name === "TimeoutError",
    );
    assert.equal(client.idle(replica.url), 0, "the aborted connection is not pooled");
  } finally {
    client.close();
  }
});

Deno.test("http1: bytes a replica sends on an idle pooled connection close it", async () => {
  await using server = await CraftedReplica.start("a", ({ nth }) => ({
    send: `HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n${nth === 1 ? "ok" : "no"}`,
  }));
  const client = new Http1Client();
  try {
    assert.equal(await text((await client.request(get(server.url))).body), "ok");
    assert.equal(client.idle(server.url), 1);
    // A stray answer nobody asked for arrives while the connection is idle.
    server.inject("HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nSTOLEN");
    await waitFor(() => client.idle(server.url) === 0, "the idle connection is dropped");
    const next = await client.request(get(server.url));
    // The idle connection was closed when the stray bytes came: a new one answers "ok" (its
    // first answer), where the old one would have handed over "STOLEN".
    assert.equal(await text(next.body), "ok");
    assert.equal(server.connections, 2);
  } finally {
    client.close();
  }
});

Deno.test("http1: chunked wins over Content-Length; duplicate Connection fields add up", async () => {
  await using server = await CraftedReplica.start("a", ({ target }) => ({
    send: target === "/both"
      ? "HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
      : "HTTP/1.1 200 OK\r\nconnection: close\r\nconnection: x-other\r\nx-other: 1\r\ncontent-length: 2\r\n\r\nok",
  }));
  const client = new Http1Client();
  try {
    const both = await client.request(get(server.url, "/both"));
    assert.equal(await text(both.body), "hello");
    assert.ok(!both.headers.some(([name]) => name === "content-length"), "no stale length");
    assert.equal(client.idle(server.url), 0, "such a connection is not reused");
    const closing = await client.request(get(server.url, "/close"));
    assert.equal(await text(closing.body), "ok");
    assert.ok(!closing.headers.some(([name]) => name === "x-other"), "named by Connection");
    assert.equal(client.idle(server.url), 0, "'close' in the first Connection field counts");
  } finally {
    client.close();
  }
});

Deno.test("http1: header values keep every obs-text byte (0x80–0xff) as it was sent", async () => {
  // Not windows-1252 (WHATWG's "latin1"), which would turn 0x80–0x9f into other characters.
  const value = "a\x80\x85\x9f\xa0\xe9\xff";
  await using replica = await CraftedReplica.start("u", () => ({
    send: `HTTP/1.1 200 OK\r\nx-obs: ${value}\r\ncontent-length: 2\r\n\r\nok`,
    close: true,
  }));
  const client = new Http1Client();
  try {
    const res = await client.request(get(replica.url));
    assert.deepEqual(res.headers.find(([name]) => name === "x-obs"), ["x-obs", value]);
    assert.equal(await text(res.body), "ok");
  } finally {
    client.close();
  }
});

Deno.test("http1: malformed answers are protocol errors, never passed on", async () => {
  const answers: Record<string, string> = {
    "/status": "HTTP/1.1 099 Odd\r\ncontent-length: 0\r\n\r\n",
    "/name": "HTTP/1.1 200 OK\r\nbad name: 1\r\ncontent-length: 0\r\n\r\n",
    "/te": "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    "/chunk": "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
    // A bare LF or CR ends no line: the field line holding it is refused, not split.
    "/lf": "HTTP/1.1 200 OK\r\nx-a: 1\nx-b: 2\r\ncontent-length: 0\r\n\r\n",
    "/cr": "HTTP/1.1 200 OK\r\nx-a: 1\rx-b: 2\r\ncontent-length: 0\r\n\r\n",
  };
  await using server = await CraftedReplica.start("a", ({ target }) => ({
    send: answers[target],
  }));
  const client = new Http1Client();
  try {
    for (const path of Object.keys(answers)) {
      const failed = client.request(get(server.url, path)).then(async (res) => {
        await text(res.body);
      });
      await assert.rejects(failed, ofKind("protocol"), path);
    }
  } finally {
    client.close();
  }
});

Deno.test("http1: an aborted signal stops the request before it is sent", async () => {
  await using server = await CraftedReplica.start("a");
  const client = new Http1Client();
  const abort = new Abort();
  abort.abort(new DOMException("gone", "AbortError"));
  await assert.rejects(client.request(get(server.url, "/", { signal: abort })), /gone/);
  assert.equal(server.connections, 0);
  client.close();
});

Deno.test("http1: what is sent: Host, the caller's fields, and the body's framing", async () => {
  await using replica = await CraftedReplica.start("a");
  const client = new Http1Client();
  try {
    const streamed = ReadableStream.from([bytes("ab"), new Uint8Array(0), bytes("cd")]);
    const sent: [string, Partial<UpstreamRequest>, string[]][] = [
      ["GET", { headers: [["x-a", "1"]] }, ["x-a: 1"]],
      ["POST", {}, ["content-length: 0"]],
      ["DELETE", {}, []],
      ["PUT", { body: bytes("hello") }, ["content-length: 5"]],
      // An empty chunk in a stream must not end the chunked body early.
      ["POST", { body: streamed }, ["transfer-encoding: chunked"]],
    ];
    for (const [method, extra] of sent) {
      await client.request(get(replica.url, "/p?q=1", { method, ...extra }));
    }
    const host = `host: ${replica.url.slice("http://".length)}`;
    sent.forEach(([method, , fields], i) => {
      assert.deepEqual(replica.heads[i], [host, ...fields], method);
    });
    assert.deepEqual(replica.bodies, ["", "", "", "hello", "abcd"]);
    assert.deepEqual(replica.received.slice(0, 1), ["GET /p?q=1"]);
  } finally {
    client.close();
  }
});

Deno.test("http1: at most maxIdlePerOrigin idle connections are kept", async () => {
  await using replica = await CraftedReplica.start("a");
  const client = new Http1Client({ maxIdlePerOrigin: 1 });
  try {
    await Promise.all([client.request(get(replica.url)), client.request(get(replica.url))]);
    assert.equal(replica.connections, 2);
    assert.equal(client.idle(replica.url), 1, "the second one was closed");
    await client.request(get(replica.url));
    assert.equal(replica.connections, 2, "the kept one is reused");
  } finally {
    client.close();
  }
});

Deno.test("http1: bytes after an answer, or a client closed meanwhile: the connection is not kept", async () => {
  await using replica = await CraftedReplica.start(
    "a",
    ({ target }) =>
      target === "/extra" ? { send: "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokEXTRA" } : "ok",
  );
  const client = new Http1Client();
  assert.equal(await text((await client.request(get(replica.url, "/extra"))).body), "ok");
  assert.equal(client.idle(replica.url), 0, "extra bytes: not trusted");
  const pending = client.request(get(replica.url));
  client.close();
  assert.equal((await pending).status, 200);
  assert.equal(client.idle(replica.url), 0, "closed: nothing is kept");
});

Deno.test("http1: heads larger than the read buffer are read; larger than maxHeadBytes are refused", async () => {
  const big = "v".repeat(40_000);
  await using replica = await CraftedReplica.start("a", () => ({
    send: `HTTP/1.1 200 OK\r\nx-big: ${big}\r\ncontent-length: 2\r\n\r\nok`,
  }));
  const client = new Http1Client();
  const small = new Http1Client({ maxHeadBytes: 16 * 1024 });
  try {
    const res = await client.request(get(replica.url));
    assert.equal(res.headers.find(([name]) => name === "x-big")?.[1], big);
    assert.equal(await text(res.body), "ok");
    await assert.rejects(small.request(get(replica.url)), ofKind("protocol"));
  } finally {
    client.close();
    small.close();
  }
});

Deno.test("http1: a chunked answer of many small chunks crossing read buffers arrives whole", async () => {
  // 17-byte chunks: a two-digit size line each.
  const chunks = Array.from({ length: 3_000 }, (_, i) => `${String(i).padStart(16, "0")}\n`);
  const wire = chunks.map((c) => `${c.length.toString(16)}\r\n${c}\r\n`).join("");
  await using replica = await CraftedReplica.start("a", () => ({
    send: `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n${wire}0\r\n\r\n`,
  }));
  const client = new Http1Client();
  try {
    const res = await client.request(get(replica.url));
    assert.equal(await text(res.body), chunks.join(""));
    assert.equal(client.idle(replica.url), 1, "kept once the last chunk was read");
  } finally {
    client.close();
  }
});

Deno.test("http1: HTTP/1.0 keeps a connection only when asked; HEAD keeps its length; 304 has no body", async () => {
  const answers: Record<string, string> = {
    "/10": "HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok",
    "/10ka": "HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 2\r\n\r\nok",
    "/head": "HTTP/1.1 200 OK\r\ncontent-length: 1234\r\n\r\n",
    "/304": 'HTTP/1.1 304 Not Modified\r\ncontent-length: 1234\r\netag: "x"\r\n\r\n',
    "/cl": "HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 2\r\n\r\nok",
  };
  await using replica = await CraftedReplica.start(
    "a",
    ({ target }) => ({ send: answers[target] }),
  );
  const client = new Http1Client();
  try {
    await text((await client.request(get(replica.url, "/10"))).body);
    assert.equal(client.idle(replica.url), 0, "HTTP/1.0: closed by default");
    await text((await client.request(get(replica.url, "/10ka"))).body);
    assert.equal(client.idle(replica.url), 1, "HTTP/1.0 with keep-alive: kept");
    const head = await client.request(get(replica.url, "/head", { method: "HEAD" }));
    assert.equal(head.body, null);
    assert.deepEqual(head.headers, [["content-length", "1234"]], "HEAD: the length it would have");
    const notModified = await client.request(get(replica.url, "/304"));
    assert.equal(notModified.status, 304);
    assert.equal(notModified.body, null);
    assert.deepEqual(notModified.headers, [["etag", '"x"']]);
    const twice = await client.request(get(replica.url, "/cl"));
    assert.equal(await text(twice.body), "ok", "the same Content-Length twice is one");
  } finally {
    client.close();
  }
});

Deno.test("http1: interim answers are skipped, a switch of protocols is refused", async () => {
  await using replica = await CraftedReplica.start("a", ({ target }) => ({
    send: target === "/101"
      ? "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n"
      : "HTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n" +
        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
  }));
  const client = new Http1Client();
  try {
    const res = await client.request(get(replica.url, "/hints"));
    assert.equal(res.status, 200);
    assert.equal(await text(res.body), "ok");
    await assert.rejects(client.request(get(replica.url, "/101")), ofKind("protocol"));
  } finally {
    client.close();
  }
});

Deno.test("http1: a streamed answer cancelled by its reader closes its connection", async () => {
  await using replica = await CraftedReplica.start("a", () => ({
    send: "HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\n\r\n" + "x".repeat(100_000),
  }));
  const client = new Http1Client();
  try {
    const res = await client.request(get(replica.url));
    assert.ok(res.body instanceof ReadableStream);
    const reader = res.body.getReader();
    await reader.read();
    await new Promise((resolve) => setTimeout(resolve, 20)); // (no read pending: see below)
    await reader.cancel();
    assert.equal(client.idle(replica.url), 0);
    await waitFor(() => replica.connections === 1, "one connection");
    await client.request(get(replica.url)).then((r) => (r.body as ReadableStream).cancel());
    assert.equal(replica.connections, 2, "the cancelled one was not reused");
  } finally {
    client.close();
  }
});

Deno.test("http1: an origin that is not http:// is a connect failure", async () => {
  const client = new Http1Client();
  await assert.rejects(client.request(get("https://127.0.0.1:1")), ofKind("connect"));
});

Deno.test("http1: a head and a body split across reads, anywhere, are read whole", async () => {
  const answer = "HTTP/1.1 200 OK\r\nx-a: 1\r\ncontent-length: 10\r\n\r\n0123456789";
  const end = answer.indexOf("\r\n\r\n");
  const splits = [
    [5], // in the status line
    [end + 1], // inside the blank line: \r | \n\r\n
    [end + 2], // \r\n | \r\n
    [end + 3], // \r\n\r | \n
    [end + 4 + 5], // in the body: the rest comes with the next read
    [end + 4 + 3, end + 4 + 6], // in the body, twice: streamed
  ];
  for (const at of splits) {
    const parts = [0, ...at].map((from, i) => answer.slice(from, [...at, answer.length][i]));
    await using replica = await CraftedReplica.start("a", () => ({ send: parts }));
    const client = new Http1Client();
    try {
      const res = await client.request(get(replica.url));
      assert.deepEqual(res.headers, [["x-a", "1"], ["content-length", "10"]], `split at ${at}`);
      // A body that the next read completes comes back as bytes; one that needs more, streamed.
      assert.equal(res.body instanceof ReadableStream, at.length === 2, `split at ${at}: framing`);
      assert.equal(await text(res.body), "0123456789", `split at ${at}`);
      assert.equal(client.idle(replica.url), 1, `split at ${at}: kept`);
    } finally {
      client.close();
    }
  }
});

Deno.test("http1: waiting for a chunk size line past 4 KiB is a protocol error", async () => {
  // The line's end would come later: the client stops buffering it at 4 KiB.
  const long = `5;${"x".repeat(5_000)}`;
  await using replica = await CraftedReplica.start("a", () => ({
    send: [
      `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n${long}`,
      "\r\nhello\r\n0\r\n\r\n",
    ],
  }));
  const client = new Http1Client();
  try {
    const res = await client.request(get(replica.url));
    await assert.rejects(text(res.body), ofKind("protocol"));
  } finally {
    client.close();
  }
});

Deno.test("http1: sequential requests share one connection, kept across its reuses", async () => {
  await using replica = await CraftedReplica.start("a");
  const client = new Http1Client();
  try {
    for (let i = 0; i < 5; i++) await client.request(get(replica.url, `/${i}`));
    assert.equal(replica.connections, 1);
    assert.equal(client.idle(replica.url), 1);
  } finally {
    client.close();
  }
});

Deno.test("http1: a kept connection reset while idle leaves the pool; the next POST goes out on a new one", async () => {
  await using replica = await CraftedReplica.start("a");
  const client = new Http1Client();
  try {
    await client.request(get(replica.url));
    replica.resetLast();
    await waitFor(() => client.idle(replica.url) === 0, "the reset connection leaves the pool");
    const post = await client.request(get(replica.url, "/", { method: "POST", body: bytes("x") }));
    assert.equal(post.status, 200);
    assert.equal(replica.connections, 2);
  } finally {
    client.close();
  }
});

Deno.test("http1: one kept connection closing leaves the others in the pool", async () => {
  await using replica = await CraftedReplica.start(
    "a",
    ({ target }) => target === "/slow" ? { send: ["", okAnswer()] } : "ok",
  );
  const client = new Http1Client();
  try {
    // Two connections at once, both kept; the replica then closes the newer one.
    await Promise.all([
      client.request(get(replica.url, "/slow")),
      client.request(get(replica.url)),
    ]);
    assert.equal(client.idle(replica.url), 2);
    replica.resetLast();
    await waitFor(() => client.idle(replica.url) === 1, "one left");
    await client.request(get(replica.url));
    assert.equal(replica.connections, 2, "the one left was reused");
  } finally {
    client.close();
  }
});

Deno.test("http1: the POST freshness rule runs on the real clock by default", async () => {
  await using replica = await CraftedReplica.start("a");
  const client = new Http1Client({ freshMs: 50 });
  try {
    await client.request(get(replica.url));
    const idleFrom = performance.now();
    await waitFor(() => performance.now() - idleFrom > 80, "the connection is stale", 5_000, 10);
    await client.request(get(replica.url, "/", { method: "POST", body: bytes("x") }));
    assert.equal(replica.connections, 2, "the POST did not use the stale connection");
  } finally {
    client.close();
  }
});

Deno.test("http1: freshMs is a bound: idle exactly that long is still fresh", async () => {
  let now = 500;
  await using replica = await CraftedReplica.start("a");
  const client = new Http1Client({ freshMs: 1_000, now: () => now });
  try {
    await client.request(get(replica.url)); // idle from 500
    now = 1_500;
    await client.request(get(replica.url, "/", { method: "POST", body: bytes("x") }));
    assert.equal(replica.connections, 1);
  } finally {
    client.close();
  }
});

Deno.test("http1: a kept connection reset as the next request arrives: GET sent again on a new one", async () => {
  await using replica = await CraftedReplica.start("a", ({ nth }) => nth === 1 ? "ok" : "reset");
  const client = new Http1Client();
  try {
    await client.request(get(replica.url));
    assert.equal((await client.request(get(replica.url, "/again"))).status, 200);
    assert.equal(replica.connections, 2);
  } finally {
    client.close();
  }
});

Deno.test("http1: an IPv6 origin is reached", async () => {
  await using replica = await CraftedReplica.start("a", undefined, "::1");
  const client = new Http1Client();
  try {
    assert.match(replica.url, /^http:\/\/\[::1\]:\d+$/);
    assert.equal((await client.request(get(replica.url))).status, 200);
    assert.deepEqual(replica.heads[0], [`host: ${replica.url.slice("http://".length)}`]);
  } finally {
    client.close();
  }
});

Deno.test("http1: a connect that hangs (a full accept queue) is cut short by the abort", async () => {
  // A listener that never accepts: once its queue (511) is full, SYNs are dropped and a
  // connect hangs, as to a dead host.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const client = new Http1Client();
  try {
    const origin = `http://127.0.0.1:${listener.addr.port}`;
    for (;;) {
      const next = Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
      const conn = await Promise.race([next, new Promise<null>((r) => setTimeout(r, 200, null))]);
      if (conn === null) {
        next.then((late) => late.close(), () => {});
        break;
      }
      held.push(conn);
      assert.ok(held.length < 5_000, "the accept queue never filled");
    }
    const abort = new Abort();
    const pending = client.request(get(origin, "/", { signal: abort }));
    const reason = new DOMException("response timeout", "TimeoutError");
    abort.abort(reason);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stuck = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error("the connect was not cut short")), 5_000);
    });
    await assert.rejects(Promise.race([pending, stuck]), (e: unknown) => e === reason);
    clearTimeout(timer);
  } finally {
    client.close();
    for (const conn of held) conn.close();
    listener.close();
  }
});

Deno.test("http1: strict heads: status line, field lines and lengths that are not HTTP/1.1 are refused", async () => {
  const ok = "content-length: 2\r\n\r\nok";
  const answers: Record<string, string> = {
    "/lead": ` HTTP/1.1 200 OK\r\n${ok}`,
    "/trail": `HTTP/1.1 200 O\u0001K\r\n${ok}`,
    "/nocolon": `HTTP/1.1 200 OK\r\nx-no-colon\r\n${ok}`,
    "/plus": "HTTP/1.1 200 OK\r\ncontent-length: +2\r\n\r\nok",
    "/suffix": "HTTP/1.1 200 OK\r\ncontent-length: 2x\r\n\r\nok",
    "/prefix": "HTTP/1.1 200 OK\r\ncontent-length: x2\r\n\r\nok",
    "/two": "HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nok",
    "/huge": "HTTP/1.1 200 OK\r\ncontent-length: 1234567890123456\r\n\r\nok",
  };
  await using server = await CraftedReplica.start("a", ({ target }) => ({ send: answers[target] }));
  const client = new Http1Client();
  try {
    for (const path of Object.keys(answers)) {
      await assert.rejects(client.request(get(server.url, path)), ofKind("protocol"), path);
    }
  } finally {
    client.close();
  }
});

Deno.test("http1: the reason phrase is kept (or empty); only Connection's tokens name fields to drop", async () => {
  const answers: Record<string, string> = {
    "/busy": "HTTP/1.1 503 Busy Now\r\ncontent-length: 0\r\n\r\n",
    "/bare": "HTTP/1.1 200\r\ncontent-length: 0\r\n\r\n",
    "/named": "HTTP/1.1 200 OK\r\nx-a: x-b\r\nx-b: 1\r\nconnection: keep-alive, close\r\n" +
      "content-length: 0\r\n\r\n",
    "/head": "HTTP/1.1 200 OK\r\nx-a: 1\r\n\r\n",
  };
  await using server = await CraftedReplica.start("a", ({ target }) => ({ send: answers[target] }));
  const client = new Http1Client();
  try {
    const busy = await client.request(get(server.url, "/busy"));
    assert.deepEqual([busy.status, busy.statusText], [503, "Busy Now"]);
    assert.equal((await client.request(get(server.url, "/bare"))).statusText, "");
    const named = await client.request(get(server.url, "/named"));
    assert.deepEqual(named.headers, [["x-a", "x-b"], ["x-b", "1"], ["content-length", "0"]]);
    assert.equal(client.idle(server.url), 0, "' close' after a comma counts");
    const head = await client.request(get(server.url, "/head", { method: "HEAD" }));
    assert.deepEqual(head.headers, [["x-a", "1"]], "HEAD without a length gets none");
  } finally {
    client.close();
  }
});

Deno.test("http1: chunk sizes of several digits, with whitespace before an extension; bad sizes refused", async () => {
  const body = "y".repeat(0x1a);
  const answers: Record<string, string> = {
    "/big":
      `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1a \t;x=1\r\n${body}\r\n0\r\n\r\n`,
    "/bad": "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nh\r\n0\r\n\r\n",
    "/lf": "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1\nh\r\n0\r\n\r\n",
  };
  await using server = await CraftedReplica.start("a", ({ target }) => ({ send: answers[target] }));
  const client = new Http1Client();
  try {
    assert.equal(await text((await client.request(get(server.url, "/big"))).body), body);
    const bad = await client.request(get(server.url, "/bad"));
    await assert.rejects(text(bad.body), ofKind("protocol"));
    const lf = await client.request(get(server.url, "/lf"));
    await assert.rejects(text(lf.body), ofKind("protocol"), "a bare LF ends no line");
  } finally {
    client.close();
  }
});

Deno.test("http1: after a body fails or is cancelled, its connection is closed, not left open", async () => {
  for (
    const action of [
      // a chunk not followed by CRLF (the replica keeps the connection open)
      { send: "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nokxx\r\n0\r\n\r\n" },
      // a long body the reader cancels
      { send: `HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\n\r\n${"x".repeat(100_000)}` },
    ]
  ) {
    await using replica = await CraftedReplica.start("a", () => action);
    const client = new Http1Client();
    try {
      const res = await client.request(get(replica.url));
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      // Read once, let the stream fill its queue again (no read of the replica's is pending
      // then), and cancel: only the cancel can close the connection now.
      await reader.read().catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, 20));
      await reader.cancel().catch(() => {});
      await waitFor(() => replica.closed === 1, "the replica's connection is closed");
    } finally {
      client.close();
    }
  }
});

Deno.test("http1: a reset in the middle of a small body is a reset", async () => {
  await using replica = await CraftedReplica.start("a", () => ({
    send: "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n01234",
    reset: true,
  }));
  const client = new Http1Client();
  try {
    await assert.rejects(
      client.request(get(replica.url)).then((res) => text(res.body)),
      ofKind("reset"),
    );
  } finally {
    client.close();
  }
});

Deno.test("http1: a chunk size line across the end of a full read buffer is read whole (the buffer is compacted)", async () => {
  // The first read fills the 16 KiB buffer; the second chunk's size line starts 2 bytes before
  // its end, so the rest of the line is read into the buffer moved down.
  const head = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
  const first = "x".repeat(16_382 - head.length - 6 - 2); // "hhhh\r\n" + data + "\r\n"
  const rest = Array.from({ length: 200 }, (_, i) => `${String(i).padStart(16, "0")}\n`);
  const wire = [first, ...rest].map((c) => `${c.length.toString(16)}\r\n${c}\r\n`).join("");
  assert.equal(first.length.toString(16).length, 4);
  await using replica = await CraftedReplica.start("a", () => ({
    send: `${head}${wire}0\r\n\r\n`,
  }));
  const client = new Http1Client();
  try {
    const res = await client.request(get(replica.url));
    assert.equal(await text(res.body), first + rest.join(""));
  } finally {
    client.close();
  }
});

Deno.test("http1: a small body cut short by a close is 'closed'", async () => {
  await using replica = await CraftedReplica.start("a", () => ({
    send: "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n01234",
    close: true,
  }));
  const client = new Http1Client();
  try {
    await assert.rejects(
      client.request(get(replica.url)).then((res) => text(res.body)),
      ofKind("closed"),
    );
  } finally {
    client.close();
  }
});

Deno.test("http1: a body streamed in many small reads is read whole (the read buffer does not grow per read)", async () => {
  // 30 reads of 100 bytes, delimited by the close: a buffer that doubled on every read would
  // need 16 KiB · 2^30 by the end.
  const parts = ["HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n"];
  for (let i = 0; i < 30; i++) parts.push(String(i % 10).repeat(100));
  await using replica = await CraftedReplica.start("a", () => ({ send: parts, close: true }));
  const client = new Http1Client();
  try {
    const res = await client.request(get(replica.url));
    assert.equal(await text(res.body), parts.slice(1).join(""));
  } finally {
    client.close();
  }
});

Deno.test("http1: on a reused connection, a head or chunk line split at its last LF is not ended early by stale bytes", async () => {
  // The first answer leaves "\r\n" just past where the second one's first read ends: a scan
  // one byte too far would find the second head's end (or a chunk line's) a byte early.
  const first = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
  const answers: Record<string, { send: string[]; close?: boolean }> = {
    "/head": { send: ["HTTP/1.1 200 OK\r\nconnection: close\r\n\r", "\nbody"], close: true },
    "/chunk": {
      send: [
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
        "3\r\nabc\r\n",
        "3\r",
        "\nxyz\r\n0\r\n\r\n",
      ],
    },
  };
  for (const [path, answer] of Object.entries(answers)) {
    await using replica = await CraftedReplica.start(
      "a",
      ({ target }) => target === "/first" ? { send: first } : answer,
    );
    const client = new Http1Client();
    try {
      await client.request(get(replica.url, "/first"));
      const res = await client.request(get(replica.url, path));
      assert.equal(replica.connections, 1, `${path}: reused`);
      assert.equal(await text(res.body), path === "/head" ? "body" : "abcxyz", path);
    } finally {
      client.close();
    }
  }
});

Deno.test("http1: the head after an interim 100 is found and measured from where it starts", async () => {
  const parts = [
    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n",
    "content-length: 2\r\n\r\nok",
  ];
  await using replica = await CraftedReplica.start("a", () => ({ send: parts }));
  // 40 bytes hold the 200's head (38) but not the 100 and the 200's start together (42).
  for (const client of [new Http1Client(), new Http1Client({ maxHeadBytes: 40 })]) {
    try {
      const res = await client.request(get(replica.url));
      assert.equal(res.status, 200);
      assert.equal(await text(res.body), "ok");
    } finally {
      client.close();
    }
  }
});

Deno.test("http1: a reused connection closed after part of a head fails 'closed' and is not resent", async () => {
  // Something arrived, so the connection was not merely stale: the request may have been
  // acted on, and the caller (the proxy) decides whether to try another replica.
  await using replica = await CraftedReplica.start(
    "a",
    ({ target }) =>
      target === "/first" ? { send: okAnswer() } : { send: "HTTP/1.1 200 OK\r\n", close: true },
  );
  const client = new Http1Client();
  try {
    await client.request(get(replica.url, "/first"));
    await assert.rejects(client.request(get(replica.url, "/second")), ofKind("closed"));
    assert.equal(replica.connections, 1, "not sent again on a new connection");
  } finally {
    client.close();
  }
});

Deno.test("http1: cancelling a stream whose body was all read keeps its pooled connection", async () => {
  await using replica = await CraftedReplica.start("a", () => ({
    send: ["HTTP/1.1 200 OK\r\ncontent-length: 16\r\n\r\naaaa", "bbbb", "cccc", "dddd"],
  }));
  const client = new Http1Client();
  try {
    const res = await client.request(get(replica.url));
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    // The client waits for a second read before streaming ("aaaabbbb"), then "cccc"; the
    // last part is read into the stream's queue, and the connection pooled, before the
    // reader takes it; the reader then gives up on it.
    assert.equal(new TextDecoder().decode((await reader.read()).value), "aaaabbbb");
    assert.equal(new TextDecoder().decode((await reader.read()).value), "cccc");
    await waitFor(() => client.idle(replica.url) === 1, "pooled once the body is in");
    await reader.cancel();
    await client.request(get(replica.url));
    assert.equal(replica.connections, 1, "the pooled connection was reused");
  } finally {
    client.close();
  }
});

Deno.test("http1: a connection whose chunked body was malformed is not pooled", async () => {
  await using replica = await CraftedReplica.start("a", () => ({
    send: ["HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n", "zz\r\n"],
  }));
  const client = new Http1Client();
  try {
    const res = await client.request(get(replica.url));
    await assert.rejects(text(res.body), ofKind("protocol"));
    assert.equal(client.idle(replica.url), 0);
    await client.request(get(replica.url)).then((r) => text(r.body)).catch(() => {});
    assert.equal(replica.connections, 2, "the next request opened a new connection");
  } finally {
    client.close();
  }
});

Deno.test("http1: a pooled connection that closes behind another leaves the pool", async () => {
  // The slow answer is pooled second (behind the other) and its replica then closes it.
  await using replica = await CraftedReplica.start(
    "a",
    ({ target }) =>
      target === "/slow" ? { send: ["", okAnswer()], close: true } : { send: okAnswer() },
  );
  const client = new Http1Client();
  try {
    await Promise.all([
      client.request(get(replica.url, "/slow")),
      client.request(get(replica.url)),
    ]);
    await waitFor(() => client.idle(replica.url) === 1, "the closed one left the pool");
  } finally {
    client.close();
  }
});

Deno.test({
  name: "http1: a connect failure other than a refusal is 'connect', never 'refused'",
  // No permission to reach 127.0.0.2: the connect fails before anything is sent.
  permissions: { net: ["127.0.0.1"] },
  fn: async () => {
    const client = new Http1Client();
    try {
      await assert.rejects(client.request(get("http://127.0.0.2:9")), ofKind("connect"));
    } finally {
      client.close();
    }
  },
});

Deno.test("http1: a head not ended by CRLF CRLF is never taken for one (the replica closes first: 'closed')", async () => {
  const answers = [
    "HTTP/1.1 200 OK\r\nx: ab\n\r\nhi", // LF CRLF
    "HTTP/1.1 200 OK\r\n\n\r\nhi", // CRLF LF CRLF
    "HTTP/1.1 200 OK\r\n\r\rhi", // CRLF CR CR
    "HTTP/1.1 200 OK\r\nx: y\r\n\n\nhi", // CRLF LF LF
    "HTTP/1.1 200 OK\r\nx: a\rb\r\nhi", // CR b CRLF
  ];
  for (const answer of answers) {
    await using replica = await CraftedReplica.start("a", () => ({ send: answer, close: true }));
    const client = new Http1Client();
    try {
      await assert.rejects(
        client.request(get(replica.url)).then((res) => text(res.body)),
        ofKind("closed"), // no head before the replica closed
        JSON.stringify(answer),
      );
    } finally {
      client.close();
    }
  }
});

Deno.test("http1: aborting a finished request's signal leaves its pooled connection alone", async () => {
  const long = "x".repeat(100_000); // streamed: larger than what comes back as bytes
  await using replica = await CraftedReplica.start("a", ({ target }) => ({
    send: `HTTP/1.1 200 OK\r\ncontent-length: ${target === "/long" ? long.length : 2}\r\n\r\n${
      target === "/long" ? long : "ok"
    }`,
  }));
  const client = new Http1Client();
  try {
    for (const path of ["/short", "/long"]) {
      const controller = new Abort();
      const res = await client.request(get(replica.url, path, { signal: controller }));
      await text(res.body);
      assert.equal(client.idle(replica.url), 1, `${path}: pooled`);
      controller.abort();
      await client.request(get(replica.url)).then((r) => text(r.body));
      assert.equal(replica.connections, 1, `${path}: the pooled connection was reused`);
    }
  } finally {
    client.close();
  }
});

Deno.test("http1: a chunk line ended by anything but CRLF is refused", async () => {
  const head = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
  for (
    const body of ["3\nabc\r\n0\r\n\r\n", "3\rxabc\r\n0\r\n\r\n", "3\r\nabc\r\n0\r\nx: y\n\r\n"]
  ) {
    await using replica = await CraftedReplica.start(
      "a",
      () => ({ send: head + body, close: true }),
    );
    const client = new Http1Client();
    try {
      await assert.rejects(
        client.request(get(replica.url)).then((res) => text(res.body)),
        (error) => error instanceof UpstreamError && error.kind !== "refused",
        JSON.stringify(body),
      );
    } finally {
      client.close();
    }
  }
});
