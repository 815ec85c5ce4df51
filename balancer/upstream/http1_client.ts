/**
 * A lean keep-alive HTTP/1.1 client over `Deno.connect`, for the proxy's hop to `http://`
 * replicas: pooled connections, the request written in one go, the response head parsed in
 * place, and a body that fits in what was read returned as bytes (no stream). Bodies framed
 * by `Content-Length`, `chunked` or the connection's close are all read; anything longer than
 * what arrived with the head is streamed.
 *
 * Why not `fetch`: its pooled client costs about twice the CPU per proxied request (see the
 * benchmark in docs/performance.md) and decodes compressed bodies, which a proxy passes on as is.
 *
 * @module
 */

import { CR, HTAB, latin1, LF, parseFieldLine, SP, WriteBuffer } from "../http1/mod.ts";
import {
  HOP_BY_HOP,
  IDEMPOTENT,
  type Upstream,
  UpstreamError,
  type UpstreamRequest,
  type UpstreamResponse,
} from "./upstream.ts";
import { pooledCopy } from "../support/mod.ts";

/** Options of {@linkcode Http1Client}. */
export interface Http1ClientOptions {
  /** Idle connections kept per origin. Default 256. */
  maxIdlePerOrigin?: number;
  /**
   * An idle connection older than this is not reused for a request that cannot be retried
   * (a non-idempotent one): the server may have closed it meanwhile. Default 2000 ms.
   */
  freshMs?: number;
  /** Largest response head, bytes (then the request fails). Default 64 KiB. */
  maxHeadBytes?: number;
  /** Clock for how long connections were idle, ms. Default `performance.now`. */
  now?: () => number;
}

const INITIAL_BUFFER = 16 * 1024;
/** An empty body (shared: nothing can be written to a zero-length array). */
const EMPTY = new Uint8Array(0);
/** Bodies up to this size that arrive with the head (or the next read) come back as bytes. */
const SMALL_BODY = 64 * 1024;

/** One TCP connection and its read buffer. */
class Connection {
  readonly conn: Deno.TcpConn;
  /** The origin it is connected to (its pool). */
  readonly origin: string;
  /** Called when it closes while idle, to take it out of its pool. */
  readonly #onIdleClose: (conn: Connection) => void;
  buffer = new Uint8Array(INITIAL_BUFFER);
  /** Where requests are framed for writing (one at a time: a connection has one exchange). */
  readonly out = new WriteBuffer();
  /** Unread bytes are `buffer[start, end)`. */
  start = 0;
  end = 0;
  /** Requests sent on it so far. */
  uses = 0;
  /** When it went idle last, `performance.now()`. */
  idleSince = 0;
  closed = false;
  /** In the pool: anything read now (bytes nobody asked for, or the end) closes it. */
  idle = false;
  /** A read started while idle (its count, or its error); the next `fill()` takes it. */
  #pending: Promise<number | null | Error> | undefined;

  constructor(conn: Deno.TcpConn, origin: string, onIdleClose: (conn: Connection) => void) {
    this.conn = conn;
    this.origin = origin;
    this.#onIdleClose = onIdleClose;
  }

  /**
   * Goes idle with a read outstanding (as Go's net/http does): a server that closes the
   * connection, or sends bytes it should not, is noticed before the connection is reused.
   */
  watch(): void {
    this.idle = true;
    this.start = this.end = 0;
    // A failed read resolves with its error (one promise, and no rejection left unhandled
    // while idle: an idle failure is handled by closing).
    this.#pending = this.conn.read(this.buffer).then(
      (n) => {
        if (this.idle) this.#closeIdle();
        return n;
      },
      (error: unknown) => {
        if (this.idle) this.#closeIdle();
        return error instanceof Error ? error : new Error(String(error));
      },
    );
  }

  /** Reads more bytes; resolves false at end of stream. */
  async fill(): Promise<boolean> {
    const pending = this.#pending;
    if (pending) {
      // The read started while idle, into the (then empty) buffer.
      this.#pending = undefined;
      const n = await pending;
      if (n instanceof Error) throw n;
      if (n === null) return false;
      this.end += n;
      return true;
    }
    if (this.start === this.end) this.start = this.end = 0;
    if (this.end === this.buffer.length) {
      if (this.start > 0) {
        this.buffer.copyWithin(0, this.start, this.end);
        this.end -= this.start;
        this.start = 0;
      } else {
        const bigger = new Uint8Array(this.buffer.length * 2);
        bigger.set(this.buffer);
        this.buffer = bigger;
      }
    }
    const n = await this.conn.read(this.buffer.subarray(this.end));
    if (n === null) return false;
    this.end += n;
    return true;
  }

  async writeAll(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) offset += await this.conn.write(bytes.subarray(offset));
  }

  #closeIdle(): void {
    this.close();
    this.#onIdleClose(this);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }
}

/**
 * Where the line starting at `from` ends: the index of its CRLF, or `to` for the last line (the
 * head's end). A bare LF ends no line: it stays in the line, whose parse then refuses it.
 */
function crlfAt(buf: Uint8Array, from: number, to: number): number {
  for (let i = from; i + 1 < to; i++) if (buf[i] === CR && buf[i + 1] === LF) return i;
  return to;
}

/**
 * The status code of a status line (`HTTP/1.x NNN[ reason]`, RFC 9112 §4) that is the first
 * `length` characters of `text`, or -1 when it is malformed: version 1.0 or 1.1, a code
 * 100–599, and a reason of HTAB, SP, VCHAR and obs-text.
 */
function statusCode(text: string, length: number): number {
  if (length < 12 || !text.startsWith("HTTP/1.") || text.charCodeAt(8) !== SP) return -1;
  const minor = text.charCodeAt(7);
  if (minor !== 0x30 && minor !== 0x31) return -1;
  const a = text.charCodeAt(9) - 0x30;
  const b = text.charCodeAt(10) - 0x30;
  const c = text.charCodeAt(11) - 0x30;
  if (a < 1 || a > 5 || !(b >= 0 && b <= 9) || !(c >= 0 && c <= 9)) return -1;
  if (length > 12) {
    if (text.charCodeAt(12) !== SP) return -1;
    for (let i = 13; i < length; i++) {
      const ch = text.charCodeAt(i);
      if (ch !== HTAB && (ch < SP || ch === 0x7f)) return -1;
    }
  }
  return a * 100 + b * 10 + c;
}

/** `text` as a decimal of 1 to 15 digits (a Content-Length), or -1. */
function decimal(text: string): number {
  if (text.length === 0 || text.length > 15) return -1;
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const digit = text.charCodeAt(i) - 0x30;
    if (digit < 0 || digit > 9) return -1;
    n = n * 10 + digit;
  }
  return n;
}

/** How a response body is delimited. */
type Framing =
  | { kind: "none" }
  | { kind: "length"; remaining: number }
  | { kind: "chunked" }
  | { kind: "close" };

interface Head {
  status: number;
  statusText: string;
  headers: [string, string][];
  framing: Framing;
  keepAlive: boolean;
  /** The `Upgrade` field of a 101. */
  upgrade?: string;
}

/** A keep-alive HTTP/1.1 client; one per balancer. */
export class Http1Client {
  readonly #idle = new Map<string, Connection[]>();
  readonly #maxIdle: number;
  readonly #freshMs: number;
  readonly #maxHead: number;
  readonly #now: () => number;
  #closed = false;

  /** @param options Pool sizes and limits. */
  constructor(options: Http1ClientOptions = {}) {
    this.#maxIdle = options.maxIdlePerOrigin ?? 256;
    this.#freshMs = options.freshMs ?? 2000;
    this.#maxHead = options.maxHeadBytes ?? 64 * 1024;
    this.#now = options.now ?? (() => performance.now());
  }

  /** The client as an {@linkcode Upstream}. */
  readonly upstream: Upstream = (request) => this.request(request);

  /** Idle connections to `origin` (for tests). */
  idle(origin: string): number {
    return this.#idle.get(origin)?.length ?? 0;
  }

  /** Takes a connection that closed while idle out of its pool. */
  readonly #dropIdle = (conn: Connection): void => {
    const list = this.#idle.get(conn.origin);
    const at = list?.indexOf(conn) ?? -1;
    if (at >= 0) list!.splice(at, 1);
    if (list?.length === 0) this.#idle.delete(conn.origin);
  };

  /** Closes every idle connection; connections in use close when their exchange ends. */
  close(): void {
    this.#closed = true;
    for (const list of this.#idle.values()) for (const c of list) c.close();
    this.#idle.clear();
  }

  /** Sends `request` and resolves with the response head and its body. */
  async request(request: UpstreamRequest): Promise<UpstreamResponse> {
    request.signal.throwIfAborted();
    const retryable = IDEMPOTENT.has(request.method) && !(request.body instanceof ReadableStream);
    const reused = this.#checkout(request.origin, retryable);
    if (reused) {
      try {
        return await this.#exchange(reused, request);
      } catch (error) {
        // A pooled connection the server closed while idle fails before any answer: send
        // the request again on a new connection (an idempotent one only: see `freshMs`).
        if (!(error instanceof StaleConnection) || !retryable) throw unwrap(error);
      }
    }
    const conn = await this.#connect(request);
    try {
      return await this.#exchange(conn, request);
    } catch (error) {
      throw unwrap(error);
    }
  }

  #checkout(origin: string, retryable: boolean): Connection | undefined {
    const list = this.#idle.get(origin);
    while (list?.length) {
      const conn = list.pop()!;
      if (conn.closed) continue;
      if (!retryable && this.#now() - conn.idleSince > this.#freshMs) {
        conn.close();
        continue;
      }
      conn.idle = false;
      return conn;
    }
    return undefined;
  }

  #release(origin: string, conn: Connection): void {
    if (conn.closed) return;
    const list = this.#idle.get(origin) ?? [];
    if (this.#closed || list.length >= this.#maxIdle || conn.start !== conn.end) {
      conn.close(); // extra bytes after a response: the connection cannot be trusted
      return;
    }
    conn.idleSince = this.#now();
    conn.watch();
    list.push(conn);
    this.#idle.set(origin, list);
  }

  async #connect(request: UpstreamRequest): Promise<Connection> {
    const url = new URL(request.origin);
    if (url.protocol !== "http:") {
      throw new UpstreamError("connect", `not an http:// origin: ${request.origin}`);
    }
    const { signal } = request;
    const connecting = Deno.connect({
      hostname: url.hostname.replace(/^\[|\]$/g, ""),
      port: Number(url.port || 80),
    });
    // A connect can take minutes (SYNs to a dead host): the attempt's signal cuts it short.
    const aborted = new Promise<never>((_, reject) => {
      signal.onAbort(() => reject(signal.reason));
    });
    try {
      const conn = await Promise.race([connecting, aborted]);
      conn.setNoDelay(true);
      return new Connection(conn, request.origin, this.#dropIdle);
    } catch (error) {
      if (signal.aborted) {
        connecting.then((late) => late.close(), () => {});
        throw signal.reason;
      }
      if (error instanceof Deno.errors.ConnectionRefused) {
        throw new UpstreamError("refused", `connection refused by ${request.origin}`, error);
      }
      throw new UpstreamError(
        "connect",
        `cannot connect to ${request.origin}: ${messageOf(error)}`,
        error,
      );
    } finally {
      signal.onAbort(undefined);
    }
  }

  /** One request and response on `conn`. */
  async #exchange(conn: Connection, request: UpstreamRequest): Promise<UpstreamResponse> {
    const { signal } = request;
    if (signal.aborted) {
      conn.close();
      throw signal.reason;
    }
    signal.onAbort(() => conn.close());
    const fresh = conn.uses === 0;
    conn.uses++;
    let handedOver = false;
    try {
      await this.#send(conn, request, fresh);
      const head = await this.#readHead(conn, request, fresh);
      if (head.status === 101) {
        // The connection is the client's now: out of the pool, bytes both ways.
        handedOver = true;
        signal.onAbort(undefined);
        const { status, statusText, headers } = head;
        headers.push(["connection", "upgrade"], ["upgrade", head.upgrade ?? request.upgrade!]);
        const leftover = conn.buffer.slice(conn.start, conn.end);
        return {
          status,
          statusText,
          headers,
          body: null,
          tunnel: { conn: conn.conn, head: leftover },
        };
      }
      // (Usually all here: then no await.)
      const inBuffer = this.#bodyInBuffer(conn, head);
      const body = inBuffer !== undefined
        ? inBuffer
        : await this.#body(conn, request, head, () => signal.onAbort(undefined));
      handedOver = body instanceof ReadableStream;
      if (!handedOver) {
        if (head.keepAlive) this.#release(request.origin, conn);
        else conn.close();
      }
      return { status: head.status, statusText: head.statusText, headers: head.headers, body };
    } catch (error) {
      conn.close();
      if (signal.aborted) throw signal.reason;
      throw error;
    } finally {
      if (!handedOver) signal.onAbort(undefined);
    }
  }

  async #send(conn: Connection, request: UpstreamRequest, fresh: boolean): Promise<void> {
    const { body } = request;
    const host = request.origin.slice(request.origin.indexOf("//") + 2);
    let head = `${request.method} ${request.target} HTTP/1.1\r\nhost: ${host}\r\n`;
    for (const [name, value] of request.headers) head += `${name}: ${value}\r\n`;
    if (request.upgrade) head += `connection: upgrade\r\nupgrade: ${request.upgrade}\r\n`;
    if (body instanceof ReadableStream) head += "transfer-encoding: chunked\r\n";
    else if (body) head += `content-length: ${body.length}\r\n`;
    else if (!IDEMPOTENT.has(request.method)) head += "content-length: 0\r\n";
    head += "\r\n";
    const out = conn.out.frame(head, body instanceof Uint8Array ? body : undefined);
    try {
      await conn.writeAll(out);
      if (body instanceof ReadableStream) await this.#sendChunked(conn, body);
    } catch (error) {
      if (!fresh && !(body instanceof ReadableStream)) throw new StaleConnection(error);
      throw new UpstreamError(
        "reset",
        `connection reset while sending: ${messageOf(error)}`,
        error,
      );
    }
  }

  async #sendChunked(conn: Connection, body: ReadableStream<Uint8Array>): Promise<void> {
    const encoder = new TextEncoder();
    for await (const chunk of body) {
      if (chunk.length === 0) continue;
      await conn.writeAll(encoder.encode(`${chunk.length.toString(16)}\r\n`));
      await conn.writeAll(chunk);
      await conn.writeAll(encoder.encode("\r\n"));
    }
    await conn.writeAll(encoder.encode("0\r\n\r\n"));
  }

  async #readHead(conn: Connection, request: UpstreamRequest, fresh: boolean): Promise<Head> {
    for (;;) {
      const end = await this.#headEnd(conn, fresh);
      const head = this.#parseHead(conn, end, request.method);
      // Interim answers (100 Continue, 103 Early Hints) are skipped; a 101 ends the exchange
      // when the request asked to upgrade, and is an error otherwise.
      if (head.status >= 100 && head.status < 200) {
        if (head.status === 101) {
          if (request.upgrade) return head;
          throw new UpstreamError("protocol", "the replica switched protocols (101)");
        }
        continue;
      }
      return head;
    }
  }

  /** Index just past the head's blank line, reading as needed. */
  async #headEnd(conn: Connection, fresh: boolean): Promise<number> {
    let scanned = 0; // bytes after conn.start already searched (fill() may move them)
    for (;;) {
      for (let i = conn.start + Math.max(scanned, 3); i < conn.end; i++) {
        if (
          conn.buffer[i] === 0x0a && conn.buffer[i - 1] === 0x0d && conn.buffer[i - 2] === 0x0a &&
          conn.buffer[i - 3] === 0x0d
        ) return i + 1;
      }
      scanned = conn.end - conn.start;
      if (conn.end - conn.start > this.#maxHead) {
        throw new UpstreamError("protocol", `response head larger than ${this.#maxHead} bytes`);
      }
      const nothingYet = conn.end === conn.start;
      let more: boolean;
      try {
        more = await conn.fill();
      } catch (error) {
        if (nothingYet && !fresh) throw new StaleConnection(error);
        throw new UpstreamError("reset", `connection reset: ${messageOf(error)}`, error);
      }
      if (!more) {
        if (nothingYet && !fresh) throw new StaleConnection(new Error("closed"));
        throw new UpstreamError("closed", "connection closed before the response head");
      }
    }
  }

  #parseHead(conn: Connection, end: number, method: string): Head {
    // Lines are read from the bytes with the grammar the front uses (`../http1/`): CRLF ends
    // a line, a field line is a token, a colon, then a value of field-value bytes. The head
    // is decoded once, and names and values are slices of it (a decode per field costs more).
    const buf = conn.buffer;
    const base = conn.start;
    const headEnd = end - 4; // where the last line ends (its CRLF, then the empty line's)
    const text = latin1(buf, base, headEnd);
    conn.start = end;
    let lineEnd = crlfAt(buf, base, headEnd);
    const code = statusCode(text, lineEnd - base);
    if (code < 0) {
      throw new UpstreamError(
        "protocol",
        `malformed status line: ${text.slice(0, Math.min(80, lineEnd - base))}`,
      );
    }
    const http10 = text.charCodeAt(7) === 0x30;
    const statusText = lineEnd - base > 13 ? text.slice(13, lineEnd - base) : "";
    const headers: [string, string][] = [];
    let length: number | undefined;
    let chunked = false;
    const connection: string[] = [];
    let upgrade: string | undefined;
    while (lineEnd < headEnd) {
      const lineStart = lineEnd + 2;
      lineEnd = crlfAt(buf, lineStart, headEnd);
      // Only what a Response can carry: a token for the name, no control bytes in the value.
      const field = parseFieldLine(buf, lineStart, lineEnd);
      if (field.kind === "invalid") {
        const line = text.slice(lineStart - base, Math.min(lineEnd, lineStart + 80) - base);
        throw new UpstreamError("protocol", `malformed header line: ${line}`);
      }
      const name = text.slice(lineStart - base, field.nameEnd - base).toLowerCase();
      const value = text.slice(field.valueStart - base, field.valueEnd - base);
      if (name === "content-length") {
        const n = decimal(value);
        if (n < 0 || (length !== undefined && length !== n)) {
          throw new UpstreamError("protocol", `bad content-length: ${value.slice(0, 40)}`);
        }
        length = n;
        continue; // set again below from the framing actually used
      } else if (name === "transfer-encoding") {
        // Only plain chunked: a coding under it (gzip, chunked) would be passed on decoded wrong.
        if (value.toLowerCase() !== "chunked") {
          throw new UpstreamError("protocol", `unsupported transfer-encoding: ${value}`);
        }
        chunked = true;
        continue;
      } else if (name === "connection") {
        for (const token of value.toLowerCase().split(",")) {
          if (token.trim()) connection.push(token.trim());
        }
      } else if (name === "upgrade") upgrade = value;
      if (!HOP_BY_HOP.has(name)) headers.push([name, value]);
    }
    // Fields the Connection header names are hop-by-hop too.
    const kept = connection.length
      ? headers.filter(([name]) => !connection.includes(name))
      : headers;
    let framing: Framing;
    const bodiless = method === "HEAD" || code === 204 || code === 205 || code === 304 ||
      code < 200;
    if (bodiless) framing = { kind: "none" };
    else if (chunked) framing = { kind: "chunked" };
    else if (length !== undefined) framing = { kind: "length", remaining: length };
    else framing = { kind: "close" };
    // The length the client gets is the one used (chunked wins over Content-Length: RFC 9112
    // §6.3, and such a message is not trusted to leave the connection clean).
    if (framing.kind === "length" || (method === "HEAD" && length !== undefined && !chunked)) {
      kept.push(["content-length", String(length)]);
    }
    const keepAlive = framing.kind !== "close" && !bodiless && !(chunked && length !== undefined) &&
      (http10 ? connection.includes("keep-alive") : !connection.includes("close"));
    return {
      status: code,
      statusText,
      headers: kept,
      framing,
      keepAlive,
      upgrade,
    };
  }

  /** The body: bytes when it is all here, else a stream that reads the rest. */
  /** The body when it needs no read: none, or all of it in the buffer; else undefined. */
  #bodyInBuffer(conn: Connection, head: Head): Uint8Array<ArrayBuffer> | null | undefined {
    const { framing } = head;
    if (framing.kind === "none") return null;
    if (framing.kind !== "length" || conn.end - conn.start < framing.remaining) return undefined;
    if (framing.remaining === 0) return EMPTY;
    const bytes = pooledCopy(conn.buffer, conn.start, conn.start + framing.remaining);
    conn.start += framing.remaining;
    return bytes;
  }

  async #body(
    conn: Connection,
    request: UpstreamRequest,
    head: Head,
    detach: () => void,
  ): Promise<Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array> | null> {
    const { framing } = head;
    if (framing.kind === "none") return null;
    if (framing.kind === "length") {
      if (framing.remaining === 0) return EMPTY;
      // Small bodies usually arrive with the head, or with the next read: then they come
      // back as bytes. Anything else is streamed.
      if (conn.end - conn.start < framing.remaining && framing.remaining <= SMALL_BODY) {
        if (!(await conn.fill())) throw new UpstreamError("closed", "connection closed mid-body");
      }
      if (conn.end - conn.start >= framing.remaining) {
        const bytes = pooledCopy(conn.buffer, conn.start, conn.start + framing.remaining);
        conn.start += framing.remaining;
        return bytes;
      }
    }
    return this.#stream(conn, request, head, detach);
  }

  #stream(
    conn: Connection,
    request: UpstreamRequest,
    head: Head,
    detach: () => void,
  ): ReadableStream<Uint8Array> {
    const { framing } = head;
    let remaining = framing.kind === "length" ? framing.remaining : 0;
    let chunkLeft = 0; // chunked: bytes left in the current chunk
    let finished = false;
    const done = (reusable: boolean) => {
      finished = true;
      detach();
      if (reusable && head.keepAlive) this.#release(request.origin, conn);
      else conn.close();
    };
    /** Takes up to `max` buffered bytes. */
    const take = (max: number): Uint8Array => {
      const n = Math.min(max, conn.end - conn.start);
      const bytes = conn.buffer.slice(conn.start, conn.start + n);
      conn.start += n;
      return bytes;
    };
    const needLine = async (): Promise<string> => {
      for (;;) {
        for (let i = conn.start + 1; i < conn.end; i++) {
          if (conn.buffer[i] === 0x0a && conn.buffer[i - 1] === 0x0d) {
            const line = latin1(conn.buffer, conn.start, i - 1);
            conn.start = i + 1;
            return line;
          }
        }
        if (conn.end - conn.start > 4096) {
          throw new UpstreamError("protocol", "chunk size line too long");
        }
        if (!(await conn.fill())) throw new UpstreamError("closed", "connection closed mid-body");
      }
    };
    const need = async () => {
      if (conn.start === conn.end && !(await conn.fill())) {
        throw new UpstreamError("closed", "connection closed mid-body");
      }
    };
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        try {
          if (framing.kind === "length") {
            await need();
            const bytes = take(remaining);
            remaining -= bytes.length;
            controller.enqueue(bytes);
            if (remaining === 0) {
              done(true);
              controller.close();
            }
          } else if (framing.kind === "close") {
            if (conn.start === conn.end && !(await conn.fill())) {
              done(false);
              controller.close();
              return;
            }
            controller.enqueue(take(Infinity));
          } else {
            if (chunkLeft === 0) {
              const sizeText = (await needLine()).split(";")[0].trim();
              const size = /^[0-9a-f]{1,12}$/i.test(sizeText) ? parseInt(sizeText, 16) : -1;
              if (size < 0) {
                throw new UpstreamError("protocol", "bad chunk size");
              }
              if (size === 0) {
                // Trailers (ignored) up to the blank line.
                while ((await needLine()) !== "");
                done(true);
                controller.close();
                return;
              }
              chunkLeft = size;
            }
            await need();
            const bytes = take(chunkLeft);
            chunkLeft -= bytes.length;
            if (chunkLeft === 0) {
              const end = await needLine();
              if (end !== "") throw new UpstreamError("protocol", "chunk not followed by CRLF");
            }
            controller.enqueue(bytes);
          }
        } catch (error) {
          if (!finished) done(false);
          controller.error(request.signal.aborted ? request.signal.reason : unwrap(error));
        }
      },
      cancel: () => {
        if (!finished) done(false);
      },
    });
  }
}

/** A reused connection failed before any answer: the server had closed it. */
class StaleConnection extends Error {
  constructor(cause: unknown) {
    super("stale keep-alive connection", { cause });
  }
}

function unwrap(error: unknown): unknown {
  if (error instanceof StaleConnection) {
    return new UpstreamError("closed", `connection closed: ${messageOf(error.cause)}`, error.cause);
  }
  if (error instanceof UpstreamError || error instanceof DOMException) return error;
  if (error instanceof Deno.errors.ConnectionReset || error instanceof Deno.errors.BrokenPipe) {
    return new UpstreamError("reset", `connection reset: ${messageOf(error)}`, error);
  }
  return error;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
