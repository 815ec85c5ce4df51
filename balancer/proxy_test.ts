import assert from "node:assert/strict";
import { Http1Client } from "./http1_client.ts";
import { silentLogger } from "./logger.ts";
import { bufferUpTo, createProxy, type ProxyOptions } from "./proxy.ts";
import { endToEnd } from "./upstream.ts";

function streamOf(...chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return ReadableStream.from(chunks.map((c) => encoder.encode(c)));
}

Deno.test("bufferUpTo: a body within the limit is read whole", async () => {
  const body = await bufferUpTo(streamOf("ab", "cd"), 4);
  assert.ok(body instanceof Uint8Array);
  assert.equal(new TextDecoder().decode(body), "abcd");
});

Deno.test("bufferUpTo: a longer body comes back as a stream with every byte, in order", async () => {
  const body = await bufferUpTo(streamOf("ab", "cd", "ef", "gh"), 3);
  assert.ok(body instanceof ReadableStream);
  assert.equal(await new Response(body).text(), "abcdefgh");
});

Deno.test("endToEnd drops hop-by-hop fields and those Connection names", () => {
  const kept = endToEnd(
    new Headers({
      connection: "close, x-a, not a token",
      "x-a": "1",
      "keep-alive": "5",
      "transfer-encoding": "chunked",
      upgrade: "websocket",
      "x-b": "2",
    }),
  );
  assert.deepEqual(kept, [["x-b", "2"]]);
});

/** A proxy with one replica; `upstream` and the route's name/URL as given. */
function proxyTo(url: string, extra: Partial<ProxyOptions> = {}, outcomes: boolean[] = []) {
  const client = new Http1Client();
  const proxy = createProxy({
    route: () => [{
      name: "u",
      url,
      ejected: new AbortController().signal,
      enter: () => () => {},
      outcome: (ok) => outcomes.push(ok),
    }],
    keyOf: () => 1,
    responseTimeoutMs: 5_000,
    retryBodyBytes: 1024,
    logger: silentLogger,
    maxInFlight: 10,
    requestDeadlineMs: 10_000,
    bodyTimeoutMs: 100,
    upstream: client.upstream,
    ...extra,
  });
  return { proxy, close: () => client.close() };
}

Deno.test("headers: X-Forwarded-* and Via set, hop-by-hop dropped, encodings passed as they are", async () => {
  const gzipped = new Uint8Array(
    await new Response(
      ReadableStream.from([new TextEncoder().encode("zipped")]).pipeThrough(
        new CompressionStream("gzip"),
      ),
    ).arrayBuffer(),
  );
  const replica = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) =>
      new Response(gzipped, {
        headers: {
          "x-seen": JSON.stringify(Object.fromEntries(req.headers)),
          "content-encoding": "gzip",
          "keep-alive": "timeout=5",
          via: "1.1 replica",
        },
      }),
  );
  const { proxy, close } = proxyTo(`http://127.0.0.1:${replica.addr.port}`);
  try {
    const res = await proxy(
      new Request("http://lb.example:5000/home?id=7", {
        headers: {
          "x-forwarded-for": "10.0.0.1",
          connection: "keep-alive, x-secret",
          "x-secret": "hop",
          te: "trailers",
          "x-keep": "yes",
        },
      }),
      "127.0.0.9",
    );
    const seen = JSON.parse(res.headers.get("x-seen")!);
    assert.equal(seen["x-forwarded-for"], "10.0.0.1, 127.0.0.9");
    assert.equal(seen["x-forwarded-proto"], "http");
    assert.equal(seen["x-forwarded-host"], "lb.example:5000");
    assert.equal(seen["via"], "1.1 ringlb");
    assert.equal(seen["x-keep"], "yes");
    for (const gone of ["x-secret", "te", "connection"]) assert.equal(seen[gone], undefined, gone);
    assert.equal(res.headers.get("via"), "1.1 replica, 1.1 ringlb");
    assert.equal(res.headers.get("keep-alive"), null);
    assert.equal(res.headers.get("content-encoding"), "gzip");
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), gzipped, "not decoded");
  } finally {
    close();
    await replica.shutdown();
  }
});

Deno.test("a client stalling mid-upload (streamed body) gets a 408, and the replica is not blamed", async () => {
  const upstream = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    return new Response(`got ${(await req.arrayBuffer()).byteLength}`);
  });
  const outcomes: boolean[] = [];
  const { proxy, close } = proxyTo(`http://127.0.0.1:${upstream.addr.port}`, {}, outcomes);
  const stalled = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new Uint8Array(4096)); // more than retryBodyBytes: streamed
    },
  });
  try {
    const res = await proxy(
      new Request("http://lb/up", { method: "POST", body: stalled, duplex: "half" } as RequestInit),
    );
    assert.equal(res.status, 408);
    assert.equal(
      (await res.json()).message,
      "<Error> Request body: the client sent nothing for 100 ms",
    );
    assert.deepEqual(outcomes, [], "no failure reported against the replica");
  } finally {
    close();
    await upstream.shutdown();
  }
});

Deno.test("X-Forwarded-Host and -Proto from the client are replaced, not trusted", async () => {
  const replica = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) =>
      Response.json({
        host: req.headers.get("x-forwarded-host"),
        proto: req.headers.get("x-forwarded-proto"),
      }),
  );
  const { proxy, close } = proxyTo(`http://127.0.0.1:${replica.addr.port}`);
  try {
    const res = await proxy(
      new Request("http://lb.example/home", {
        headers: { "x-forwarded-host": "evil.example", "x-forwarded-proto": "https" },
      }),
    );
    assert.deepEqual(await res.json(), { host: "lb.example", proto: "http" });
  } finally {
    close();
    await replica.shutdown();
  }
});

Deno.test("a 205 passes; a malformed answer is a 502 that frees its slot", async () => {
  // A raw replica: 205 with a length (bodiless: fine), then a header no Response can carry.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const answers = [
    "HTTP/1.1 205 Reset Content\r\ncontent-length: 0\r\n\r\n",
    "HTTP/1.1 200 OK\r\nx-bad: a\u0001b\r\ncontent-length: 2\r\n\r\nok",
  ];
  let served = 0;
  (async () => {
    for await (const conn of listener) {
      const buf = new Uint8Array(4096);
      await conn.read(buf).catch(() => null);
      await conn.write(new TextEncoder().encode(answers[Math.min(served++, 1)])).catch(() => {});
      conn.close();
    }
  })().catch(() => {});
  const outcomes: boolean[] = [];
  const port = (listener.addr as Deno.NetAddr).port;
  const { proxy, close } = proxyTo(`http://127.0.0.1:${port}`, { maxInFlight: 1 }, outcomes);
  try {
    const reset = await proxy(new Request("http://lb/home"));
    assert.equal(reset.status, 205);
    assert.equal(await reset.text(), "");
    const bad = await proxy(new Request("http://lb/home"));
    assert.equal(bad.status, 502);
    assert.match((await bad.json()).message, /u: malformed header line: x-bad/);
    assert.equal(served, 2);
    assert.deepEqual(outcomes, [true, false], "the malformed answer counts against the replica");
    // maxInFlight is 1: a leaked slot would turn this into a 503.
    const after = await proxy(new Request("http://lb/home"));
    assert.notEqual(after.status, 503);
    await after.body?.cancel();
  } finally {
    close();
    listener.close();
  }
});
