/**
 * The raw-socket front over real loopback connections, with a proxy that records what it is
 * given: pipelining, refusals, the header, keep-alive and body timeouts, the connection cap,
 * `Expect: 100-continue`, request and answer framing, and shutdown. (Every proxy and admin
 * behaviour also runs through this front in app_test.ts.)
 */

import assert from "node:assert/strict";
import { SocketFront, type SocketFrontOptions } from "./socket_front.ts";
import type { ProxyAnswer, ProxyRequest } from "../proxy/mod.ts";
import { type Abort, silentLogger } from "../support/mod.ts";
import { recordingLogger, waitFor } from "../testing/mod.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What the stub proxy saw: each request, with its body read whole. */
interface Seen {
  secure: boolean;
  method: string;
  target: string;
  headers: [string, string][];
  host: string | undefined;
  body: string;
}

/**
 * A front on a loopback port over a recording proxy; `answer` decides each answer. The proxy
 * reads each body whole first, unless `readBodies` is false (then bodies are left unread).
 */
function frontWith(
  options: Partial<SocketFrontOptions> = {},
  answer: (request: ProxyRequest) => ProxyAnswer | Promise<ProxyAnswer> = () => ok("hello"),
  listener: Deno.Listener = Deno.listen({ hostname: "127.0.0.1", port: 0 }),
  readBodies = true,
) {
  const seen: Seen[] = [];
  const front = new SocketFront(listener, {
    async proxy(request) {
      let body = "";
      if (request.body instanceof Uint8Array) body = decoder.decode(request.body);
      else if (request.body && readBodies) body = await new Response(request.body).text();
      const { secure, method, target, headers, host } = request;
      seen.push({ secure, method, target, headers, host, body });
      return await answer(request);
    },
    admin: (request) => Promise.resolve(Response.json({ admin: new URL(request.url).pathname })),
    isAdmin: (path) => path === "/rep",
    headerTimeoutMs: 10_000,
    keepAliveTimeoutMs: 10_000,
    bodyTimeoutMs: 10_000,
    maxConnections: 100,
    secure: false,
    logger: silentLogger,
    ...options,
  });
  const serving = front.serve();
  return {
    front,
    seen,
    port: (listener.addr as Deno.NetAddr).port,
    async [Symbol.asyncDispose]() {
      await front.shutdown();
      await serving;
    },
  };
}

function ok(text: string): ProxyAnswer {
  return { status: 200, statusText: "OK", headers: [["x-r", "1"]], body: encoder.encode(text) };
}

/** A raw client connection: bytes out, bytes in, as they come. */
class RawClient {
  #conn: Deno.Conn;
  #received = "";
  #closed = false;
  #reading: Promise<void>;

  private constructor(conn: Deno.Conn) {
    this.#conn = conn;
    this.#reading = this.#read();
  }

  static async open(port: number): Promise<RawClient> {
    return new RawClient(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  async #read(): Promise<void> {
    const buffer = new Uint8Array(16384);
    try {
      for (;;) {
        const n = await this.#conn.read(buffer);
        if (n === null) break;
        this.#received += decoder.decode(buffer.subarray(0, n));
      }
    } catch {
      // reset: counts as closed
    }
    this.#closed = true;
  }

  async send(text: string): Promise<void> {
    await this.#conn.write(encoder.encode(text));
  }

  get received(): string {
    return this.#received;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Waits until `text` has been received `times` times in all. */
  async waitFor(text: string, times = 1, timeoutMs = 5_000): Promise<void> {
    await waitFor(
      () => this.#received.split(text).length - 1 >= times,
      `${times} × ${JSON.stringify(text)} (got ${JSON.stringify(this.#received)})`,
      timeoutMs,
    );
  }

  /** Waits until the front has closed the connection. */
  async waitClosed(timeoutMs = 5_000): Promise<void> {
    await waitFor(() => this.#closed, "the front closes the connection", timeoutMs);
  }

  async close(): Promise<void> {
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
    await this.#reading;
  }
}

Deno.test("socket front: pipelined requests on one connection are answered in order, admin paths through the app", async () => {
  await using t = await frontWith({}, (r) => ok(`answer to ${r.target}`));
  const client = await RawClient.open(t.port);
  await client.send(
    "GET /a?id=1 HTTP/1.1\r\nHost: lb\r\n\r\n" +
      // (An admin GET with an empty framed body: a Request for GET cannot have one.)
      "GET /rep HTTP/1.1\r\nHost: lb\r\nContent-Length: 0\r\n\r\n" +
      "POST /b HTTP/1.1\r\nHost: lb\r\nContent-Length: 5\r\n\r\nhello" +
      "GET /c HTTP/1.1\r\nHost: lb\r\nConnection: close\r\n\r\n",
  );
  await client.waitClosed();
  const bodies = client.received.split("\r\n\r\n").slice(1).map((part) =>
    part.split("HTTP/1.1")[0]
  );
  assert.deepEqual(bodies, [
    "answer to /a?id=1",
    '{"admin":"/rep"}',
    "answer to /b",
    "answer to /c",
  ]);
  assert.deepEqual(t.seen.map((s) => [s.method, s.target, s.body]), [
    ["GET", "/a?id=1", ""],
    ["POST", "/b", "hello"],
    ["GET", "/c", ""],
  ]);
  assert.match(client.received, /connection: close\r\n\r\nanswer to \/c$/);
  await client.close();
});

Deno.test("socket front: a refused head is the spec's JSON error, the connection closed, nothing proxied", async () => {
  await using t = await frontWith();
  for (
    const [head, status] of [
      [
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        400,
      ],
      ["GET / HTTP/1.1\r\n\r\n", 400],
      ["GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400],
      ["GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505],
      [`GET /${"x".repeat(9000)} HTTP/1.1\r\nHost: a\r\n\r\n`, 414],
    ] as const
  ) {
    const client = await RawClient.open(t.port);
    await client.send(head);
    await client.waitClosed();
    const [statusLine] = client.received.split("\r\n");
    assert.match(statusLine, new RegExp(`^HTTP/1.1 ${status} `), head.slice(0, 60));
    const body = JSON.parse(client.received.split("\r\n\r\n")[1]);
    assert.equal(body.status, "failure");
    assert.match(body.message, /^<Error> /);
    assert.match(client.received, /\r\nconnection: close\r\n/);
    await client.close();
  }
  assert.deepEqual(t.seen, []);
});

Deno.test("socket front: a client that trickles its head is answered 408 and closed at --header-timeout", async () => {
  await using t = await frontWith({ headerTimeoutMs: 300 });
  const client = await RawClient.open(t.port);
  const started = performance.now();
  await client.send("GET /slow HTTP/1.1\r\nHost: a\r\n");
  await client.waitClosed(3_000);
  const took = performance.now() - started;
  assert.ok(took >= 300 - 5 && took < 2_000, `closed after ${took} ms`);
  assert.match(client.received, /^HTTP\/1.1 408 /);
  assert.match(client.received, /No complete request head within 300 ms/);
  assert.equal(t.front.stats.headerTimeouts, 1);
  assert.deepEqual(t.seen, []);
  await client.close();
});

Deno.test("socket front: an idle kept-alive connection is closed at --keepalive-timeout, without an answer", async () => {
  await using t = await frontWith({ keepAliveTimeoutMs: 300 });
  const client = await RawClient.open(t.port);
  await client.send("GET /a HTTP/1.1\r\nHost: a\r\n\r\n");
  await client.waitFor("hello");
  const answered = client.received;
  await client.waitClosed(3_000);
  assert.equal(client.received, answered, "nothing more was sent");
  assert.equal(t.front.stats.idleClosed, 1);
  await client.close();
});

Deno.test("socket front: past --max-connections a new connection is answered 503 and closed", async () => {
  await using t = await frontWith({ maxConnections: 2 });
  const held = [await RawClient.open(t.port), await RawClient.open(t.port)];
  await waitFor(() => t.front.open === 2, "two connections open");
  const third = await RawClient.open(t.port);
  await third.waitClosed();
  assert.match(third.received, /^HTTP\/1.1 503 /);
  assert.match(third.received, /Too many connections; retry later/);
  assert.equal(t.front.stats.refused, 1);
  // The held ones still work.
  await held[0].send("GET /a HTTP/1.1\r\nHost: a\r\n\r\n");
  await held[0].waitFor("hello");
  for (const client of [...held, third]) await client.close();
});

Deno.test("socket front: Expect: 100-continue gets a go-ahead before the body is sent", async () => {
  await using t = await frontWith();
  const client = await RawClient.open(t.port);
  await client.send(
    "PUT /up HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n",
  );
  await client.waitFor("HTTP/1.1 100 Continue\r\n\r\n");
  await client.send("body");
  await client.waitFor("hello");
  assert.equal(t.seen[0].body, "body");
  await client.close();
});

Deno.test("socket front: a chunked request body reaches the proxy decoded; a malformed one closes the connection", async () => {
  await using t = await frontWith();
  const client = await RawClient.open(t.port);
  await client.send(
    "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n",
  );
  await client.waitFor("hello", 1);
  assert.equal(t.seen[0].body, "hello world");
  await client.close();

  // The recording proxy reads the body first: its failure fails the request there.
  await using bad = await frontWith({}, () => ok("never"));
  const second = await RawClient.open(bad.port);
  await second.send(
    "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n",
  );
  await second.waitClosed();
  assert.deepEqual(bad.seen, [], "the proxy never got a body it could read");
  await second.close();
});

Deno.test("socket front: answers framed for the client: chunked, close-delimited for HTTP/1.0, no body for HEAD", async () => {
  const streamed = (): ProxyAnswer => ({
    status: 200,
    statusText: "OK",
    headers: [],
    body: ReadableStream.from([encoder.encode("ab"), encoder.encode("cd")]),
  });
  await using t = await frontWith({}, streamed);
  const http11 = await RawClient.open(t.port);
  await http11.send("GET /s HTTP/1.1\r\nHost: a\r\n\r\n");
  await http11.waitFor("0\r\n\r\n");
  assert.match(
    http11.received,
    /transfer-encoding: chunked\r\n\r\n2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n$/,
  );
  await http11.close();

  const http10 = await RawClient.open(t.port);
  await http10.send("GET /s HTTP/1.0\r\n\r\n");
  await http10.waitClosed();
  assert.match(http10.received, /connection: close\r\n\r\nabcd$/);
  await http10.close();

  const head = await RawClient.open(t.port);
  await head.send("HEAD /s HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  await head.waitClosed();
  assert.match(head.received, /\r\n\r\n$/, "the head only");
  await head.close();
});

Deno.test("socket front: a client that leaves aborts its request's signal", async () => {
  let signal: Abort | undefined;
  const gaveUp = Promise.withResolvers<void>(); // (so that a failure does not hang the test)
  await using t = await frontWith({}, async (r) => {
    signal = r.signal;
    await Promise.race([new Promise<void>((resolve) => r.signal.onAbort(resolve)), gaveUp.promise]);
    return ok("late");
  });
  const client = await RawClient.open(t.port);
  await client.send("GET /wait HTTP/1.1\r\nHost: a\r\n\r\n");
  await waitFor(() => signal !== undefined, "the request reached the proxy");
  await client.close();
  try {
    // Noticed by the read-ahead a sweep starts (every 100 ms): within two sweeps, bounded here
    // generously.
    await waitFor(() => signal!.aborted, "the request's signal aborted", 2_000);
  } finally {
    gaveUp.resolve();
  }
  assert.equal(t.seen.length, 1);
});

Deno.test("socket front: a quick request starts no read-ahead; one still busy at a sweep does", async () => {
  // A read issued while the client has nothing to send waits in the reactor and costs a
  // wake-up; after a quick answer, the read for the next request mostly finds it there.
  const release = Promise.withResolvers<void>();
  let reads = 0;
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accept = listener.accept.bind(listener);
  listener.accept = async () => {
    const conn = await accept();
    const read = conn.read.bind(conn);
    conn.read = (buffer) => {
      reads++;
      return read(buffer);
    };
    return conn;
  };
  const readsWhenProxied: number[] = [];
  await using t = await frontWith({}, async (r) => {
    readsWhenProxied.push(reads);
    if (r.target === "/slow") await release.promise;
    return ok("done");
  }, listener);
  const client = await RawClient.open(t.port);
  for (let i = 1; i <= 3; i++) {
    await client.send("GET /quick HTTP/1.1\r\nHost: a\r\n\r\n");
    await waitFor(() => client.received.split("done").length === i + 1, `answer ${i}`);
  }
  // While each was answered, only the read that brought it had been made; the next read came
  // after its answer.
  assert.deepEqual(readsWhenProxied, [1, 2, 3]);
  assert.equal(reads, 4);
  await client.send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n");
  try {
    // (The read waiting for the next request brought this one; the sweep starts one more.)
    await waitFor(() => reads === 5, "a sweep started the read-ahead", 2_000);
  } finally {
    release.resolve();
  }
  await waitFor(() => client.received.split("done").length === 5, "the slow answer");
  await client.close();
});

Deno.test("socket front: shutdown closes idle connections and lets a busy one finish its answer", async () => {
  const release = Promise.withResolvers<void>();
  const t = await frontWith({}, async (r) => {
    if (r.target === "/slow") await release.promise;
    return ok("done");
  });
  const idle = await RawClient.open(t.port);
  const busy = await RawClient.open(t.port);
  await busy.send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n");
  await waitFor(() => t.seen.length === 1, "the slow request is in");
  const stopped = t[Symbol.asyncDispose]();
  await idle.waitClosed();
  assert.equal(busy.closed, false, "the busy connection is still open");
  release.resolve();
  await busy.waitClosed();
  assert.match(busy.received, /connection: close\r\n\r\ndone$/);
  await stopped;
  await idle.close();
  await busy.close();
});

Deno.test("socket front: over TLS, requests reach the proxy marked secure (X-Forwarded-Proto: https)", async () => {
  const tls = new URL("../testing/tls/", import.meta.url);
  const read = (name: string) => Deno.readTextFileSync(new URL(name, tls));
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: read("cert.pem"),
    key: read("key.pem"),
  });
  await using t = await frontWith({ secure: true }, () => ok("over tls"), listener);
  using client = Deno.createHttpClient({ caCerts: [read("ca.pem")] });
  const res = await fetch(`https://127.0.0.1:${t.port}/s?id=1`, { client });
  assert.equal(await res.text(), "over tls");
  assert.deepEqual(t.seen.map((s) => [s.secure, s.target]), [[true, "/s?id=1"]]);
});

Deno.test("socket front: an empty answer is framed (205), and HTTP/1.0 keep-alive is announced", async () => {
  await using t = await frontWith(
    {},
    (r) =>
      r.target === "/205"
        ? { status: 205, statusText: "Reset Content", headers: [], body: null }
        : ok("one-oh"),
  );
  const client = await RawClient.open(t.port);
  await client.send("GET /205 HTTP/1.1\r\nHost: a\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n");
  await client.waitFor("one-oh");
  assert.match(
    client.received,
    /^HTTP\/1.1 205 Reset Content\r\n[^]*content-length: 0\r\n\r\nHTTP/,
  );
  await client.close();

  const http10 = await RawClient.open(t.port);
  await http10.send("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  await http10.waitFor("one-oh");
  assert.match(http10.received, /\r\nconnection: keep-alive\r\n/);
  await http10.send("GET /b HTTP/1.0\r\n\r\n");
  await http10.waitClosed();
  assert.equal(http10.received.split("one-oh").length - 1, 2, "kept alive for the second");
  await http10.close();
});

Deno.test("socket front: a body the answer did not wait for closes the connection, said and without a reset", async () => {
  // The proxy answers at once, before the client has sent its (large) body.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  await using t = await frontWith(
    {},
    () => ({
      status: 503,
      statusText: "",
      headers: [],
      body: encoder.encode("busy"),
    }),
    listener,
    false,
  );
  const client = await RawClient.open(t.port);
  await client.send("POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n");
  await client.send("x".repeat(50_000)); // half the body, then more as the answer comes
  await client.waitFor("busy");
  await client.send("y".repeat(50_000)).catch(() => {});
  await client.waitClosed();
  assert.match(client.received, /\r\nconnection: close\r\n\r\nbusy$/);
  await client.close();
});

Deno.test("socket front: 100 Continue is sent only when the body is asked for", async () => {
  // Read: the go-ahead comes, once, before the body.
  await using t = await frontWith({}, () => ok("yes"));
  const put = "PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n";
  const client = await RawClient.open(t.port);
  await client.send(put);
  await client.waitFor("100 Continue");
  await client.send("ab");
  await client.waitFor("yes");
  assert.equal(client.received.split("100 Continue").length - 1, 1);
  await client.close();
  // Refused without reading (admission, no replica): no go-ahead; the refusal, then a close.
  const refusing = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  await using r = await frontWith(
    {},
    () => ({
      status: 503,
      statusText: "",
      headers: [],
      body: encoder.encode("no"),
    }),
    refusing,
    false,
  );
  const refused = await RawClient.open(r.port);
  await refused.send(put);
  await refused.waitClosed();
  assert.doesNotMatch(refused.received, /100 Continue/);
  assert.match(refused.received, /^HTTP\/1.1 503 [^]*connection: close\r\n\r\nno$/);
  await refused.close();
});

Deno.test("socket front: a tunnel closes when its replica is ejected", async () => {
  const replica = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = replica.accept();
  const upstream = await Deno.connect({ hostname: "127.0.0.1", port: replica.addr.port });
  const replicaSide = await accepted;
  const eject = new AbortController();
  let ended = false;
  await using t = await frontWith({}, () => ({
    status: 101,
    statusText: "Switching Protocols",
    headers: [["connection", "upgrade"], ["upgrade", "websocket"]],
    body: null,
    tunnel: {
      conn: upstream,
      head: new Uint8Array(0),
      ejected: eject.signal,
      ended: () => ended = true,
    },
  }));
  const client = await RawClient.open(t.port);
  await client.send(
    "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
  );
  await client.waitFor("101 Switching Protocols");
  eject.abort(new Error("replica 'a' ended"));
  await client.waitClosed();
  assert.equal(ended, true, "the tunnel left flight");
  await client.close();
  replicaSide.close();
  replica.close();
});

Deno.test("socket front: a proxy that throws (a bug) is a 500 in the spec's shape, and the connection goes on", async () => {
  const { logger, records } = recordingLogger();
  await using t = await frontWith({ logger }, (r) => {
    if (r.target === "/bug") throw new Error("a bug");
    return ok("after");
  });
  const client = await RawClient.open(t.port);
  await client.send("GET /bug HTTP/1.1\r\nHost: a\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n");
  await client.waitFor("after");
  assert.match(
    client.received,
    /^HTTP\/1.1 500 [^]*\r\n\r\n\{"message":"<Error> Internal error in the load balancer","status":"failure"\}HTTP\/1.1 200/,
  );
  assert.deepEqual(records.map((r) => r.event), ["request.failed"]);
  await client.close();
});

Deno.test("socket front: a head sent a byte at a time is served; a long line with no end is refused at once", async () => {
  await using t = await frontWith();
  const client = await RawClient.open(t.port);
  for (const byte of "GET /bytes HTTP/1.1\r\nHost: a\r\nX-One: 1\r\n\r\n") await client.send(byte);
  await client.waitFor("hello");
  assert.deepEqual(t.seen.map((s) => s.target), ["/bytes"]);
  await client.close();

  // No blank line yet, but past the request-line limit: refused without waiting for more.
  const long = await RawClient.open(t.port);
  await long.send(`GET /${"x".repeat(20_000)}`);
  await long.waitClosed(2_000);
  assert.match(long.received, /^HTTP\/1.1 414 /);
  await long.close();
});

Deno.test("socket front: an admin app that throws is a 500 in the spec's shape, not a closed connection", async () => {
  await using t = await frontWith({ admin: () => Promise.reject(new Error("bug")) });
  const client = await RawClient.open(t.port);
  await client.send("GET /rep HTTP/1.1\r\nHost: lb\r\n\r\nGET /x HTTP/1.1\r\nHost: lb\r\n\r\n");
  await waitFor(() => client.received.includes("hello"), "the next request answered too");
  assert.match(client.received, /^HTTP\/1\.1 500 /);
  assert.match(client.received, /"message":"<Error> Internal error in the load balancer"/);
  await client.close();
});
