/**
 * The request-head parser on a typical 304-byte browser-like head (7 fields), whole.
 *
 *     deno bench balancer/http1/
 */

import { parseRequestHead } from "./request_head.ts";

const HEAD = "GET /api/v1/items?id=123456&sort=asc HTTP/1.1\r\n" +
  "Host: balancer.example.com:5000\r\n" +
  "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
  "Accept: application/json\r\n" +
  "Accept-Encoding: gzip, deflate, br\r\n" +
  "Connection: keep-alive\r\n" +
  "X-Request-Id: 4f9b2c1e-77aa-4d3e-9c11-0a5b6c7d8e9f\r\n" +
  "\r\n";
const bytes = Uint8Array.from(HEAD, (c) => c.charCodeAt(0));
if (parseRequestHead(bytes, 0, bytes.length).kind !== "request") {
  throw new Error("the bench head does not parse");
}

Deno.bench({
  name: `parseRequestHead, ${bytes.length}-byte head`,
  fn: () => {
    parseRequestHead(bytes, 0, bytes.length);
  },
});
