/**
 * How the proxy talks to a replica: one request out, one response back, with the headers as
 * lists (no `Headers` objects on the hot path) and a body that is either complete bytes or a
 * stream. Two implementations: the lean HTTP/1.1 client (`http1_client.ts`, the default for
 * `http://` replicas) and any `fetch` (tests, `https://`).
 *
 * @module
 */

import { type Abort, rootMessage } from "../support/mod.ts";

/** A request to a replica. */
export interface UpstreamRequest {
  /** The replica's base URL, e.g. `http://127.0.0.1:18081`. */
  origin: string;
  /** Path and query, e.g. `/home?id=1`. */
  target: string;
  /** HTTP method. */
  method: string;
  /**
   * Header fields to send, hop-by-hop ones already removed; no `host`, `content-length` or
   * `transfer-encoding` (the client frames the body itself).
   */
  headers: [string, string][];
  /** The body: complete bytes, a stream (sent once), or none. */
  body: Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array> | null;
  /**
   * Aborts the request, and the response body while it is read. The transport holds its one
   * hook while the exchange lasts.
   */
  signal: Abort;
  /**
   * The protocol the client asks to switch to (its `Upgrade` field, e.g. `websocket`): sent
   * with `Connection: upgrade`, and a `101` answer comes back with its connection as a
   * {@linkcode Tunnel}. Only the HTTP/1.1 client does this.
   */
  upgrade?: string;
}

/** A replica's connection handed over after its `101 Switching Protocols`: bytes both ways. */
export interface Tunnel {
  /** The connection; whoever holds the tunnel closes it. */
  readonly conn: Deno.Conn;
  /** Bytes the replica sent after its 101 head, already read. */
  readonly head: Uint8Array;
}

/** A replica's response. */
export interface UpstreamResponse {
  /** Status code. */
  status: number;
  /** Reason phrase. */
  statusText: string;
  /** Header fields, hop-by-hop ones removed; names in lower case. */
  headers: [string, string][];
  /** The body: complete bytes (already read), a stream, or none. */
  body: Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array> | null;
  /** After a `101` to a request with `upgrade`: the connection, now the client's tunnel. */
  tunnel?: Tunnel;
}

/**
 * How an exchange with a replica failed. Only `refused` proves the request was not
 * delivered; the proxy decides retries on this, never on message text.
 */
export type UpstreamFailure = "refused" | "connect" | "reset" | "closed" | "protocol";

/** An exchange with a replica failed; `kind` says how. */
export class UpstreamError extends TypeError {
  /** How it failed. */
  readonly kind: UpstreamFailure;
  /** @param kind How it failed. @param message What failed. @param cause The underlying error. */
  constructor(kind: UpstreamFailure, message: string, cause?: unknown) {
    super(message, { cause });
    this.name = "UpstreamError";
    this.kind = kind;
  }
}

/**
 * Sends one request to a replica. A failure to reach it or to read its answer rejects with an
 * {@linkcode UpstreamError}; an abort rejects with the signal's reason.
 */
export type Upstream = (request: UpstreamRequest) => Promise<UpstreamResponse>;

/**
 * Header fields that describe one connection, not the message (RFC 9110 §7.6.1), plus
 * `proxy-connection`; never forwarded in either direction.
 */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/**
 * Methods whose requests can be repeated without changing the outcome (RFC 9110 §9.2.2): only
 * these are sent again after a failure that may have delivered the request.
 */
export const IDEMPOTENT: ReadonlySet<string> = new Set([
  "GET",
  "HEAD",
  "OPTIONS",
  "PUT",
  "DELETE",
  "TRACE",
]);

/** An HTTP token (RFC 9110 §5.6.2) in lower case: a header field name. */
export const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

/**
 * The field names a `Connection` value lists (lower case): hop-by-hop for this connection. A
 * token that is no header name (`Connection: a b`) names nothing.
 */
export function connectionTokens(value: string): string[] {
  return value.split(",").map((t) => t.trim().toLowerCase()).filter((t) => TOKEN.test(t));
}

/**
 * The header fields of `entries` minus hop-by-hop ones and any the `Connection` field names,
 * and minus `also` (lower-case names). One pass, plus one over `Connection`'s tokens.
 */
export function endToEnd(
  entries: Iterable<[string, string]>,
  also: ReadonlySet<string> = new Set(),
): [string, string][] {
  const kept: [string, string][] = [];
  let named: string[] | undefined;
  for (const [name, value] of entries) {
    const lower = name.toLowerCase();
    if (lower === "connection") {
      named = connectionTokens(value);
      continue;
    }
    if (HOP_BY_HOP.has(lower) || also.has(lower)) continue;
    kept.push([lower, value]);
  }
  return named?.length ? kept.filter(([name]) => !named!.includes(name)) : kept;
}

const REQUEST_DROPS = new Set(["host", "content-length"]);

/** An {@linkcode Upstream} over a `fetch` (it decodes compressed bodies; see below). */
export function fetchUpstream(fetchFn: typeof fetch): Upstream {
  return async (request) => {
    let res: Response;
    try {
      res = await fetchFn(request.origin + request.target, {
        method: request.method,
        headers: request.headers,
        body: request.body,
        redirect: "manual",
        signal: request.signal.toSignal(),
      });
    } catch (error) {
      if (request.signal.aborted) throw error;
      throw fetchFailure(error);
    }
    let headers = endToEnd(res.headers);
    if (headers.some(([name]) => name === "content-encoding")) {
      // fetch decoded the body; the encoding and length no longer describe it.
      headers = headers.filter(([name]) =>
        name !== "content-encoding" && name !== "content-length"
      );
    }
    return { status: res.status, statusText: res.statusText, headers, body: res.body };
  };
}

/**
 * A `fetch` failure as an {@linkcode UpstreamError}. `fetch` says how it failed only in words
 * (its errors have no codes), so this is the one place they are read; the lean client's
 * failures are typed where they happen.
 */
function fetchFailure(error: unknown): UpstreamError {
  const message = rootMessage(error);
  const kind: UpstreamFailure = /refused/i.test(message)
    ? "refused"
    : /reset/i.test(message)
    ? "reset"
    : /closed|incomplete message/i.test(message)
    ? "closed"
    : "protocol";
  return new UpstreamError(kind, message, error);
}

/** The request fields a replica gets: the client's, end-to-end only, without `host`. */
export function requestHeaders(headers: Iterable<[string, string]>): [string, string][] {
  return endToEnd(headers, REQUEST_DROPS);
}
