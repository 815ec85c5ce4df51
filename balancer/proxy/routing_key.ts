/**
 * Which routing key a request is hashed by.
 *
 * @module
 */

import type { RoutingKey } from "../../ring/mod.ts";

/** Where the key comes from. */
export interface RoutingKeyOptions {
  /** Query parameter holding the key (the assignment's request id). Default `id`. */
  queryParam: string;
  /** Header holding the key when the query has none. Default `x-request-id`. */
  header: string;
  /** Random source for requests with no key, in [0, 1). Default `Math.random`. */
  random?: () => number;
}

/** The parts of a request the key is read from (Hono's `c.req` has both). */
export interface KeySource {
  /** A query parameter's first value. */
  query(name: string): string | undefined;
  /** A header's value. */
  header(name: string): string | undefined;
}

/**
 * The first value of query parameter `name` in `query` (`?a=1&b=2`, or ""), decoded as a form
 * value (`+` is a space); `undefined` when absent. A malformed escape is kept as it is.
 */
export function queryParam(query: string, name: string): string | undefined {
  let at = query.startsWith("?") ? 1 : 0;
  while (at < query.length) {
    let end = query.indexOf("&", at);
    if (end < 0) end = query.length;
    const eq = query.indexOf("=", at);
    const keyEnd = eq < 0 || eq > end ? end : eq;
    if (decodeForm(query.slice(at, keyEnd)) === name) {
      return keyEnd === end ? "" : decodeForm(query.slice(keyEnd + 1, end));
    }
    at = end + 1;
  }
  return undefined;
}

function decodeForm(text: string): string {
  if (!text.includes("%") && !text.includes("+")) return text;
  const spaced = text.replaceAll("+", " ");
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced;
  }
}

/**
 * The routing key of a request: the `id` query parameter when present and non-empty, else
 * the `X-Request-Id` header, else a random 6-digit id (the assignment's request ids), so
 * key-less traffic spreads like the assignment's. All-digit keys are numbers for the ring.
 */
export function routingKeyOf(request: KeySource, options: RoutingKeyOptions): RoutingKey {
  const key = request.query(options.queryParam) || request.header(options.header);
  if (key) return key;
  const random = options.random ?? Math.random;
  return 100_000 + Math.floor(random() * 900_000);
}
