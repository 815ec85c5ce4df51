/**
 * The upstream interface's pieces on their own: which header fields are hop-by-hop, which
 * methods may be sent twice, what a replica is sent, and the `fetch` transport's failure kinds
 * and decoded bodies.
 */

import assert from "node:assert/strict";
import {
  endToEnd,
  fetchUpstream,
  HOP_BY_HOP,
  IDEMPOTENT,
  requestHeaders,
  UpstreamError,
  type UpstreamRequest,
} from "./upstream.ts";
import { Abort } from "../support/mod.ts";

/** RFC 9110 §7.6.1's hop-by-hop fields, plus `proxy-connection`. */
const HOP_FIELDS = [
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
];

Deno.test("upstream: every hop-by-hop field is dropped, and those Connection names", () => {
  for (const name of HOP_FIELDS) {
    assert.deepEqual(endToEnd([[name, "x"], ["x-kept", "1"]]), [["x-kept", "1"]], name);
  }
  assert.deepEqual(
    endToEnd([["Connection", "X-Named, close"], ["x-named", "1"], ["X-Kept", "2"]]),
    [["x-kept", "2"]],
  );
});

Deno.test("upstream: only the methods RFC 9110 calls idempotent may be sent twice", () => {
  assert.deepEqual([...IDEMPOTENT].sort(), ["DELETE", "GET", "HEAD", "OPTIONS", "PUT", "TRACE"]);
  for (const method of ["POST", "PATCH", "CONNECT"]) assert.ok(!IDEMPOTENT.has(method), method);
});

Deno.test("upstream: a replica gets the client's fields without Host and Content-Length", () => {
  assert.deepEqual(
    requestHeaders([["host", "lb"], ["content-length", "3"], ["x-a", "1"], ["te", "trailers"]]),
    [["x-a", "1"]],
  );
});

/** A request to a replica, for the fetch transport. */
function request(signal = new Abort()): UpstreamRequest {
  return {
    origin: "http://replica",
    target: "/home",
    method: "GET",
    headers: [],
    body: null,
    signal,
  };
}

Deno.test("upstream: fetch's failures become kinds; an abort is passed on as it is", async () => {
  const failing = (message: string) => fetchUpstream(() => Promise.reject(new TypeError(message)));
  for (
    const [message, kind] of [
      ["error trying to connect: Connection refused (os error 111)", "refused"],
      ["connection reset by peer", "reset"],
      ["connection closed before message completed", "closed"],
      ["incomplete message", "closed"],
      ["invalid HTTP header parsed", "protocol"],
    ]
  ) {
    await assert.rejects(
      failing(message)(request()),
      (error: unknown) => error instanceof UpstreamError && error.kind === kind,
      message,
    );
  }
  const abort = new Abort();
  const reason = new DOMException("the try was cut short", "AbortError");
  abort.abort(reason);
  await assert.rejects(
    fetchUpstream(() => Promise.reject(reason))(request(abort)),
    (error: unknown) => error === reason,
  );
});

Deno.test("upstream: a body fetch decoded loses its Content-Encoding and Content-Length", async () => {
  const answer = (headers: Record<string, string>) =>
    fetchUpstream(() => Promise.resolve(new Response("plain", { headers })));
  const decoded = await answer({
    "content-encoding": "gzip",
    "content-length": "25",
    "x-a": "1",
  })(request());
  assert.deepEqual(decoded.headers.map(([name]) => name).sort(), ["content-type", "x-a"]);
  const plain = await answer({ "content-length": "5", "x-a": "1" })(request());
  assert.deepEqual(plain.headers.map(([name]) => name).sort(), [
    "content-length",
    "content-type",
    "x-a",
  ]);
  for (const { body } of [decoded, plain]) if (body instanceof ReadableStream) await body.cancel();
});

Deno.test("upstream: fetch is asked for the replica's URL, with the method, fields, body and signal, redirects not followed", async () => {
  const seen: [string, RequestInit][] = [];
  const transport = fetchUpstream((input, init) => {
    seen.push([String(input), init ?? {}]);
    return Promise.resolve(new Response("ok"));
  });
  const signal = new Abort();
  const body = new TextEncoder().encode("payload");
  await transport({
    origin: "http://replica:5000",
    target: "/home?id=1",
    method: "PUT",
    headers: [["x-a", "1"]],
    body,
    signal,
  });
  const [[url, init]] = seen;
  assert.equal(url, "http://replica:5000/home?id=1");
  assert.deepEqual(
    [init.method, init.headers, init.body, init.redirect, init.signal?.aborted],
    ["PUT", [["x-a", "1"]], body, "manual", false],
  );
  // The signal fetch got follows the try's abort.
  signal.abort(new Error("cut short"));
  assert.equal(init.signal?.aborted, true);
});

Deno.test("upstream: the hop-by-hop set is RFC 9110's, plus proxy-connection", () => {
  assert.deepEqual([...HOP_BY_HOP].sort(), HOP_FIELDS);
});
