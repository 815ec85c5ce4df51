import assert from "node:assert/strict";
import { Hono } from "hono";
import { silentLogger } from "./logger.ts";
import { bufferUpTo, createProxy, stripHopByHop } from "./proxy.ts";

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

Deno.test("stripHopByHop removes the standard ones and those Connection names", () => {
  const headers = stripHopByHop(
    new Headers({
      connection: "close, x-a",
      "x-a": "1",
      "keep-alive": "5",
      "transfer-encoding": "chunked",
      upgrade: "websocket",
      "x-b": "2",
    }),
  );
  assert.deepEqual([...headers.keys()], ["x-b"]);
});

Deno.test("a client stalling mid-upload (streamed body) gets a 408, and the replica is not blamed", async () => {
  const upstream = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    return new Response(`got ${(await req.arrayBuffer()).byteLength}`);
  });
  const outcomes: boolean[] = [];
  const proxy = createProxy({
    route: () => [{
      name: "u",
      url: `http://127.0.0.1:${upstream.addr.port}`,
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
  });
  const app = new Hono().all("*", proxy);
  const stalled = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new Uint8Array(4096)); // more than retryBodyBytes: streamed
    },
  });
  try {
    const res = await app.request(
      "/up",
      { method: "POST", body: stalled, duplex: "half" } as RequestInit,
    );
    assert.equal(res.status, 408);
    assert.equal(
      (await res.json()).message,
      "<Error> Request body: the client sent nothing for 100 ms",
    );
    assert.deepEqual(outcomes, [], "no failure reported against the replica");
  } finally {
    await upstream.shutdown();
  }
});
