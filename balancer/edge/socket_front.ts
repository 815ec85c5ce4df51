/**
 * The raw-socket front: client connections read and written by the balancer itself, over
 * `Deno.listen` (or `Deno.listenTls`), instead of `Deno.serve`. Each connection is one
 * long-lived {@linkcode ClientConnection}: it parses request heads strictly (`../http1/`),
 * keeps connections alive and answers pipelined requests in order, enforces the header,
 * keep-alive and body timeouts from one shared sweep (no timer per request), and writes
 * answers as bytes. Admin paths go to the Hono app in-process; everything else goes to the
 * proxy as a {@linkcode ProxyRequest}, with no `Request`, `Response`, `Headers` or `URL`.
 *
 * @module
 */

import { failureBody } from "../../contract/mod.ts";
import {
  ChunkedDecoder,
  parseRequestHead,
  type RequestHead,
  type RequestHeadResult,
  WriteBuffer,
} from "../http1/mod.ts";
import {
  failureAnswer,
  type ProxyAnswer,
  type ProxyRequest,
  type ProxyTunnel,
} from "../proxy/mod.ts";
import {
  Abort,
  concatBytes,
  errorMessage,
  type Logger,
  pooledCopy,
  type Timer,
} from "../support/mod.ts";

/** Options of a {@linkcode SocketFront}. */
export interface SocketFrontOptions {
  /** Proxies one request. */
  proxy(request: ProxyRequest): Promise<ProxyAnswer>;
  /** Answers an admin request (Hono's `app.fetch`). */
  admin(request: Request): Promise<Response>;
  /** Whether `path` is an admin path. */
  isAdmin(path: string): boolean;
  /** A client must send a whole request head within this, ms (then 408 and closed). */
  headerTimeoutMs: number;
  /** An idle kept-alive connection is closed after this, ms. */
  keepAliveTimeoutMs: number;
  /** A client silent this long while sending a body the front reads gets a 408, ms. */
  bodyTimeoutMs: number;
  /** Most client connections open at once; more are answered 503 and closed. */
  maxConnections: number;
  /** Whether the listener is TLS (`X-Forwarded-Proto: https`). */
  secure: boolean;
  /** Where connection errors go (debug). */
  logger: Logger;
}

/**
 * How often deadlines are checked, ms. Deadlines are set from the clock as read at the last
 * check (no clock read per request), plus one interval, so a timeout fires between its length
 * and its length plus two intervals after it started.
 */
const SWEEP_MS = 100;
/** Read buffer to start with; it grows to the head limit when a head needs it. */
const BUFFER_BYTES = 16 * 1024;
/** Most unparsed bytes read ahead (pipelined requests) while a request is answered. */
const READ_AHEAD_BYTES = 64 * 1024;

const ENCODER = new TextEncoder();

/** Reason phrases for answers that come without one (the proxy's own). */
const REASONS: Readonly<Record<number, string>> = {
  100: "Continue",
  200: "OK",
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  413: "Content Too Large",
  414: "URI Too Long",
  417: "Expectation Failed",
  431: "Request Header Fields Too Large",
  499: "Client Closed Request",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};

/** `text` as bytes, one byte per character (header values may hold obs-text, 0x80–0xFF). */
function latin1(text: string): Uint8Array {
  // deno-lint-ignore no-control-regex
  if (!/[^\x00-\x7f]/.test(text)) return ENCODER.encode(text);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/** The `Date` field's value, made at most once a second. */
let dateText = "";
let dateSecond = 0;
function httpDate(): string {
  const second = Math.floor(Date.now() / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(second * 1000).toUTCString();
  }
  return dateText;
}

/** One of the front's own answers, in the spec's JSON shape, ending the connection. */
function refusal(status: number, message: string): Uint8Array {
  const body = JSON.stringify(failureBody(message));
  return latin1(
    `HTTP/1.1 ${status} ${REASONS[status] ?? ""}\r\ncontent-type: application/json\r\n` +
      `content-length: ${ENCODER.encode(body).length}\r\ndate: ${httpDate()}\r\n` +
      `connection: close\r\n\r\n${body}`,
  );
}

/** Serves a listener's connections until {@linkcode SocketFront.shutdown}. */
export class SocketFront {
  readonly #listener: Deno.Listener;
  readonly #options: SocketFrontOptions;
  readonly #connections = new Set<ClientConnection>();
  readonly #sweeper: Timer;
  /** The clock as read at the last sweep, ms. */
  #now = performance.now();
  #closing = false;
  /** Connections turned away at the limit, and closed by a timeout (for logs and tests). */
  readonly stats = { refused: 0, headerTimeouts: 0, idleClosed: 0 };

  /** @param listener Where clients connect. @param options The proxy, admin app and limits. */
  constructor(listener: Deno.Listener, options: SocketFrontOptions) {
    this.#listener = listener;
    this.#options = options;
    this.#sweeper = setInterval(() => this.#sweep(), SWEEP_MS);
  }

  /** Client connections open now. */
  get open(): number {
    return this.#connections.size;
  }

  /** Accepts connections until the listener closes; resolves then. */
  async serve(): Promise<void> {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (this.#closing) return;
        // A transient accept failure (EMFILE): the next accept may succeed.
        this.#options.logger.warn("front.accept_failed", { reason: errorMessage(error) });
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      if (this.#connections.size >= this.#options.maxConnections) {
        // Accepted and answered, not left in the kernel's queue: the client learns at once
        // that it should come back, instead of waiting for a connect timeout. Over TLS the
        // answer would wait for a handshake the client may never make: closed at once.
        this.stats.refused++;
        if (this.#options.secure) closeQuietly(conn);
        else {
          writeAll(conn, refusal(503, "Too many connections; retry later"))
            .catch(() => {}).finally(() => closeQuietly(conn));
        }
        continue;
      }
      const client = new ClientConnection(conn, this.#options, this, () => {
        this.#connections.delete(client);
      });
      this.#connections.add(client);
      client.run();
    }
  }

  /**
   * Stops accepting, closes idle connections and tunnels (a tunnel has no answer to finish),
   * lets the others finish the answer they are writing (closing them after it), and resolves
   * when every connection has ended.
   */
  async shutdown(): Promise<void> {
    this.#closing = true;
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
    for (const client of this.#connections) client.drain();
    // A connection leaves the set as it closes, and no new one comes.
    await Promise.all([...this.#connections].map((c) => c.ended));
    clearInterval(this.#sweeper);
  }

  /** Whether the front is shutting down (connections close after their current answer). */
  get closing(): boolean {
    return this.#closing;
  }

  /** The deadline of a timeout of `ms` starting now (see `SWEEP_MS`). */
  deadlineIn(ms: number): number {
    return this.#now + SWEEP_MS + ms;
  }

  /** Ends connections whose deadline has passed. */
  #sweep(): void {
    const now = this.#now = performance.now();
    for (const client of this.#connections) client.expire(now);
  }
}

/**
 * What a connection is waiting for, which decides the timeout that applies: `idle` (between
 * requests: the keep-alive timeout), `head` and `body` (the client: header and body timeouts),
 * `write` (a client that stops reading its answer: the body timeout), `busy` (a replica, whose
 * timeouts are the proxy's), `tunnel` (none).
 */
type Phase = "idle" | "head" | "body" | "write" | "busy" | "tunnel";

/** One client connection, from accept to close. */
class ClientConnection {
  readonly #conn: Deno.Conn;
  readonly #options: SocketFrontOptions;
  readonly #front: SocketFront;
  /** Aborted when the client has gone (read EOF or error): requests in flight give up. */
  readonly #gone = new Abort();
  readonly #ended = Promise.withResolvers<void>();
  #buffer = new Uint8Array(BUFFER_BYTES);
  /** Where answers are framed for writing; made with the first answer. */
  #out?: WriteBuffer;
  #start = 0;
  #end = 0;
  #phase: Phase = "idle";
  #deadline: number;
  #reading?: Promise<boolean>;
  /**
   * A request is being answered whose client may be watched for leaving (no body left to read,
   * no tunnel): the sweep starts the read-ahead that notices it (see `expire`).
   */
  #watchable = false;
  #eof = false;
  /** Requests answered on this connection. */
  #served = 0;
  #closed = false;
  /** The 408 being written after a timeout; the connection closes when it is done. */
  #refusing?: Promise<void>;
  /** A request body was left unread: linger before closing, so the answer is not reset. */
  #unread = false;
  /** Closes the tunnel, when one is open. */
  #closeTunnel?: () => void;
  readonly #client: string | undefined;
  readonly #onClose: () => void;

  constructor(
    conn: Deno.Conn,
    options: SocketFrontOptions,
    front: SocketFront,
    onClose: () => void,
  ) {
    this.#conn = conn;
    this.#options = options;
    this.#front = front;
    this.#onClose = onClose;
    this.#deadline = front.deadlineIn(options.headerTimeoutMs);
    const addr = conn.remoteAddr;
    this.#client = "hostname" in addr ? addr.hostname : undefined;
  }

  /** Resolves when the connection has been closed. */
  get ended(): Promise<void> {
    return this.#ended.promise;
  }

  /** Shutdown: an idle connection or a tunnel closes now, a busy one after its answer. */
  drain(): void {
    if (this.#phase === "idle") this.#close();
    else if (this.#phase === "tunnel") this.#closeTunnel?.();
  }

  /** Called by the sweep: ends the connection if its current deadline has passed. */
  expire(now: number): void {
    const phase = this.#phase;
    // A request still in flight at a sweep gets its client watched from then on. Not from the
    // start: a read issued while the client has nothing to send waits in the reactor and costs
    // a wake-up (7 µs a request at 64 connections, measured), where the read made after the
    // answer mostly finds the next request there. Requests that take under a sweep interval
    // finish before anyone could act on their client leaving.
    if (this.#watchable && !this.#reading && (phase === "busy" || phase === "write")) this.#watch();
    if (phase === "busy" || phase === "tunnel" || now < this.#deadline) return;
    const stats = this.#front.stats;
    if (phase === "idle" || phase === "write") {
      // Nothing to say: between requests, or to a client that stopped reading its answer.
      if (phase === "idle") stats.idleClosed++;
      this.#close();
      return;
    }
    const what = phase === "head"
      ? `No complete request head within ${this.#options.headerTimeoutMs} ms`
      : `Request body: the client sent nothing for ${this.#options.bodyTimeoutMs} ms`;
    if (phase === "head") stats.headerTimeouts++;
    this.#phase = "busy"; // once
    // Nothing more is read from this client: what arrives meanwhile is not served.
    this.#eof = true;
    this.#gone.abort();
    this.#refusing = writeAll(this.#conn, refusal(408, what)).catch(() => {}).finally(() =>
      this.#close()
    );
  }

  /** Serves requests until the client closes, a request asks to, or one is refused. */
  async run(): Promise<void> {
    try {
      for (;;) {
        const parsed = await this.#readHead();
        if (!parsed) return;
        if (parsed.kind === "refused") {
          this.#phase = "busy";
          await writeAll(this.#conn, refusal(parsed.status, parsed.message));
          return;
        }
        const keepAlive = await this.#serveOne(parsed.head);
        this.#served++;
        if (!keepAlive || this.#front.closing) return;
      }
    } catch (error) {
      this.#options.logger.debug("front.connection_failed", { reason: errorMessage(error) });
    } finally {
      if (this.#refusing) await this.#refusing;
      else if (this.#unread && !this.#closed) await this.#linger();
      this.#close();
    }
  }

  /**
   * Closes gracefully when the client may still be sending a body nobody read: the write side
   * first, then what arrives is read and dropped for a moment (up to 1 s or 1 MiB). Closing at
   * once with unread bytes would reset the connection, and the client could lose its answer.
   */
  async #linger(): Promise<void> {
    try {
      (this.#conn as Deno.TcpConn).closeWrite?.();
    } catch {
      return;
    }
    this.#phase = "busy";
    const timer = setTimeout(() => this.#close(), 1000);
    let dropped = 0;
    while (dropped < 1024 * 1024 && (await this.#fill())) {
      dropped += this.#end - this.#start;
      this.#start = this.#end;
    }
    clearTimeout(timer);
  }

  /** The next request head, or undefined when the client closed first. */
  async #readHead(): Promise<Exclude<RequestHeadResult, { kind: "incomplete" }> | undefined> {
    let headStarted = this.#start < this.#end;
    if (!headStarted) {
      this.#phase = "idle";
      // The first request gets the header timeout from accept; later ones the keep-alive one.
      if (this.#served > 0) {
        this.#deadline = this.#front.deadlineIn(this.#options.keepAliveTimeoutMs);
      }
    } else this.#startHead();
    // The head is parsed when its end may have come (a blank line), or every 8 KiB: a client
    // sending it a byte at a time must not make each byte a parse of all it sent before.
    let scanned = 0; // bytes after #start searched for a blank line
    let parsedAt = -1; // bytes buffered at the last parse
    for (;;) {
      const buffered = this.#end - this.#start;
      if (buffered > 0) {
        if (!headStarted) {
          headStarted = true;
          this.#startHead();
        }
        const ended = blankLine(this.#buffer, this.#start + Math.max(0, scanned - 2), this.#end);
        scanned = buffered;
        if (ended || buffered - Math.max(0, parsedAt) >= PARSE_STEP) {
          parsedAt = buffered;
          const parsed = parseRequestHead(this.#buffer, this.#start, this.#end);
          if (parsed.kind !== "incomplete") {
            if (parsed.kind === "request") this.#start += parsed.consumed;
            return parsed;
          }
        }
      }
      if (this.#front.closing && !headStarted) return undefined;
      if (!(await this.#fill()) || this.#refusing) return undefined;
    }
  }

  #startHead(): void {
    this.#phase = "head";
    // The first head's clock started at accept; a later one's when its first byte came.
    if (this.#served > 0) this.#deadline = this.#front.deadlineIn(this.#options.headerTimeoutMs);
  }

  /** Answers one request; resolves whether the connection may carry another. */
  async #serveOne(head: RequestHead): Promise<boolean> {
    this.#phase = "busy";
    const query = head.path.indexOf("?");
    const path = query < 0 ? head.path : head.path.slice(0, query);
    let body: Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array> | null = null;
    const reader = this.#bodyOf(head);
    if (reader) body = reader.whole ?? reader.stream();
    let keepAlive: boolean; // (the head's wish, unless the answer needs the connection closed)
    if (this.#options.isAdmin(path)) {
      let response: Response;
      try {
        response = await this.#options.admin(this.#webRequest(head, body));
      } catch (error) {
        // A bug, not the client's fault: answered as the proxy path answers one.
        this.#options.logger.error("request.failed", { path, reason: errorMessage(error) });
        response = Response.json(failureBody("Internal error in the load balancer"), {
          status: 500,
        });
      }
      keepAlive = await this.#writeResponse(head, response, reader);
    } else {
      // Read ahead while the answer is prepared: a client that goes away aborts its request.
      // (Not for an upgrade: what the client sends next belongs to the tunnel.)
      const upgrade = head.upgrade
        ? head.headers.find(([name]) => name === "upgrade")?.[1]
        : undefined;
      this.#watchable = !upgrade && (!reader || reader.done);
      let answer: ProxyAnswer;
      try {
        answer = await this.#options.proxy({
          method: head.method,
          target: head.path,
          headers: head.headers,
          host: head.host,
          secure: this.#options.secure,
          client: this.#client,
          body,
          signal: this.#gone,
          upgrade,
        });
      } catch (error) {
        // A bug, not the client's fault nor a replica's: answered as the Deno.serve front does.
        this.#options.logger.error("request.failed", { path, reason: errorMessage(error) });
        answer = failureAnswer(500, "Internal error in the load balancer");
      }
      try {
        keepAlive = await this.#writeAnswer(head, answer, reader);
      } finally {
        this.#watchable = false;
      }
    }
    return keepAlive && !this.#gone.aborted;
  }

  /** The request as a web `Request`, for the admin app (small, rare: no need to be lean). */
  #webRequest(
    head: RequestHead,
    body: Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array> | null,
  ): Request {
    const scheme = this.#options.secure ? "https" : "http";
    return new Request(`${scheme}://${head.host || "localhost"}${head.path}`, {
      method: head.method,
      headers: head.headers,
      // A GET or HEAD cannot carry a body in a Request (a `Content-Length: 0` one came with an
      // empty one); Deno.serve gives them none either.
      body: head.method === "GET" || head.method === "HEAD" ? null : body,
      duplex: "half",
    } as RequestInit);
  }

  /** How the request's body is read: whole when the buffer holds it, else as a stream. */
  #bodyOf(head: RequestHead): BodyReader | undefined {
    if (head.framing.kind === "none") return undefined;
    // A client that waits for a go-ahead gets it when its body is first asked for: not when
    // the request is refused (admission, no replica) without reading it.
    const goAhead = head.expectContinue && this.#end - this.#start === 0
      ? () => writeAll(this.#conn, CONTINUE).catch(() => {})
      : undefined;
    if (head.framing.kind === "length") {
      const length = head.framing.length;
      if (this.#end - this.#start >= length) {
        const whole = pooledCopy(this.#buffer, this.#start, this.#start + length);
        this.#start += length;
        return { whole, done: true, stream: () => new ReadableStream() };
      }
      return new LengthBody(this, length, goAhead);
    }
    return new ChunkedBody(this, goAhead);
  }

  /** Bytes read and not yet consumed. */
  buffered(): Uint8Array {
    return this.#buffer.subarray(this.#start, this.#end);
  }

  /** Consumes `n` buffered bytes. */
  consume(n: number): void {
    this.#start += n;
  }

  /** Marks the body as being read (its idle timeout applies). */
  bodyPhase(reading: boolean): void {
    this.#phase = reading ? "body" : "busy";
    if (reading) this.#deadline = this.#front.deadlineIn(this.#options.bodyTimeoutMs);
  }

  /**
   * Reads more bytes into the buffer; false at the client's EOF (or a failed read). Only one
   * read is ever pending: the read-ahead watch and the body readers share it.
   */
  fill(): Promise<boolean> {
    return this.#fill();
  }

  #fill(): Promise<boolean> {
    // (`#readOnce` clears `#reading` when its read ends; at EOF it stays, settled, false.)
    return this.#reading ??= this.#readOnce();
  }

  async #readOnce(): Promise<boolean> {
    if (this.#eof || this.#closed) return false;
    if (this.#start === this.#end) this.#start = this.#end = 0;
    if (this.#end === this.#buffer.length) {
      if (this.#start > 0) {
        this.#buffer.copyWithin(0, this.#start, this.#end);
        this.#end -= this.#start;
        this.#start = 0;
      } else {
        const bigger = new Uint8Array(this.#buffer.length * 2);
        bigger.set(this.#buffer);
        this.#buffer = bigger;
      }
    }
    let n: number | null;
    try {
      n = await this.#conn.read(this.#buffer.subarray(this.#end));
    } catch {
      n = null;
    } finally {
      this.#reading = undefined;
    }
    if (n === null) {
      this.#eof = true;
      this.#gone.abort();
      return false;
    }
    this.#end += n;
    if (this.#phase === "body") {
      this.#deadline = this.#front.deadlineIn(this.#options.bodyTimeoutMs);
    }
    return true;
  }

  /** Reads ahead while a request is answered, so a client that leaves is noticed (see `expire`). */
  #watch(): void {
    if (this.#end - this.#start >= READ_AHEAD_BYTES) return;
    this.#fill().then((more) => {
      if (more && this.#watchable && (this.#phase === "busy" || this.#phase === "write")) {
        this.#watch();
      }
    });
  }

  /**
   * Writes the proxy's answer; resolves whether the connection may carry another request.
   * A streamed body is cancelled if it cannot be written (its replica and slot are let go).
   */
  async #writeAnswer(
    head: RequestHead,
    answer: ProxyAnswer,
    request?: BodyReader,
  ): Promise<boolean> {
    try {
      return await this.#writeAnswerOnce(head, answer, request);
    } catch (error) {
      if (answer.body instanceof ReadableStream) answer.body.cancel(error).catch(() => {});
      if (answer.tunnel) {
        closeQuietly(answer.tunnel.conn);
        answer.tunnel.ended();
      }
      throw error;
    }
  }

  async #writeAnswerOnce(
    head: RequestHead,
    answer: ProxyAnswer,
    request: BodyReader | undefined,
  ): Promise<boolean> {
    const { status, body } = answer;
    // A request body the answer did not wait for would be read as the next head: close.
    if (request && !request.done) this.#unread = true;
    let keepAlive = head.keepAlive && !this.#front.closing && !this.#unread;
    let text = `HTTP/1.1 ${status} ${answer.statusText || REASONS[status] || ""}\r\n`;
    let length: string | undefined;
    let dated = false;
    for (const [name, value] of answer.headers) {
      if (name === "content-length") {
        length = value;
        continue;
      }
      if (name === "date") dated = true;
      text += `${name}: ${value}\r\n`;
    }
    if (!dated) text += `date: ${httpDate()}\r\n`;
    const bodiless = head.method === "HEAD" || status === 204 || status === 304 || status < 200;
    let chunked = false;
    if (body instanceof Uint8Array) {
      if (!bodiless || head.method === "HEAD") text += `content-length: ${body.length}\r\n`;
    } else if (length !== undefined) {
      text += `content-length: ${length}\r\n`;
    } else if (body && !bodiless) {
      if (head.version === "1.1") {
        chunked = true;
        text += "transfer-encoding: chunked\r\n";
      } else keepAlive = false; // HTTP/1.0: the body ends when the connection does
    } else if (!bodiless && !answer.tunnel) {
      text += "content-length: 0\r\n"; // (a 205, or an empty answer: framed all the same)
    }
    if (!keepAlive) text += "connection: close\r\n";
    else if (head.version === "1.0") text += "connection: keep-alive\r\n";
    text += "\r\n";
    // (The connection's buffer: this answer is written before the next is framed.)
    this.#out ??= new WriteBuffer();
    if (answer.tunnel) {
      await this.#relay(this.#out.frame(text), answer.tunnel);
      return false;
    }
    if (!(body instanceof ReadableStream)) {
      await this.#write(this.#out.frame(text, body && !bodiless ? body : undefined));
      return keepAlive;
    }
    if (bodiless) {
      await body.cancel();
      await this.#write(this.#out.frame(text));
      return keepAlive;
    }
    const reader = body.getReader();
    try {
      await this.#write(this.#out.frame(text));
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (value.length === 0) continue;
        await this.#write(
          chunked ? concatBytes([latin1(`${value.length.toString(16)}\r\n`), value, CRLF]) : value,
        );
      }
    } catch (error) {
      // The replica's side failed mid-body: the client can only learn it from the connection
      // ending before the body does.
      this.#options.logger.debug("front.body_failed", { reason: errorMessage(error) });
      reader.cancel(error).catch(() => {});
      return false;
    }
    if (chunked) await this.#write(LAST_CHUNK);
    return keepAlive;
  }

  /** Writes to the client; one that stops reading for the body timeout is closed. */
  async #write(bytes: Uint8Array): Promise<void> {
    this.#phase = "write";
    this.#deadline = this.#front.deadlineIn(this.#options.bodyTimeoutMs);
    try {
      // (writeAll inlined: one async frame less per answer.)
      let at = 0;
      while (at < bytes.length) at += await this.#conn.write(at ? bytes.subarray(at) : bytes);
    } finally {
      if (this.#phase === "write") this.#phase = "busy";
    }
  }

  /**
   * Relays a tunnel (a WebSocket, after the replica's 101): the 101 head, then bytes both ways
   * until either side closes; then both connections close and the request leaves flight.
   */
  async #relay(head: Uint8Array, tunnel: ProxyTunnel): Promise<void> {
    const replica = tunnel.conn;
    // A replica that dies sends no reset (a killed container): its ejection ends the tunnel;
    // so does shutdown.
    const closeBoth = () => {
      closeQuietly(replica);
      this.#close();
    };
    this.#closeTunnel = closeBoth;
    tunnel.ejected.addEventListener("abort", closeBoth);
    try {
      await writeAll(this.#conn, tunnel.head.length ? concatBytes([head, tunnel.head]) : head);
      this.#phase = "tunnel";
      const toReplica = (async () => {
        for (;;) {
          const pending = this.buffered();
          if (pending.length > 0) {
            await writeAll(replica, pending.slice());
            this.consume(pending.length);
          }
          if (!(await this.#fill())) return;
        }
      })();
      const toClient = (async () => {
        const buffer = new Uint8Array(BUFFER_BYTES);
        for (;;) {
          const n = await replica.read(buffer);
          if (n === null) return;
          await writeAll(this.#conn, buffer.subarray(0, n));
        }
      })();
      await Promise.race([toReplica, toClient]).catch(() => {});
      // The other direction ends as the connections close below.
      toReplica.catch(() => {});
      toClient.catch(() => {});
    } finally {
      tunnel.ejected.removeEventListener("abort", closeBoth);
      closeBoth();
      tunnel.ended();
    }
  }

  /** Writes an admin `Response` (small replies, read whole; an event stream as it comes). */
  async #writeResponse(
    head: RequestHead,
    response: Response,
    request: BodyReader | undefined,
  ): Promise<boolean> {
    // An event stream (the dashboard's) is passed on as it comes; anything else is small.
    const streamed = response.headers.get("content-type")?.startsWith("text/event-stream");
    const body = streamed ? response.body : new Uint8Array(await response.arrayBuffer());
    const headers: [string, string][] = [];
    response.headers.forEach((value, name) => {
      if (name !== "content-length") headers.push([name, value]);
    });
    return await this.#writeAnswer(head, {
      status: response.status,
      statusText: response.statusText,
      headers,
      body,
    }, request);
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#phase = "busy";
    this.#gone.abort();
    closeQuietly(this.#conn);
    this.#onClose();
    this.#ended.resolve();
  }
}

const CRLF = ENCODER.encode("\r\n");
const CONTINUE = ENCODER.encode("HTTP/1.1 100 Continue\r\n\r\n");
const LAST_CHUNK = ENCODER.encode("0\r\n\r\n");

/** A request body the front reads. */
interface BodyReader {
  /** The whole body, when it was already in the buffer. */
  readonly whole?: Uint8Array<ArrayBuffer>;
  /** Whether it has been read to its end. */
  readonly done: boolean;
  /** The body as a stream (made once). */
  stream(): ReadableStream<Uint8Array>;
}

/**
 * A body read from the connection as the proxy asks for it (`highWaterMark` 0: nothing is read,
 * and no go-ahead sent, until it is); `next` reads one step of its framing.
 */
abstract class StreamedBody implements BodyReader {
  protected readonly conn: ClientConnection;
  #goAhead?: () => void;
  done = false;

  constructor(conn: ClientConnection, goAhead?: () => void) {
    this.conn = conn;
    this.#goAhead = goAhead;
  }

  stream(): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>({
      pull: (controller) => {
        this.#goAhead?.();
        this.#goAhead = undefined;
        return this.next(controller);
      },
    }, { highWaterMark: 0 });
  }

  /** Waits for more bytes (the body timeout applies); false when the client closed. */
  protected async more(controller: ReadableStreamDefaultController<Uint8Array>): Promise<boolean> {
    this.conn.bodyPhase(true);
    const more = await this.conn.fill();
    this.conn.bodyPhase(false);
    if (!more) controller.error(new Error("the client closed the connection mid-body"));
    return more;
  }

  /** Enqueues the next piece of the body, or ends (or fails) the stream. */
  protected abstract next(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void>;
}

/** A `Content-Length` body. */
class LengthBody extends StreamedBody {
  #remaining: number;

  constructor(conn: ClientConnection, length: number, goAhead?: () => void) {
    super(conn, goAhead);
    this.#remaining = length;
  }

  protected async next(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    while (this.conn.buffered().length === 0) if (!(await this.more(controller))) return;
    const available = this.conn.buffered();
    const n = Math.min(available.length, this.#remaining);
    controller.enqueue(available.slice(0, n));
    this.conn.consume(n);
    this.#remaining -= n;
    if (this.#remaining === 0) {
      this.done = true;
      controller.close();
    }
  }
}

/** A chunked body, decoded strictly. */
class ChunkedBody extends StreamedBody {
  readonly #decoder = new ChunkedDecoder();

  protected async next(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    for (;;) {
      const available = this.conn.buffered();
      const event = this.#decoder.decode(available, 0, available.length);
      if (event.kind === "error") {
        controller.error(new Error(`malformed chunked body: ${event.message}`));
        return;
      }
      this.conn.consume(event.consumed);
      if (event.kind === "data") {
        controller.enqueue(available.slice(event.from, event.to));
        return;
      }
      if (event.kind === "done") {
        this.done = true;
        controller.close();
        return;
      }
      if (!(await this.more(controller))) return;
    }
  }
}

/** How many more bytes of a head without a blank line make the parser look again. */
const PARSE_STEP = 8 * 1024;

/** Whether `buf[from, to)` holds a blank line's end: LF LF, or LF CR LF. */
function blankLine(buf: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i + 1 < to; i++) {
    if (buf[i] !== 0x0a) continue;
    if (buf[i + 1] === 0x0a || (buf[i + 1] === 0x0d && i + 2 < to && buf[i + 2] === 0x0a)) {
      return true;
    }
  }
  return false;
}

/** Writes all of `bytes` (a write may take only part). */
async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.length) at += await conn.write(bytes.subarray(at));
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}
