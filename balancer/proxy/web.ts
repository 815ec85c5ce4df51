/**
 * The proxy behind `Deno.serve` (and Hono's `app.request()`): a web `Request` as a
 * {@linkcode ProxyRequest}, and a {@linkcode ProxyAnswer} as a `Response`. The raw-socket
 * front needs neither: it reads and writes the fields itself.
 *
 * @module
 */

import { failureResponse } from "../../contract/mod.ts";
import { Abort, errorMessage } from "../support/mod.ts";
import type { ProxyAnswer, ProxyRequest } from "./proxy.ts";

/** `request` as the proxy takes it; `client` is the peer's address, if known. */
export function proxyRequestOf(request: Request, client?: string): ProxyRequest {
  // Path and query from the URL string: no URL object on the hot path.
  const url = request.url;
  const authority = url.indexOf("//") + 2;
  const path = url.indexOf("/", authority);
  return {
    method: request.method,
    target: url.slice(path),
    headers: [...request.headers],
    host: request.headers.get("host") ?? url.slice(authority, path),
    secure: url.startsWith("https:"),
    client,
    body: request.body, // (Deno gives no GET or HEAD a body, Content-Length or not)
    signal: Abort.following(request.signal),
  };
}

/**
 * `answer` as a `Response`. An answer no `Response` can carry (a replica's header value
 * `Headers` refuses, when the transport did not check it) is a 502, its body let go.
 */
export function responseOf(answer: ProxyAnswer): Response {
  const { status, statusText, headers, body } = answer;
  try {
    return new Response(body, { status, statusText, headers });
  } catch (error) {
    if (body instanceof ReadableStream) body.cancel().catch(() => {});
    return failureResponse(
      502,
      `Replica '${answer.replica}' sent an answer that cannot be passed on: ${errorMessage(error)}`,
    );
  }
}
