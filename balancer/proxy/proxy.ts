/**
 * The proxy: every request that is not an admin call goes to one replica, picked on the
 * ring by its routing key; a replica that cannot be reached is skipped for the next one
 * clockwise.
 *
 * Why not `hono/proxy`: its `headers` option replaces the copied request headers (losing
 * its own hop-by-hop filtering), and it cannot resend a buffered body on a retry. This file
 * does the same header hygiene in one place, for both directions.
 *
 * @module
 */

import type { RoutingKey } from "../../ring/mod.ts";
import {
  Abort,
  concatBytes,
  type Deadline,
  Deadlines,
  errorMessage,
  type LogFields,
  type Logger,
  rootMessage,
  type Timer,
} from "../support/mod.ts";
import type { RouteTarget, TryOutcome } from "../cluster/mod.ts";
import type { RetryBudget } from "./retry_budget.ts";
import { failureBody, unknownEndpoint } from "../../contract/mod.ts";
import type { ProxyMetrics, RequestTracer } from "../metrics/mod.ts";
import {
  connectionTokens,
  HOP_BY_HOP,
  IDEMPOTENT,
  type Tunnel,
  type Upstream,
  UpstreamError,
  type UpstreamFailure,
  type UpstreamResponse,
} from "../upstream/mod.ts";

/** The proxy's limits and timeouts (part of {@linkcode ProxyConfig}). */
export interface ProxyLimits {
  /** A replica must start its answer within this, ms (then 504). */
  responseTimeoutMs: number;
  /** Request bodies up to this size are buffered so they can be resent to the next replica. */
  retryBodyBytes: number;
  /** Requests answered at once at most; more get a 503 with `Retry-After`. */
  maxInFlight: number;
  /** All tries of one request together get this long, ms (then 504). */
  requestDeadlineMs: number;
  /** A client that sends nothing of its request body for this long gets a 408, ms. */
  bodyTimeoutMs: number;
}

/** The settings of the proxy side: its limits, the retry budget and the routing key. */
export interface ProxyConfig extends ProxyLimits {
  /** Retries allowed per request over a 10 s window (0..1; 1 = no cap). */
  retryBudget: number;
  /** Query parameter with the routing key. */
  keyParam: string;
  /** Header with the routing key (lower case). */
  keyHeader: string;
}

/** Options of {@linkcode createProxy}. */
export interface ProxyOptions extends ProxyLimits {
  /** Replicas to try for a key, owner first. */
  route(key: RoutingKey, n: number): RouteTarget[];
  /** The routing key of a request, from its header fields and its query (`?…`, or ""). */
  keyOf(headers: readonly [string, string][], query: string): RoutingKey;
  /** Told every request's routing key and arrival time (the hot-key sketch); optional. */
  onKey?(key: RoutingKey, now: number): void;
  /** Logger for retries. */
  logger: Logger;
  /** Sends a request to a replica (the lean HTTP/1.1 client, or a `fetch`). */
  upstream: Upstream;
  /** Random source for retry jitter, in [0, 1). Default `Math.random`. */
  random?: () => number;
  /** Caps retries to a share of requests; none: every allowed retry is made. */
  budget?: RetryBudget;
  /** Counts requests, tries and retries; none: nothing is counted. */
  metrics?: ProxyMetrics;
  /** When given, one `access` line per request goes to it (info); none: no access log. */
  accessLog?: Logger;
  /** When given, a span per request (OpenTelemetry, opt-in); none: no spans. */
  tracer?: RequestTracer;
  /** Waits `ms` between tries, or less when `signal` aborts (it may take its hook). */
  delay?: (ms: number, signal: Abort) => Promise<void>;
}

/**
 * A request as the proxy takes it, whichever front read it off the wire (`Deno.serve`'s
 * `Request`, or the raw-socket front's parsed head): plain fields, nothing to construct.
 */
export interface ProxyRequest {
  /** Method, e.g. `GET`. */
  readonly method: string;
  /** Path and query as received (origin-form), e.g. `/home?id=1`. */
  readonly target: string;
  /** The client's header fields, names in lower case; hop-by-hop ones are dropped here. */
  readonly headers: [string, string][];
  /** The authority the client asked for (`Host`), if any. */
  readonly host: string | undefined;
  /** Whether it arrived over TLS (`X-Forwarded-Proto`). */
  readonly secure: boolean;
  /** The client's address (`X-Forwarded-For`), if known. */
  readonly client: string | undefined;
  /** The body: complete bytes, a stream, or none. */
  readonly body: Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array> | null;
  /** Aborted when the client has gone; the proxy holds its one hook while it forwards. */
  readonly signal: Abort;
  /**
   * The protocol the client asks to switch to (`Connection: upgrade` with this `Upgrade`), when
   * its front can tunnel the connection afterwards; the socket front can, `Deno.serve` cannot.
   */
  readonly upgrade?: string;
}

/** A tunnel the proxy hands to the front: relay bytes both ways, then call `ended()`. */
export interface ProxyTunnel extends Tunnel {
  /** Aborted when the replica is ejected: it may be dead without a reset, so close. */
  readonly ejected: AbortSignal;
  /** The tunnel has closed: its request is no longer in flight (drain, admission, loads). */
  ended(): void;
}

/** What the proxy answers: a replica's answer (with `Via` added), or one of its own errors. */
export interface ProxyAnswer extends UpstreamResponse {
  /** The replica that answered; none when the answer is the proxy's own. */
  replica?: string;
  /** After a `101` to an upgrade request: the replica's connection, to relay. */
  tunnel?: ProxyTunnel;
}

const ENCODER = new TextEncoder();

/** One of the proxy's own errors, in the spec's JSON shape. */
export function failureAnswer(
  status: number,
  detail: string,
  headers: [string, string][] = [],
): ProxyAnswer {
  return {
    status,
    statusText: "",
    headers: [["content-type", "application/json"], ...headers],
    body: ENCODER.encode(JSON.stringify(failureBody(detail))),
  };
}

/** Who this balancer is in `Via` (RFC 9110 §7.6.3). */
const VIA = "1.1 ringlb";

/**
 * Request fields a replica never gets from the client: hop-by-hop ones, `host` (sent as the
 * replica's), `content-length` (the transport frames the body), and the `x-forwarded-*` fields
 * this proxy sets itself.
 */
const NOT_FORWARDED: ReadonlySet<string> = new Set([
  ...HOP_BY_HOP,
  "host",
  "content-length",
  "x-forwarded-host",
  "x-forwarded-proto",
]);

/**
 * The header fields sent to a replica: the client's end-to-end ones, `X-Forwarded-For`
 * (appended to), `-Proto`, `-Host`, and `Via` (appended to). One pass; the client's field
 * arrays are passed on as they are (`ProxyRequest` names are lower case already).
 */
function forwardHeaders(request: ProxyRequest): [string, string][] {
  const { client, host } = request;
  let headers: [string, string][] = [];
  let forwardedFor: string | undefined;
  let via: string | undefined;
  let named: string[] | undefined; // what `Connection` names: hop-by-hop too
  for (const field of request.headers) {
    const name = field[0];
    if (name === "x-forwarded-for") {
      forwardedFor = forwardedFor === undefined ? field[1] : `${forwardedFor}, ${field[1]}`;
    } else if (name === "via") via = via === undefined ? field[1] : `${via}, ${field[1]}`;
    else if (name === "connection") (named ??= []).push(...connectionTokens(field[1]));
    else if (!NOT_FORWARDED.has(name)) headers.push(field);
  }
  if (named?.length) {
    headers = headers.filter(([name]) => !named.includes(name));
    if (named.includes("x-forwarded-for")) forwardedFor = undefined;
    if (named.includes("via")) via = undefined;
  }
  if (forwardedFor !== undefined) {
    headers.push(["x-forwarded-for", client ? `${forwardedFor}, ${client}` : forwardedFor]);
  } else if (client) headers.push(["x-forwarded-for", client]);
  headers.push(["x-forwarded-proto", request.secure ? "https" : "http"]);
  if (host) headers.push(["x-forwarded-host", host]);
  headers.push(["via", via === undefined ? VIA : `${via}, ${VIA}`]);
  return headers;
}

/**
 * A replica's answer as the client gets it, plus `Via`. Bytes are answered at once; a
 * streamed body may not stall longer than `idleMs`, and ends when its replica is ejected.
 */
function passThrough(
  res: UpstreamResponse,
  idleMs: number,
  replica: string,
  ejected: AbortSignal,
  onDone: () => void,
): ProxyAnswer {
  const { status, statusText, headers } = res;
  headers.push(["via", VIA]); // (after the replica's own Via, if any: the list grows)
  if (res.tunnel) {
    // In flight until the tunnel closes: a drain waits for it like for a streamed body.
    const tunnel = { ...res.tunnel, ejected, ended: onDone };
    return { status, statusText, headers, body: null, replica, tunnel };
  }
  if (!(res.body instanceof ReadableStream)) {
    onDone();
    return { status, statusText, headers, body: res.body, replica };
  }
  const what = `replica '${replica}'`;
  const body = withIdleTimeout(res.body, idleMs, what, { ejected, onDone });
  return { status, statusText, headers, body, replica };
}

/** The 504 for a request whose tries together ran past `--request-deadline`. */
function deadlineExceeded(path: string, deadlineMs: number, failures: string[]): ProxyAnswer {
  const tried = failures.length ? ` (${failures.join("; ")})` : "";
  return failureAnswer(
    504,
    `No answer for '${path}' within the request deadline of ${deadlineMs} ms${tried}`,
  );
}

/** The 503 for a request no replica is serving. */
function noReplica(path: string): ProxyAnswer {
  return failureAnswer(503, `No replica is available to serve '${path}'`, [["retry-after", "1"]]);
}

/** How a try failed, as far as retrying goes. */
interface TryFailure {
  /**
   * `refused` proves the request was not delivered; after any other failure (`ejected`: the
   * replica died while answering) the replica may have acted on it.
   */
  readonly kind: UpstreamFailure | "ejected" | "other";
  /** In a few words, for the 502's message and the log. */
  readonly text: string;
}

/** What each kind of failed try tells outlier detection. */
const OUTCOME_OF: Readonly<Record<TryFailure["kind"], TryOutcome>> = {
  refused: "connect_failure",
  connect: "connect_failure",
  reset: "reset",
  closed: "reset",
  ejected: "reset",
  protocol: "protocol_error",
  other: "protocol_error",
};

const FAILURE_TEXT: Readonly<Record<string, string>> = {
  refused: "connection refused",
  reset: "connection reset",
  closed: "connection closed",
};

/** What a failed try's error says about delivery (see {@linkcode TryFailure}). */
function classify(error: unknown): TryFailure {
  // Both transports say how they failed (`UpstreamError`); only the kind decides a retry, never
  // text a replica could have sent.
  if (error instanceof UpstreamError) {
    return { kind: error.kind, text: FAILURE_TEXT[error.kind] ?? error.message };
  }
  return { kind: "other", text: rootMessage(error) };
}

/**
 * Reads `stream` whole when it holds at most `limit` bytes, so it can be sent again.
 * A longer one comes back as a stream of the bytes read so far and then the rest: it
 * is forwarded once, never buffered whole.
 */
export async function bufferUpTo(
  stream: ReadableStream<Uint8Array>,
  limit: number,
): Promise<Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array>> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
    if (size > limit) {
      return new ReadableStream<Uint8Array>({
        start(controller) {
          for (const chunk of chunks) controller.enqueue(chunk);
        },
        async pull(controller) {
          const next = await reader.read();
          if (next.done) controller.close();
          else controller.enqueue(next.value);
        },
        cancel: (reason) => reader.cancel(reason),
      });
    }
  }
  return concatBytes(chunks);
}

/** A stream went idle too long (see {@linkcode withIdleTimeout}). */
export class IdleTimeoutError extends Error {
  /** @param message Who sent nothing for how long. */
  constructor(message: string) {
    super(message);
    this.name = "IdleTimeoutError";
  }
}

/** Options of {@linkcode withIdleTimeout}. */
export interface IdleTimeoutOptions {
  /** The stream also fails when this aborts (its replica ended). */
  ejected?: AbortSignal;
  /** Called once when the stream has ended, failed or been cancelled (whichever is first). */
  onDone?: () => void;
  /** Called when the idle timeout fires (fetch does not pass the error on as it is). */
  onIdle?: (error: IdleTimeoutError) => void;
}

/** What the metrics and the access log learn of a request while it is forwarded. */
interface Trace {
  /** Tries made. */
  tries: number;
  /** Its routing key, once known. */
  key: RoutingKey | undefined;
}

/** The fields of an `access` line. */
function accessFields(
  request: ProxyRequest,
  status: number,
  replica: string | undefined,
  key: RoutingKey | undefined,
  tries: number,
  seconds: number,
): LogFields {
  return {
    method: request.method,
    target: request.target,
    key: key === undefined ? undefined : String(key),
    replica: replica ?? "",
    status,
    tries,
    ms: Math.round(seconds * 1e6) / 1e3,
    client: request.client,
  };
}

/**
 * Most replicas one request is tried on: the owner and up to 4 fail-overs, in ring order.
 * Bounds the work per request however many replicas there are.
 */
export const MAX_TRIES = 5;

/** Backoff between tries: full jitter over this, doubling per try, … */
const RETRY_BACKOFF_MS = 10;
/** … up to this. */
const RETRY_BACKOFF_CAP_MS = 100;

/**
 * The pause before retry number `retry` (1 for the first), ms: exponential backoff with full
 * jitter, uniform in [0, min(100, 10 · 2^(retry − 1))), so that the retries of many requests
 * that failed together do not arrive together.
 */
export function retryBackoffMs(retry: number, random: () => number): number {
  return random() * Math.min(RETRY_BACKOFF_CAP_MS, RETRY_BACKOFF_MS * 2 ** (retry - 1));
}

/**
 * Passes `body` through, but fails it (and cancels the replica's side) when no chunk
 * arrives for `idleMs`, or when the replica is ejected: a replica that stalls or dies
 * mid-answer does not hold the client forever (a dead container sends no reset).
 */
export function withIdleTimeout(
  body: ReadableStream<Uint8Array>,
  idleMs: number,
  what: string,
  options: IdleTimeoutOptions = {},
): ReadableStream<Uint8Array> {
  const { ejected, onIdle } = options;
  const reader = body.getReader();
  let done = false;
  const onDone = () => {
    if (done) return;
    done = true;
    options.onDone?.();
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let timer: Timer | undefined;
      let onEjected: (() => void) | undefined;
      const idle = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => {
            const error = new IdleTimeoutError(`${what} sent nothing for ${idleMs} ms`);
            onIdle?.(error);
            reject(error);
          },
          idleMs,
        );
        if (!ejected) return;
        if (ejected.aborted) return reject(ejected.reason);
        onEjected = () => reject(ejected.reason);
        ejected.addEventListener("abort", onEjected);
      });
      try {
        const { done, value } = await Promise.race([reader.read(), idle]);
        if (done) {
          controller.close();
          onDone();
        } else controller.enqueue(value);
      } catch (error) {
        controller.error(error);
        reader.cancel(error).catch(() => {});
        onDone();
      } finally {
        clearTimeout(timer);
        if (onEjected) ejected!.removeEventListener("abort", onEjected);
      }
    },
    cancel: (reason) => {
      onDone();
      return reader.cancel(reason);
    },
  });
}

/** The default pause between tries: `ms`, or less when `signal` aborts (its hook is taken). */
function pauseUnlessAborted(ms: number, signal: Abort): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.onAbort(undefined);
      resolve();
    }, ms);
    signal.onAbort(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * Builds the proxy: it takes a {@linkcode ProxyRequest} and resolves with the answer to send
 * back. A streamed answer's body holds its admission slot and its replica until it has been
 * read to its end or cancelled.
 */
export function createProxy(
  options: ProxyOptions,
): (request: ProxyRequest) => Promise<ProxyAnswer> {
  const { upstream, logger, responseTimeoutMs, maxInFlight, budget, metrics, accessLog, tracer } =
    options;
  const random = options.random ?? Math.random;
  const pause = options.delay ?? pauseUnlessAborted;
  if (metrics) metrics.inFlight = () => inFlight;
  // Every try's response timeout, on one timer (not a `setTimeout` per try).
  const timeouts = new Deadlines();
  let inFlight = 0;

  // Admission: past `maxInFlight` requests being answered, new ones get a 503 at once
  // instead of queueing without bound.
  return async (request) => {
    if (inFlight >= maxInFlight) {
      if (metrics) {
        metrics.admissionRefused++;
        metrics.answered(undefined, request.method, 503, 0);
        metrics.tries.observe(0);
      }
      accessLog?.info("access", accessFields(request, 503, undefined, undefined, 0, 0));
      return failureAnswer(503, `Too many requests in flight (${maxInFlight}); retry later`, [
        ["retry-after", "1"],
      ]);
    }
    const started = performance.now();
    inFlight++;
    let finished = false;
    const finish = () => {
      // Once: a client that cancels while the answer waits for more ends it twice.
      if (finished) return;
      finished = true;
      inFlight--;
    };
    let streaming = false;
    const counted: Trace | undefined = metrics || accessLog || tracer
      ? { tries: 0, key: undefined }
      : undefined;
    const span = tracer?.start(request.method, request.target);
    try {
      const res = await forward(request, started, counted, () => {
        streaming = true;
        return finish;
      });
      if (counted) {
        const seconds = (performance.now() - started) / 1e3;
        if (metrics) {
          metrics.answered(res.replica, request.method, res.status, seconds);
          metrics.tries.observe(counted.tries);
        }
        accessLog?.info(
          "access",
          accessFields(request, res.status, res.replica, counted.key, counted.tries, seconds),
        );
        span?.end(
          res.status,
          res.replica,
          counted.tries,
          counted.key === undefined ? undefined : String(counted.key),
        );
      }
      return res;
    } finally {
      if (!streaming) finish();
    }
  };

  /**
   * Forwards one request that arrived at `started` (`performance.now()`); `stream()` is called
   * when a replica's answer is passed on; `counted.tries` follows the tries made.
   */
  async function forward(
    raw: ProxyRequest,
    started: number,
    counted: Trace | undefined,
    stream: () => () => void,
  ): Promise<ProxyAnswer> {
    budget?.request();
    const pathAndQuery = raw.target;
    const queryAt = pathAndQuery.indexOf("?");
    const path = queryAt < 0 ? pathAndQuery : pathAndQuery.slice(0, queryAt);
    const key = options.keyOf(raw.headers, queryAt < 0 ? "" : pathAndQuery.slice(queryAt));
    if (counted) counted.key = key;
    options.onKey?.(key, started);
    // The owner alone: most requests need no fail-over, and the ring is asked again for the
    // fail-overs when one does.
    let targets = options.route(key, 1);
    if (targets.length === 0) targets = options.route(key, MAX_TRIES); // (an owner not started)
    if (targets.length === 0) return noReplica(path);

    const deadline = started + options.requestDeadlineMs;
    // The clock as of now, while nothing has been awaited since `started` (one read of it).
    let fresh: number | undefined = started;
    let body: Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array> | null = null;
    let clientStalled: IdleTimeoutError | undefined;
    if (!(raw.body instanceof ReadableStream)) body = raw.body; // complete: the front read it
    else {
      const client = withIdleTimeout(raw.body, options.bodyTimeoutMs, "the client", {
        onIdle: (error) => clientStalled = error,
      });
      try {
        body = await bufferUpTo(client, options.retryBodyBytes);
      } catch (error) {
        return failureAnswer(408, `Request body: ${errorMessage(error)}`);
      }
      // Loads (bounded-load rings) and membership may have changed during the upload (no
      // replica left: the loop below answers 503).
      targets = options.route(key, 1);
      fresh = undefined;
    }
    // Held whole and within the limit: a front may have read a larger body whole, but only
    // bodies up to --retry-body-limit are ever sent twice.
    const resendable = !(body instanceof ReadableStream) &&
      (body === null || body.length <= options.retryBodyBytes);
    const idempotent = IDEMPOTENT.has(raw.method);
    const headers = forwardHeaders(raw);
    const failures: string[] = [];

    const tried: string[] = []; // (at most MAX_TRIES names: a list is cheaper than a Set)
    // Ejected since the route was chosen (say, during a slow upload): nothing was sent to it,
    // so it is skipped, not counted as a failure.
    const untried = (t: RouteTarget) => !tried.includes(t.name) && !t.ejected.aborted;
    let tries = 0;
    for (;;) {
      // A retry asks the ring again: a bounded-load ring may now prefer another replica. So
      // does a first try whose owner was ejected meanwhile.
      if (tries > 0 || !targets.some(untried)) targets = options.route(key, MAX_TRIES);
      const target = targets.find(untried);
      if (!target) break; // (a retry is only made while tries < MAX_TRIES: see `another`)
      tried.push(target.name);
      if (tries++ > 0) await pause(retryBackoffMs(tries - 1, random), raw.signal);
      if (counted) counted.tries = tries;
      if (raw.signal.aborted) return failureAnswer(499, "Client closed the request");
      // Each try gets the response timeout, but no more than what the deadline leaves.
      const now = fresh ?? performance.now();
      fresh = undefined;
      const tryMs = Math.min(responseTimeoutMs, deadline - now);
      if (tryMs <= 0) return deadlineExceeded(path, options.requestDeadlineMs, failures);
      // Ends the try early: the client left, the replica died, or it took too long. Which
      // it was is read from the state afterwards, never from the abort's reason.
      const attempt = new Abort();
      raw.signal.onAbort(() => attempt.abort());
      // A replica that dies while we wait will never answer: give up on it now.
      target.watch(attempt);
      target.enter(); // in flight until its answer has been passed on (`leave`)
      let passedOn = false;
      // The replica's time to answer runs from when the request is fully sent: a slow
      // upload is not the replica's fault.
      let timedOut = false;
      let settled = false; // the attempt is over: a late upload end must not start the clock
      let clock: Deadline | undefined;
      const startClock = (from = performance.now()) => {
        if (settled) return;
        clock = timeouts.add(from + tryMs, () => {
          timedOut = true;
          attempt.abort();
        });
      };
      let sending = body;
      if (sending instanceof ReadableStream) {
        sending = sending.pipeThrough(new TransformStream({ flush: () => startClock() }));
      } else startClock(now);
      try {
        const res = await upstream({
          origin: target.url,
          target: pathAndQuery,
          method: raw.method,
          headers,
          body: sending,
          signal: attempt,
          upgrade: raw.upgrade,
        });
        if (clock) timeouts.delete(clock);
        target.report(res.status < 500 ? "success" : "http_5xx");
        if (target.timed) {
          const answeredAt = performance.now();
          target.answered(answeredAt - now, answeredAt);
        }
        if (res.status === 404) {
          if (res.body instanceof ReadableStream) await res.body.cancel();
          return { ...failureAnswer(400, unknownEndpoint(path)), replica: target.name };
        }
        // The answer counts as passed on (and its replica as busy) until its body has been
        // sent or given up; `finish` (admission) exists only once the answer does.
        let finish: (() => void) | undefined = undefined;
        let ended = false;
        const answer = passThrough(res, responseTimeoutMs, target.name, target.ejected, () => {
          target.leave();
          if (finish) finish();
          else ended = true;
        });
        passedOn = true;
        finish = stream();
        if (ended) finish();
        return answer;
      } catch (error) {
        if (raw.signal.aborted) return failureAnswer(499, "Client closed the request");
        // The client stopped sending its (streamed) body: not the replica's fault.
        if (clientStalled) return failureAnswer(408, `Request body: ${clientStalled.message}`);
        if (target.timed) {
          const failedAt = performance.now();
          target.failed(failedAt - now, failedAt);
        }
        if (timedOut) {
          // A try the deadline cut short says little about the replica: the deadline ran out.
          if (tryMs < responseTimeoutMs) {
            return deadlineExceeded(path, options.requestDeadlineMs, failures);
          }
          target.report("timeout");
          return failureAnswer(
            504,
            `Replica '${target.name}' did not answer '${path}' within ${responseTimeoutMs} ms`,
          );
        }
        const failure: TryFailure = target.ejected.aborted
          ? { kind: "ejected", text: "died while answering" }
          : classify(error);
        const reason = failure.text;
        target.report(OUTCOME_OF[failure.kind]);
        failures.push(`${target.name}: ${reason}`);
        // A refused connection proves nothing was sent; after any other failure the replica
        // may have acted on the request, so only an idempotent one is sent again.
        targets = options.route(key, MAX_TRIES);
        const another = tries < MAX_TRIES && targets.some(untried);
        let retry = another && resendable && (idempotent || failure.kind === "refused");
        if (retry && budget && !budget.tryRetry()) {
          retry = false;
          failures.push("retry budget spent");
          if (metrics) metrics.budgetExhausted++;
        }
        if (retry && metrics) metrics.retries++;
        logger.warn("proxy.replica_failed", { replica: target.name, path, reason, retry });
        if (!retry) break;
      } finally {
        if (metrics) metrics.trySeconds.observe((performance.now() - now) / 1e3);
        if (!passedOn) target.leave();
        settled = true;
        if (clock) timeouts.delete(clock);
        raw.signal.onAbort(undefined);
        target.unwatch(attempt);
      }
    }
    if (failures.length === 0) return noReplica(path); // every target was ejected meanwhile
    return failureAnswer(502, `No replica could answer '${path}' (${failures.join("; ")})`);
  }
}
