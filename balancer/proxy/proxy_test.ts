import assert from "node:assert/strict";
import { endToEnd, Http1Client, UpstreamError } from "../upstream/mod.ts";
import { Abort, silentLogger } from "../support/mod.ts";
import {
  bufferUpTo,
  createProxy,
  IdleTimeoutError,
  type ProxyAnswer,
  type ProxyOptions,
  type ProxyRequest,
  retryBackoffMs,
  withIdleTimeout,
} from "./proxy.ts";
import { proxyRequestOf, responseOf } from "./web.ts";
import { ProxyMetrics } from "../metrics/mod.ts";
import { type CraftedAction, CraftedReplica, recordingLogger, waitFor } from "../testing/mod.ts";
import type { RouteTarget, TryOutcome } from "../cluster/mod.ts";

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

Deno.test("bufferUpTo: cancelling the long body's stream cancels the client's", async () => {
  let cancelled: unknown;
  const source = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new Uint8Array(8));
      controller.enqueue(new Uint8Array(8));
    },
    cancel(reason) {
      cancelled = reason;
    },
  });
  const body = await bufferUpTo(source, 10);
  assert.ok(body instanceof ReadableStream);
  await body.cancel("replica gone");
  assert.equal(cancelled, "replica gone");
});

Deno.test("withIdleTimeout: the idle timer ends with the read it guards", async () => {
  let idled = 0;
  const body = withIdleTimeout(streamOf("a", "b"), 50, "x", { onIdle: () => idled++ });
  assert.equal(await new Response(body).text(), "ab");
  const read = performance.now();
  await waitFor(() => performance.now() - read > 200, "four idle timeouts' time", 5_000, 20);
  assert.equal(idled, 0, "no timer of a finished read fired");
});

Deno.test("withIdleTimeout: a stall fails the stream with an IdleTimeoutError saying who", async () => {
  let idled: unknown;
  const stalled = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode("first"));
    },
  });
  const body = withIdleTimeout(stalled, 50, "replica 'a'", { onIdle: (e) => idled = e });
  const reader = body.getReader();
  await reader.read();
  await assert.rejects(
    reader.read(),
    (e: unknown) =>
      e instanceof IdleTimeoutError && e.name === "IdleTimeoutError" && e === idled &&
      e.message === "replica 'a' sent nothing for 50 ms",
  );
});

Deno.test("endToEnd drops hop-by-hop fields and those Connection names", () => {
  const kept = endToEnd(
    new Headers({
      connection: "close, x-a, not a token",
      "x-a": "1",
      "keep-alive": "5",
      "transfer-encoding": "chunked",
      upgrade: "websocket",
      "x-b": "2",
    }),
  );
  assert.deepEqual(kept, [["x-b", "2"]]);
});

/**
 * The proxy as `Deno.serve` runs it: a `Request` in, a `Response` out (`web.ts`), so the tests
 * read answers as a client would.
 */
function servedBy(
  proxy: (request: ProxyRequest) => Promise<ProxyAnswer>,
): (request: Request, client?: string) => Promise<Response> {
  return async (request, client) => responseOf(await proxy(proxyRequestOf(request, client)));
}

/** A proxy with one replica; `upstream` and the route's name/URL as given. */
function proxyTo(url: string, extra: Partial<ProxyOptions> = {}, outcomes: TryOutcome[] = []) {
  const client = new Http1Client();
  const replica = new TestTarget("u", url, outcomes);
  const proxy = createProxy({
    route: () => [replica],
    keyOf: () => 1,
    responseTimeoutMs: 5_000,
    retryBodyBytes: 1024,
    logger: silentLogger,
    maxInFlight: 10,
    requestDeadlineMs: 10_000,
    bodyTimeoutMs: 100,
    upstream: client.upstream,
    ...extra,
  });
  return { proxy: servedBy(proxy), close: () => client.close() };
}

Deno.test("headers: X-Forwarded-* and Via set, hop-by-hop dropped, encodings passed as they are", async () => {
  const gzipped = new Uint8Array(
    await new Response(
      ReadableStream.from([new TextEncoder().encode("zipped")]).pipeThrough(
        new CompressionStream("gzip"),
      ),
    ).arrayBuffer(),
  );
  const replica = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) =>
      new Response(gzipped, {
        headers: {
          "x-seen": JSON.stringify(Object.fromEntries(req.headers)),
          "content-encoding": "gzip",
          "keep-alive": "timeout=5",
          via: "1.1 replica",
        },
      }),
  );
  const { proxy, close } = proxyTo(`http://127.0.0.1:${replica.addr.port}`);
  try {
    const res = await proxy(
      new Request("http://lb.example:5000/home?id=7", {
        headers: {
          "x-forwarded-for": "10.0.0.1",
          connection: "keep-alive, x-secret",
          "x-secret": "hop",
          te: "trailers",
          "x-keep": "yes",
        },
      }),
      "127.0.0.9",
    );
    const seen = JSON.parse(res.headers.get("x-seen")!);
    assert.equal(seen["x-forwarded-for"], "10.0.0.1, 127.0.0.9");
    assert.equal(seen["x-forwarded-proto"], "http");
    assert.equal(seen["x-forwarded-host"], "lb.example:5000");
    assert.equal(seen["via"], "1.1 ringlb");
    assert.equal(seen["x-keep"], "yes");
    for (const gone of ["x-secret", "te", "connection"]) assert.equal(seen[gone], undefined, gone);
    assert.equal(res.headers.get("via"), "1.1 replica, 1.1 ringlb");
    assert.equal(res.headers.get("keep-alive"), null);
    assert.equal(res.headers.get("content-encoding"), "gzip");
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), gzipped, "not decoded");
  } finally {
    close();
    await replica.shutdown();
  }
});

Deno.test("a client stalling mid-upload (streamed body) gets a 408, and the replica is not blamed", async () => {
  // The replica reads the upload; it never ends (the proxy gives up on the client first).
  await using upstream = await CraftedReplica.start("u");
  const outcomes: TryOutcome[] = [];
  const { proxy, close } = proxyTo(upstream.url, {}, outcomes);
  const stalled = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new Uint8Array(4096)); // more than retryBodyBytes: streamed
    },
  });
  try {
    const res = await proxy(
      new Request("http://lb/up", { method: "POST", body: stalled, duplex: "half" } as RequestInit),
    );
    assert.equal(res.status, 408);
    assert.equal(
      (await res.json()).message,
      "<Error> Request body: the client sent nothing for 100 ms",
    );
    assert.deepEqual(outcomes, [], "no failure reported against the replica");
  } finally {
    close();
  }
});

Deno.test("X-Forwarded-Host and -Proto from the client are replaced, not trusted", async () => {
  const replica = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) =>
      Response.json({
        host: req.headers.get("x-forwarded-host"),
        proto: req.headers.get("x-forwarded-proto"),
      }),
  );
  const { proxy, close } = proxyTo(`http://127.0.0.1:${replica.addr.port}`);
  try {
    const res = await proxy(
      new Request("http://lb.example/home", {
        headers: { "x-forwarded-host": "evil.example", "x-forwarded-proto": "https" },
      }),
    );
    assert.deepEqual(await res.json(), { host: "lb.example", proto: "http" });
  } finally {
    close();
    await replica.shutdown();
  }
});

Deno.test("a 205 passes; a malformed answer is a 502 that frees its slot", async () => {
  // 205 with a length (bodiless: fine), then a header no Response can carry.
  await using replica = await CraftedReplica.start("u", ({ connection }) => ({
    send: connection === 1
      ? "HTTP/1.1 205 Reset Content\r\ncontent-length: 0\r\n\r\n"
      : "HTTP/1.1 200 OK\r\nx-bad: a\u0001b\r\ncontent-length: 2\r\n\r\nok",
    close: true,
  }));
  const outcomes: TryOutcome[] = [];
  const { proxy, close } = proxyTo(replica.url, { maxInFlight: 1 }, outcomes);
  try {
    const reset = await proxy(new Request("http://lb/home"));
    assert.equal(reset.status, 205);
    assert.equal(await reset.text(), "");
    const bad = await proxy(new Request("http://lb/home"));
    assert.equal(bad.status, 502);
    assert.match((await bad.json()).message, /u: malformed header line: x-bad/);
    assert.equal(replica.received.length, 2);
    assert.deepEqual(
      outcomes,
      ["success", "protocol_error"],
      "the malformed answer counts against the replica",
    );
    // maxInFlight is 1: a leaked slot would turn this into a 503.
    const after = await proxy(new Request("http://lb/home"));
    assert.notEqual(after.status, 503);
    await after.body?.cancel();
  } finally {
    close();
  }
});

/**
 * A replica the proxy can route to, long-lived as the real one (`Replica`): its try outcomes
 * recorded, its ejection at hand, and its requests in flight counted.
 */
class TestTarget implements RouteTarget {
  /** Aborting it ejects the replica. */
  readonly eject = new AbortController();
  /** Requests counted in flight to it now (`enter()` minus `leave()`; never below 0). */
  inFlight = 0;
  /** The tries watching for its end now. */
  readonly watched = new Set<Abort>();

  constructor(
    readonly name: string,
    readonly url: string,
    readonly outcomes: TryOutcome[] = [],
  ) {
    // As a replica does: its end aborts the tries in flight to it.
    this.eject.signal.addEventListener("abort", () => {
      for (const attempt of this.watched) attempt.abort(this.eject.signal.reason);
    });
  }

  get ejected(): AbortSignal {
    return this.eject.signal;
  }

  watch(attempt: Abort): void {
    if (this.eject.signal.aborted) attempt.abort(this.eject.signal.reason);
    else this.watched.add(attempt);
  }

  unwatch(attempt: Abort): void {
    this.watched.delete(attempt);
  }

  enter(): void {
    this.inFlight++;
  }

  leave(): void {
    this.inFlight--;
  }

  report(outcome: TryOutcome): void {
    this.outcomes.push(outcome);
  }

  /** Answer times the proxy reported, ms (when `timed`). */
  readonly latencies: number[] = [];
  timed = false;

  answered(latencyMs: number): void {
    this.latencies.push(latencyMs);
  }

  failed(elapsedMs: number): void {
    this.latencies.push(-elapsedMs);
  }
}

/**
 * A proxy over the real HTTP/1.1 client whose every key is routed to `targets`, in this
 * order (or to what `targets()` says each time the ring is asked). The route ignores `n` (a
 * bounded-load ring asked again may offer new replicas), so the proxy's own limit on tries
 * is what is tested.
 */
function proxyOver(
  targets: TestTarget[] | (() => TestTarget[]),
  extra: Partial<ProxyOptions> = {},
) {
  const client = new Http1Client();
  const proxy = createProxy({
    route: () => typeof targets === "function" ? targets() : targets,
    keyOf: () => 1,
    responseTimeoutMs: 5_000,
    retryBodyBytes: 1024,
    logger: silentLogger,
    maxInFlight: 10,
    requestDeadlineMs: 30_000,
    bodyTimeoutMs: 5_000,
    upstream: client.upstream,
    random: () => 0,
    ...extra,
  });
  return { proxy: servedBy(proxy), raw: proxy, [Symbol.dispose]: () => client.close() };
}

function target(name: string, url: string): TestTarget {
  return new TestTarget(name, url);
}

/** The URL of a loopback port nothing listens on: connections are refused. */
function refusingUrl(): string {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  listener.close();
  return `http://127.0.0.1:${listener.addr.port}`;
}

const request = (method: string, body?: string, signal?: AbortSignal) =>
  new Request("http://lb/home?id=1", { method, body, signal });

const SMTP = { send: "SMTP ready\r\n\r\n", close: true };
/** Garbage whose words say "refused": a retry decided on words would resend the POST. */
const LYING = { send: "HTTP/1.1 200 OK\r\nconnection refused\r\n\r\n", close: true };

/**
 * [what the first replica does, method, whether the request may be sent to the second].
 * Only a refused connection proves the request was not delivered; after a reset, a close or
 * garbage it may have been acted on, so only idempotent methods go to the next replica.
 */
const RETRY_RULES: [CraftedAction | "refused", string, boolean][] = [
  ["refused", "GET", true],
  ["refused", "POST", true],
  ["refused", "PATCH", true],
  ["reset", "GET", true],
  ["reset", "POST", false],
  ["close", "GET", true],
  ["close", "POST", false],
  [SMTP, "GET", true],
  [SMTP, "POST", false],
  [LYING, "POST", false],
  ["reset", "HEAD", true],
  ["reset", "OPTIONS", true],
  ["reset", "PUT", true],
  ["reset", "DELETE", true],
  ["reset", "PATCH", false],
  ["close", "PATCH", false],
];

/** How outlier detection is told of each failure. */
const OUTCOMES = new Map<unknown, TryOutcome>([
  ["refused", "connect_failure"],
  ["reset", "reset"],
  ["close", "reset"],
  [SMTP, "protocol_error"],
  [LYING, "protocol_error"],
]);

/** How the 502 names each failure. */
const FAILURE_WORDS = new Map<unknown, string>([
  ["reset", "connection reset"],
  ["close", "connection closed"],
  [SMTP, "malformed status line: SMTP ready"],
  [LYING, "malformed header line: connection refused"],
]);

Deno.test("retries: a request goes to the next replica only when it cannot have been acted on twice", async () => {
  for (const [action, method, retried] of RETRY_RULES) {
    const what = `${method} after ${JSON.stringify(action)}`;
    await using first = await CraftedReplica.start("a", () => action === "refused" ? "ok" : action);
    await using second = await CraftedReplica.start("b");
    const a = target("a", action === "refused" ? refusingUrl() : first.url);
    const b = target("b", second.url);
    using p = proxyOver([a, b]);
    const body = method === "GET" || method === "HEAD" ? undefined : "payload";
    const res = await p.proxy(request(method, body));
    assert.equal(res.status, retried ? 200 : 502, what);
    if (retried) await res.body?.cancel();
    else {
      assert.equal(
        (await res.json()).message,
        `<Error> No replica could answer '/home' (a: ${FAILURE_WORDS.get(action)})`,
        what,
      );
    }
    assert.equal(first.received.length, action === "refused" ? 0 : 1, `${what}: tries on a`);
    assert.equal(second.received.length, retried ? 1 : 0, `${what}: tries on b`);
    if (retried && body) assert.deepEqual(second.bodies, [body], `${what}: the body, intact`);
    assert.deepEqual(a.outcomes, [OUTCOMES.get(action)], `${what}: a's failure is reported`);
    assert.deepEqual(b.outcomes, retried ? ["success"] : [], `${what}: b's success is reported`);
    assert.deepEqual([a.inFlight, b.inFlight], [0, 0], `${what}: every enter() was left once`);
  }
});

Deno.test("retries: a body too large to buffer is streamed once and never resent, even after a refusal", async () => {
  await using second = await CraftedReplica.start("b");
  const a = target("a", refusingUrl());
  const b = target("b", second.url);
  using p = proxyOver([a, b], { retryBodyBytes: 16 });
  const res = await p.proxy(request("PUT", "x".repeat(4096)));
  await res.body?.cancel();
  assert.equal(res.status, 502);
  assert.equal(second.received.length, 0);
});

Deno.test("retries: at most 5 replicas are tried for one request, however many there are", async () => {
  const replicas = await Promise.all(
    Array.from({ length: 7 }, (_, i) => CraftedReplica.start(`r${i}`, () => "close")),
  );
  try {
    const targets = replicas.map((r) => target(r.name, r.url));
    using p = proxyOver(targets);
    const res = await p.proxy(request("GET"));
    assert.equal(res.status, 502);
    assert.equal(
      (await res.json()).message,
      "<Error> No replica could answer '/home' (r0: connection closed; r1: connection closed; " +
        "r2: connection closed; r3: connection closed; r4: connection closed)",
    );
    assert.deepEqual(replicas.map((r) => r.received.length), [1, 1, 1, 1, 1, 0, 0]);
  } finally {
    await Promise.all(replicas.map((r) => r.close()));
  }
});

Deno.test("retries: a timeout, a 5xx and a 404 are answered at once, not retried", async () => {
  for (
    const [action, status, outcome] of [
      ["stall", 504, "timeout"],
      [{ send: "HTTP/1.1 503 Busy\r\ncontent-length: 0\r\n\r\n" }, 503, "http_5xx"],
      [{ send: "HTTP/1.1 500 Oops\r\ncontent-length: 0\r\n\r\n" }, 500, "http_5xx"],
      [{ send: "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n" }, 400, "success"],
    ] as const
  ) {
    await using first = await CraftedReplica.start("a", () => action);
    await using second = await CraftedReplica.start("b");
    const a = target("a", first.url);
    const b = target("b", second.url);
    using p = proxyOver([a, b], { responseTimeoutMs: 100 });
    const res = await p.proxy(request("GET"));
    await res.body?.cancel();
    assert.equal(res.status, status, JSON.stringify(action));
    assert.equal(second.received.length, 0, JSON.stringify(action));
    // A 404 is an answer, not a failure of the replica.
    assert.deepEqual(a.outcomes, [outcome], JSON.stringify(action));
  }
});

Deno.test("retries: backoff with full jitter between tries, from retryBackoffMs", async () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6].map((retry) => retryBackoffMs(retry, () => 1)),
    [10, 20, 40, 80, 100, 100],
  );
  assert.deepEqual([1, 3, 5].map((retry) => retryBackoffMs(retry, () => 0.5)), [5, 20, 50]);
  assert.equal(retryBackoffMs(4, () => 0), 0);

  // Through the proxy: one pause per retry, as long as retryBackoffMs says; and with the
  // default timer the pauses really happen (timers never fire early, so 10 + 20 + 40 + 80 ms
  // is a floor; no upper bound is asserted).
  const replicas = await Promise.all([
    ...Array.from({ length: 4 }, (_, i) => CraftedReplica.start(`r${i}`, () => "close")),
    CraftedReplica.start("ok"),
  ]);
  try {
    const pauses: number[] = [];
    using recorded = proxyOver(replicas.map((r) => target(r.name, r.url)), {
      random: () => 0.5,
      delay: (ms) => (pauses.push(ms), Promise.resolve()),
    });
    assert.equal((await recorded.proxy(request("GET"))).status, 200);
    assert.deepEqual(pauses, [5, 10, 20, 40]);
    for (const r of replicas) r.received.length = 0;
    let draws = 0;
    using p = proxyOver(replicas.map((r) => target(r.name, r.url)), {
      random: () => (draws++, 1),
    });
    const started = performance.now();
    const res = await p.proxy(request("GET"));
    assert.equal(res.status, 200);
    await res.body?.cancel();
    assert.equal(draws, 4, "one draw per retry");
    assert.ok(performance.now() - started >= 150 - 4, "the backoff pauses were waited");
  } finally {
    await Promise.all(replicas.map((r) => r.close()));
  }
});

Deno.test("deadline: a try cut short by --request-deadline is the deadline's 504, and not held against the replica", async () => {
  await using first = await CraftedReplica.start("a", () => "stall");
  const a = target("a", first.url);
  using p = proxyOver([a], { requestDeadlineMs: 100, responseTimeoutMs: 60_000 });
  const res = await p.proxy(request("GET"));
  assert.equal(res.status, 504);
  assert.equal(
    (await res.json()).message,
    "<Error> No answer for '/home' within the request deadline of 100 ms",
  );
  assert.deepEqual(a.outcomes, [], "the replica was not given its full time");
});

Deno.test("deadline: a try that used its whole --response-timeout is the replica's 504 and counts against it", async () => {
  await using first = await CraftedReplica.start("a", () => "stall");
  const a = target("a", first.url);
  using p = proxyOver([a], { requestDeadlineMs: 60_000, responseTimeoutMs: 100 });
  const res = await p.proxy(request("GET"));
  assert.equal(res.status, 504);
  assert.equal(
    (await res.json()).message,
    "<Error> Replica 'a' did not answer '/home' within 100 ms",
  );
  assert.deepEqual(a.outcomes, ["timeout"]);
});

Deno.test("deadline: no try starts once the deadline has passed during a backoff", async () => {
  await using second = await CraftedReplica.start("b");
  const a = target("a", refusingUrl());
  const b = target("b", second.url);
  // The first retry waits 10 ms (random 1); the deadline is 5 ms.
  using p = proxyOver([a, b], { requestDeadlineMs: 5, random: () => 1 });
  const res = await p.proxy(request("GET"));
  assert.equal(res.status, 504);
  assert.equal(
    (await res.json()).message,
    "<Error> No answer for '/home' within the request deadline of 5 ms (a: connection refused)",
  );
  assert.equal(second.received.length, 0);
});

Deno.test("ejection: a request waiting on a replica that is ejected is retried at once if idempotent, else 502", async () => {
  for (const [method, retried] of [["GET", true], ["POST", false]] as const) {
    await using first = await CraftedReplica.start("a", () => "stall");
    await using second = await CraftedReplica.start("b");
    const a = target("a", first.url);
    using p = proxyOver([a, target("b", second.url)], { responseTimeoutMs: 60_000 });
    const pending = p.proxy(request(method, method === "POST" ? "x" : undefined));
    await waitFor(() => first.received.length === 1, "the request reached a");
    a.eject.abort(new Error("replica 'a' ended: killed by SIGKILL"));
    const res = await pending;
    assert.equal(res.status, retried ? 200 : 502, method);
    if (!retried) assert.match((await res.json()).message, /a: died while answering/);
    else await res.body?.cancel();
    assert.equal(second.received.length, retried ? 1 : 0, method);
    assert.deepEqual(a.outcomes, ["reset"], `${method}: dying mid-answer counts as a reset`);
  }
});

Deno.test("outcomes: failures no crafted replica produces reach outlier detection typed too", async () => {
  for (
    const [error, outcome] of [
      [new UpstreamError("connect", "no route to host"), "connect_failure"],
      [new UpstreamError("closed", "connection closed mid-body"), "reset"],
      [new Error("a bug in a transport"), "protocol_error"],
    ] as const
  ) {
    const a = target("a", "http://127.0.0.1:1");
    using p = proxyOver([a], { upstream: () => Promise.reject(error) });
    const res = await p.proxy(request("GET"));
    assert.equal(res.status, 502, error.message);
    await res.body?.cancel();
    assert.deepEqual(a.outcomes, [outcome], error.message);
    assert.equal(a.inFlight, 0, error.message);
  }
});

Deno.test("ejection: an answer being streamed fails as soon as its replica is ejected", async () => {
  // A chunked answer whose first chunk arrives, then nothing: only the ejection can end it
  // (the response timeout is a minute).
  await using first = await CraftedReplica.start("a", () => ({
    send: "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n",
  }));
  const a = target("a", first.url);
  using p = proxyOver([a], { responseTimeoutMs: 60_000 });
  const res = await p.proxy(request("GET"));
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  assert.equal(new TextDecoder().decode((await reader.read()).value), "first");
  // The next read waits on the replica when it is ejected. (Response's own stream asks the
  // proxy's for more after a few microtasks: a zero-delay tick lets it get there.)
  const next = reader.read();
  await new Promise((resolve) => setTimeout(resolve, 0));
  const ended = new Error("replica 'a' ended: killed by SIGKILL");
  a.eject.abort(ended);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const gaveUp = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("the stream outlived its replica by 5 s")), 5_000);
  });
  await assert.rejects(Promise.race([next, gaveUp]), (e: unknown) => e === ended);
  clearTimeout(timer);
});

Deno.test("ejection: a streamed answer whose replica was ejected between reads fails at the next", async () => {
  await using first = await CraftedReplica.start("a", () => ({
    send: "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n",
  }));
  const a = target("a", first.url);
  using p = proxyOver([a], { responseTimeoutMs: 60_000 });
  const res = await p.proxy(request("GET"));
  const reader = res.body!.getReader();
  assert.equal(new TextDecoder().decode((await reader.read()).value), "first");
  const ended = new Error("replica 'a' ended: killed by SIGKILL");
  a.eject.abort(ended);
  await assert.rejects(reader.read(), (e: unknown) => e === ended);
});

Deno.test("client gone: a request it abandons is abandoned at the replica too, and not held against it", async () => {
  await using first = await CraftedReplica.start("a", () => "stall");
  const a = target("a", first.url);
  using p = proxyOver([a], { responseTimeoutMs: 60_000 });
  const client = new AbortController();
  const pending = p.proxy(request("GET", undefined, client.signal));
  await waitFor(() => first.received.length === 1, "the request reached a");
  client.abort();
  const res = await pending;
  assert.equal(res.status, 499);
  await res.body?.cancel();
  assert.deepEqual(a.outcomes, [], "the client's leaving is not the replica's failure");
  assert.equal(a.inFlight, 0);
});

Deno.test("client gone during a backoff: no further try is made", async () => {
  await using second = await CraftedReplica.start("b");
  const client = new AbortController();
  // The backoff draws its random number as it starts: the client leaves right then.
  using p = proxyOver([target("a", refusingUrl()), target("b", second.url)], {
    random: () => (client.abort(), 1),
  });
  const res = await p.proxy(request("GET", undefined, client.signal));
  assert.equal(res.status, 499);
  await res.body?.cancel();
  assert.equal(second.received.length, 0);
});

Deno.test("a replica ejected before its try is skipped, not counted as a failure; all ejected is a 503", async () => {
  await using first = await CraftedReplica.start("a");
  await using second = await CraftedReplica.start("b");
  const a = target("a", first.url);
  const b = target("b", second.url);
  a.eject.abort(new Error("gone"));
  using p = proxyOver([a, b]);
  const res = await p.proxy(request("GET"));
  assert.equal(res.status, 200);
  await res.body?.cancel();
  assert.equal(first.received.length, 0);
  assert.deepEqual(a.outcomes, []);
  b.eject.abort(new Error("gone too"));
  const none = await p.proxy(request("GET"));
  assert.equal(none.status, 503);
  assert.equal(
    (await none.json()).message,
    "<Error> No replica is available to serve '/home'",
  );
});

Deno.test("the response timeout starts once the upload is complete: a slow upload is not the replica's fault", async () => {
  await using replica = await CraftedReplica.start("a");
  const a = target("a", replica.url);
  using p = proxyOver([a], { responseTimeoutMs: 100, retryBodyBytes: 16 });
  // 6 chunks, 50 ms apart: the upload alone takes longer than the response timeout.
  let sent = 0;
  const upload = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (sent++ === 6) return controller.close();
      if (sent > 1) await new Promise((resolve) => setTimeout(resolve, 50));
      controller.enqueue(new TextEncoder().encode("x".repeat(32)));
    },
  });
  const res = await p.proxy(
    new Request("http://lb/up", { method: "PUT", body: upload, duplex: "half" } as RequestInit),
  );
  assert.equal(res.status, 200);
  await res.body?.cancel();
  assert.equal(replica.bodies[0].length, 6 * 32, "the whole body arrived");
  assert.deepEqual(a.outcomes, ["success"]);
});

Deno.test("a streamed answer holds its admission slot and its replica's count until it ends or is cancelled", async () => {
  const chunked = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n";
  await using replica = await CraftedReplica.start(
    "a",
    ({ target }) => target.startsWith("/end") ? { send: `${chunked}0\r\n\r\n` } : { send: chunked },
  );
  const a = target("a", replica.url);
  using p = proxyOver([a], { maxInFlight: 1, responseTimeoutMs: 60_000 });
  for (const how of ["cancelled", "read to its end"]) {
    const res = await p.proxy(new Request(`http://lb/${how === "cancelled" ? "stream" : "end"}`));
    assert.equal(res.status, 200);
    assert.equal(a.inFlight, 1, `${how}: in flight while its body is passed on`);
    const refused = await p.proxy(request("GET"));
    assert.equal(refused.status, 503, `${how}: the slot is taken`);
    await refused.body?.cancel();
    if (how === "cancelled") await res.body!.cancel();
    else assert.equal(await res.text(), "first");
    assert.equal(a.inFlight, 0, `${how}: released`);
    const next = await p.proxy(new Request("http://lb/end"));
    assert.equal(next.status, 200, `${how}: the slot is free again`);
    await next.text();
  }
});

Deno.test("deadline: the 504 names every failed try", async () => {
  // Pauses between tries: none before the second, 200 ms (past the 100 ms deadline) before the
  // third, so the deadline runs out after exactly two refused tries.
  const refused =
    () => [target("a", refusingUrl()), target("b", refusingUrl()), target("c", refusingUrl())];
  using p = proxyOver(refused(), {
    requestDeadlineMs: 100,
    random: (() => {
      let draws = 0;
      return () => (draws++ === 0 ? 0 : 1);
    })(),
    delay: (ms) => new Promise((resolve) => setTimeout(resolve, ms === 0 ? 0 : 200)),
  });
  const res = await p.proxy(request("GET"));
  assert.equal(res.status, 504);
  assert.equal(
    (await res.json()).message,
    "<Error> No answer for '/home' within the request deadline of 100 ms " +
      "(a: connection refused; b: connection refused)",
  );
});

Deno.test("headers on the wire: one X-Forwarded-For and one Via line, appended to; Proto from the URL", async () => {
  await using replica = await CraftedReplica.start("a");
  using p = proxyOver([target("a", replica.url)]);
  const field = (i: number, name: string) =>
    replica.heads[i].filter((line) => line.toLowerCase().startsWith(`${name}:`));
  await (await p.proxy(
    new Request("https://lb.example/home", {
      headers: { "x-forwarded-for": "10.0.0.1", via: "1.0 edge" },
    }),
    "127.0.0.9",
  )).body?.cancel();
  assert.deepEqual(field(0, "x-forwarded-for"), ["x-forwarded-for: 10.0.0.1, 127.0.0.9"]);
  assert.deepEqual(field(0, "via"), ["via: 1.0 edge, 1.1 ringlb"]);
  assert.deepEqual(field(0, "x-forwarded-proto"), ["x-forwarded-proto: https"]);
  assert.deepEqual(field(0, "x-forwarded-host"), ["x-forwarded-host: lb.example"]);
  // No client address and no X-Forwarded-For: none is made up; an empty Host is not passed.
  await (await p.proxy(new Request("http://lb/home", { headers: { host: "" } }))).body?.cancel();
  assert.deepEqual(field(1, "x-forwarded-for"), []);
  assert.deepEqual(field(1, "x-forwarded-host"), []);
  assert.deepEqual(field(1, "via"), ["via: 1.1 ringlb"]);
});

Deno.test("headers on the wire: repeated X-Forwarded-For and Via lines are joined in order; Connection can drop them", async () => {
  await using replica = await CraftedReplica.start("a");
  using p = proxyOver([target("a", replica.url)]);
  const field = (i: number, name: string) =>
    replica.heads[i].filter((line) => line.toLowerCase().startsWith(`${name}:`));
  // As the socket front passes them: one entry per field line, names in lower case.
  const send = async (headers: [string, string][]) => {
    const answer = await p.raw({
      method: "GET",
      target: "/home",
      headers,
      host: "lb",
      secure: false,
      client: "127.0.0.9",
      body: null,
      signal: new Abort(),
    });
    if (answer.body instanceof ReadableStream) await answer.body.cancel();
  };
  await send([
    ["x-forwarded-for", "10.0.0.1"],
    ["via", "1.0 a"],
    ["x-forwarded-for", "10.0.0.2"],
    ["via", "1.0 b"],
  ]);
  assert.deepEqual(field(0, "x-forwarded-for"), ["x-forwarded-for: 10.0.0.1, 10.0.0.2, 127.0.0.9"]);
  assert.deepEqual(field(0, "via"), ["via: 1.0 a, 1.0 b, 1.1 ringlb"]);
  // Fields the client's Connection names are hop-by-hop: not passed on, and not appended to.
  await send([
    ["connection", "x-forwarded-for, via, x-private"],
    ["x-forwarded-for", "10.0.0.1"],
    ["via", "1.0 a"],
    ["x-private", "1"],
    ["x-public", "2"],
  ]);
  assert.deepEqual(field(1, "x-forwarded-for"), ["x-forwarded-for: 127.0.0.9"]);
  assert.deepEqual(field(1, "via"), ["via: 1.1 ringlb"]);
  assert.deepEqual(field(1, "x-private"), []);
  assert.deepEqual(field(1, "x-public"), ["x-public: 2"]);
});

Deno.test("a POST without a body is sent with Content-Length: 0", async () => {
  await using replica = await CraftedReplica.start("a");
  using p = proxyOver([target("a", replica.url)]);
  const res = await p.proxy(request("POST"));
  assert.equal(res.status, 200);
  await res.body?.cancel();
  assert.ok(replica.heads[0].includes("content-length: 0"), replica.heads[0].join(" | "));
});

Deno.test("no replica left: a 503 at once, without waiting for the upload; or once it is in", async () => {
  using none = proxyOver([]);
  const stalled = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new Uint8Array(8));
    },
  });
  const res = await none.proxy(
    new Request("http://lb/up", { method: "POST", body: stalled, duplex: "half" } as RequestInit),
  );
  assert.equal(res.status, 503, "not a 408 after the body timeout");
  await res.body?.cancel();

  // The replicas went away during the upload: the ring is asked again once it is in.
  await using replica = await CraftedReplica.start("a");
  let asked = 0;
  using p = proxyOver(() => asked++ === 0 ? [target("a", replica.url)] : []);
  const gone = await p.proxy(request("PUT", "x"));
  assert.equal(gone.status, 503);
  await gone.body?.cancel();
  assert.equal(replica.received.length, 0);
});

Deno.test("a retry asks the ring again: it goes where the ring sends it now", async () => {
  await using first = await CraftedReplica.start("a", () => "close");
  await using second = await CraftedReplica.start("b");
  await using third = await CraftedReplica.start("c");
  const [a, b, c] = [target("a", first.url), target("b", second.url), target("c", third.url)];
  // The ring changes once a has been tried.
  using p = proxyOver(() => (first.received.length === 0 ? [a, b] : [a, c]));
  const res = await p.proxy(request("GET"));
  assert.equal(res.status, 200);
  await res.body?.cancel();
  assert.deepEqual([first, second, third].map((r) => r.received.length), [1, 0, 1]);
});

Deno.test("a 404 whose body is streamed: the spec's 400, and the replica's connection is let go", async () => {
  await using replica = await CraftedReplica.start("a", () => ({
    send: "HTTP/1.1 404 Not Found\r\ntransfer-encoding: chunked\r\n\r\n5\r\nnope!\r\n",
  }));
  using p = proxyOver([target("a", replica.url)]);
  const res = await p.proxy(request("GET"));
  assert.equal(res.status, 400);
  await res.body?.cancel();
  await waitFor(() => replica.closed === 1, "the connection is closed, not left hanging");
});

Deno.test("an answer that fails mid-stream frees its admission slot once", async () => {
  await using replica = await CraftedReplica.start(
    "a",
    ({ target }) =>
      target === "/stall" ? "stall" : {
        send: "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n",
        close: true,
      },
  );
  using p = proxyOver([target("a", replica.url)], { maxInFlight: 1, responseTimeoutMs: 60_000 });
  const res = await p.proxy(new Request("http://lb/broken"));
  const reader = res.body!.getReader();
  await assert.rejects(async () => {
    while (!(await reader.read()).done);
  });
  await reader.cancel().catch(() => {}); // a second end of the same answer
  await assertOneSlot(p.proxy, replica, "the failed answer freed its slot once, not twice");
});

Deno.test("no listener or watched try is left on a replica once its requests are done", async () => {
  // b resets every request (so each is retried on a); a answers in chunks (so its answer is
  // streamed through the idle timeout, which watches the ejection too).
  await using streaming = await CraftedReplica.start("a", () => ({
    send: "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
  }));
  await using failing = await CraftedReplica.start("b", () => "reset");
  const a = target("a", streaming.url);
  const b = target("b", failing.url);
  // Which listeners are on each signal now, by event type and function.
  const listeners = new Set<unknown>();
  for (const t of [a, b]) {
    const signal = t.eject.signal;
    const add = signal.addEventListener.bind(signal);
    const remove = signal.removeEventListener.bind(signal);
    signal.addEventListener = (...args: Parameters<typeof add>) => {
      listeners.add(`${t.name} ${args[0]}`).add(args[1]);
      add(...args);
    };
    signal.removeEventListener = (...args: Parameters<typeof remove>) => {
      if (args[0] === "abort") listeners.delete(args[1]);
      remove(...args);
    };
  }
  using p = proxyOver([b, a]);
  for (let i = 0; i < 3; i++) assert.equal(await (await p.proxy(request("GET"))).text(), "ok");
  const left = [...listeners].filter((l) => typeof l === "function");
  assert.equal(left.length, 0, "every abort listener added was removed");
  assert.deepEqual([a.watched.size, b.watched.size], [0, 0], "no try is still watched");
  // Only the streamed answer listened on a signal (a's); tries are watched in a set.
  assert.deepEqual([...listeners].filter((l) => typeof l === "string").sort(), ["a abort"]);
});

Deno.test("a client that cancels while the answer waits for more frees its slot once", async () => {
  await using replica = await CraftedReplica.start(
    "a",
    ({ target }) =>
      target === "/stall" ? "stall" : {
        send: "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n",
      },
  );
  using p = proxyOver([target("a", replica.url)], { maxInFlight: 1, responseTimeoutMs: 60_000 });
  const res = await p.proxy(new Request("http://lb/answer"));
  const reader = res.body!.getReader();
  await reader.read();
  const waiting = reader.read();
  await new Promise((resolve) => setTimeout(resolve, 0)); // (the proxy is waiting for more)
  await reader.cancel();
  await waiting.catch(() => {});
  await assertOneSlot(p.proxy, replica, "the cancelled answer freed its slot once, not twice");
});

/**
 * With `--max-in-flight 1`: a request to `/stall` takes the one slot, and the next is
 * refused (a slot freed twice would admit it). Closes `replica`.
 */
async function assertOneSlot(
  proxy: (request: Request) => Promise<Response>,
  replica: CraftedReplica,
  what: string,
): Promise<void> {
  const holding = proxy(new Request("http://lb/stall"));
  await waitFor(() => replica.count("GET /stall") === 1, "a request takes the one slot");
  const refused = await proxy(request("GET"));
  assert.equal(refused.status, 503, what);
  await refused.body?.cancel();
  await replica.close();
  await (await holding).body?.cancel();
}

Deno.test("the response timeout applies after a streamed upload too", async () => {
  await using replica = await CraftedReplica.start("a", () => "stall");
  using p = proxyOver([target("a", replica.url)], {
    responseTimeoutMs: 100,
    retryBodyBytes: 16,
    requestDeadlineMs: 60_000,
  });
  const res = await p.proxy(request("PUT", "x".repeat(64)));
  assert.equal(res.status, 504);
  assert.equal(
    (await res.json()).message,
    "<Error> Replica 'a' did not answer '/home' within 100 ms",
  );
});

Deno.test("metrics: a refused try then an answer count 2 tries, 1 retry, and the answer by its replica", async () => {
  await using replica = await CraftedReplica.start("b");
  const metrics = new ProxyMetrics();
  using p = proxyOver([target("a", refusingUrl()), target("b", replica.url)], { metrics });
  const res = await p.proxy(request("GET"));
  assert.equal(res.status, 200);
  await res.body?.cancel();
  assert.equal(metrics.retries, 1);
  assert.equal(metrics.trySeconds.count, 2);
  assert.deepEqual(metrics.tries.render("t").slice(1, 3), [
    't_bucket{le="1"} 0',
    't_bucket{le="2"} 1',
  ]);
  assert.deepEqual(metrics.renderAnswers("r"), ['r{replica="b",method="GET",code="2xx"} 1']);
  assert.equal(metrics.inFlight(), 0);
});

Deno.test("access log: one info line per request with its key, replica, status, tries and time", async () => {
  await using replica = await CraftedReplica.start("b");
  const { logger, records } = recordingLogger();
  using p = proxyOver([target("a", refusingUrl()), target("b", replica.url)], {
    accessLog: logger,
    keyOf: () => 424242,
  });
  const res = await p.proxy(new Request("http://lb/home?id=424242"), "127.0.0.9");
  await res.body?.cancel();
  const lines = records.filter((r) => r.event === "access");
  assert.equal(lines.length, 1);
  const { ms, ...fields } = lines[0].fields;
  assert.equal(lines[0].level, "info");
  assert.deepEqual(fields, {
    method: "GET",
    target: "/home?id=424242",
    key: "424242",
    replica: "b",
    status: 200,
    tries: 2,
    client: "127.0.0.9",
  });
  assert.ok(typeof ms === "number" && ms >= 0 && ms < 10_000);
});
