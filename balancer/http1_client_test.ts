import assert from "node:assert/strict";
import { Http1Client, UpstreamError } from "./http1_client.ts";
import type { UpstreamRequest } from "./upstream.ts";

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
  signal: new AbortController().signal,
  ...extra,
});

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

/**
 * A raw TCP server answering each connection with `answer(requestHead)` bytes, for responses
 * Deno.serve would not write. Counts connections.
 */
function rawServer(answer: (head: string, n: number) => string | Uint8Array, closeAfter = false) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  let connections = 0;
  (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      connections++;
      (async () => {
        const buf = new Uint8Array(65536);
        let pending = "";
        let n = 0;
        for (;;) {
          const read = await conn.read(buf).catch(() => null);
          if (read === null) break;
          pending += new TextDecoder().decode(buf.subarray(0, read));
          while (pending.includes("\r\n\r\n")) {
            const head = pending.slice(0, pending.indexOf("\r\n\r\n"));
            const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
            const total = pending.indexOf("\r\n\r\n") + 4 + length;
            if (pending.length < total) break;
            pending = pending.slice(total);
            const out = answer(head, ++n);
            await conn.write(typeof out === "string" ? new TextEncoder().encode(out) : out)
              .catch(() => {});
            if (closeAfter) conn.close();
          }
        }
      })().catch(() => {});
    }
  })().catch(() => {});
  const { port } = listener.addr as Deno.NetAddr;
  return {
    origin: `http://127.0.0.1:${port}`,
    /** Writes `bytes` on the latest connection, unasked. */
    async inject(bytes: string) {
      await conns.at(-1)!.write(new TextEncoder().encode(bytes));
    },
    get connections() {
      return connections;
    },
    close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // closed
        }
      }
    },
  };
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
  const server = rawServer((head) => {
    if (head.includes("/chunked")) {
      return "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" +
        "5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nx-trailer: t\r\n\r\n";
    }
    if (head.includes("/continue")) {
      return "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok";
    }
    return "HTTP/1.0 200 OK\r\n\r\nuntil close";
  }, false);
  const client = new Http1Client();
  try {
    const chunked = await client.request(get(server.origin, "/chunked"));
    assert.equal(await text(chunked.body), "hello world");
    const cont = await client.request(get(server.origin, "/continue"));
    assert.equal(cont.status, 201);
    assert.equal(await text(cont.body), "ok");
    // Close-delimited: the raw server never closes, so the stream is read after a close.
    const closing = rawServer(() => "HTTP/1.0 200 OK\r\n\r\nuntil close", true);
    try {
      const res = await client.request(get(closing.origin, "/"));
      assert.equal(await text(res.body), "until close");
      assert.equal(client.idle(closing.origin), 0, "a close-delimited connection is not reused");
    } finally {
      closing.close();
    }
  } finally {
    client.close();
    server.close();
  }
});

Deno.test("http1: a kept connection the server closed is retried once on a new one", async () => {
  // Answers, then closes: the pooled connection is stale on the next request.
  const server = rawServer((_, n) => `HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n${n}`, true);
  const client = new Http1Client();
  try {
    assert.equal(await text((await client.request(get(server.origin))).body), "1");
    await new Promise((resolve) => setTimeout(resolve, 50)); // the close reaches us
    assert.equal(await text((await client.request(get(server.origin))).body), "1");
    assert.equal(server.connections, 2);
    // A POST is never sent on an old idle connection.
    const old = new Http1Client({ freshMs: 0 });
    assert.equal(await text((await old.request(get(server.origin))).body), "1");
    const post = await old.request(get(server.origin, "/", { method: "POST" }));
    assert.equal(await text(post.body), "1");
    old.close();
  } finally {
    client.close();
    server.close();
  }
});

Deno.test("http1: failures say refused, closed or reset; an abort stops a slow answer", async () => {
  const client = new Http1Client();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await assert.rejects(
    client.request(get(`http://127.0.0.1:${port}`)),
    (e: unknown) => e instanceof UpstreamError && /connection refused/.test(e.message),
  );
  const mute = rawServer(() => "", true); // reads the request, closes without a word
  await assert.rejects(
    client.request(get(mute.origin)),
    (e: unknown) => e instanceof UpstreamError && /closed before the response head/.test(e.message),
  );
  mute.close();
  const garbage = rawServer(() => "SMTP ready\r\n\r\n");
  await assert.rejects(client.request(get(garbage.origin)), /malformed status line/);
  garbage.close();
  const slow = serve(async () => {
    await new Promise((resolve) => setTimeout(resolve, 2000));
    return new Response("late");
  });
  const abort = new AbortController();
  const started = performance.now();
  setTimeout(() => abort.abort(new DOMException("response timeout", "TimeoutError")), 50);
  await assert.rejects(
    client.request(get(slow.origin, "/", { signal: abort.signal })),
    (e: unknown) => e instanceof DOMException && e.name === "TimeoutError",
  );
  assert.ok(performance.now() - started < 1000);
  client.close();
  await slow.close();
});

Deno.test("http1: bytes a replica sends on an idle pooled connection close it", async () => {
  const server = rawServer((_, n) =>
    `HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n${n === 1 ? "ok" : "no"}`
  );
  const client = new Http1Client();
  try {
    assert.equal(await text((await client.request(get(server.origin))).body), "ok");
    assert.equal(client.idle(server.origin), 1);
    // A stray answer nobody asked for arrives while the connection is idle.
    await server.inject("HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nSTOLEN");
    await new Promise((resolve) => setTimeout(resolve, 50));
    const next = await client.request(get(server.origin));
    // The idle connection was closed when the stray bytes came: a new one answers "ok" (its
    // first answer), where the old one would have handed over "STOLEN".
    assert.equal(await text(next.body), "ok");
    assert.equal(server.connections, 2);
  } finally {
    client.close();
    server.close();
  }
});

Deno.test("http1: chunked wins over Content-Length; duplicate Connection fields add up", async () => {
  const server = rawServer((head) =>
    head.includes("/both")
      ? "HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
      : "HTTP/1.1 200 OK\r\nconnection: close\r\nconnection: x-other\r\nx-other: 1\r\ncontent-length: 2\r\n\r\nok"
  );
  const client = new Http1Client();
  try {
    const both = await client.request(get(server.origin, "/both"));
    assert.equal(await text(both.body), "hello");
    assert.ok(!both.headers.some(([name]) => name === "content-length"), "no stale length");
    assert.equal(client.idle(server.origin), 0, "such a connection is not reused");
    const closing = await client.request(get(server.origin, "/close"));
    assert.equal(await text(closing.body), "ok");
    assert.ok(!closing.headers.some(([name]) => name === "x-other"), "named by Connection");
    assert.equal(client.idle(server.origin), 0, "'close' in the first Connection field counts");
  } finally {
    client.close();
    server.close();
  }
});

Deno.test("http1: malformed answers are protocol errors, never passed on", async () => {
  const answers: Record<string, string> = {
    "/status": "HTTP/1.1 099 Odd\r\ncontent-length: 0\r\n\r\n",
    "/name": "HTTP/1.1 200 OK\r\nbad name: 1\r\ncontent-length: 0\r\n\r\n",
    "/te": "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    "/chunk": "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
  };
  const server = rawServer((head) => answers[head.split(" ")[1]]);
  const client = new Http1Client();
  try {
    for (const path of Object.keys(answers)) {
      const failed = client.request(get(server.origin, path)).then(async (res) => {
        await text(res.body);
      });
      await assert.rejects(
        failed,
        (e: unknown) => e instanceof UpstreamError && e.kind === "protocol",
        path,
      );
    }
  } finally {
    client.close();
    server.close();
  }
});

Deno.test("http1: an aborted signal stops the request before it is sent", async () => {
  const server = rawServer(() => "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
  const client = new Http1Client();
  const abort = new AbortController();
  abort.abort(new DOMException("gone", "AbortError"));
  await assert.rejects(client.request(get(server.origin, "/", { signal: abort.signal })), /gone/);
  assert.equal(server.connections, 0);
  client.close();
  server.close();
});
