import assert from "node:assert/strict";
import { bufferUpTo, stripHopByHop } from "./proxy.ts";

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
