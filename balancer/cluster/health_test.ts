/**
 * The heartbeat rules against real servers on loopback: what counts as a failure, how many
 * in a row eject, the start-up phase, jitter, and that a watch ended is really ended.
 */

import assert from "node:assert/strict";
import { HealthMonitor, type HealthOptions, jittered } from "./health.ts";
import { CraftedReplica, recordingLogger, waitFor } from "../testing/mod.ts";

/** What a heartbeat server does with one heartbeat. */
type Beat = "ok" | "fail" | "stall";

/**
 * A heartbeat server on loopback: answers its heartbeats by `plan`, then by `then`; records
 * when each arrived. A stalled heartbeat is held until its client gives up.
 */
function heartbeatServer(plan: Beat[] = [], then: Beat = "ok") {
  const times: number[] = [];
  let abandoned = 0;
  const closing = new AbortController();
  const answering = { then };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const n = times.push(performance.now());
    const beat: Beat = plan[n - 1] ?? answering.then;
    if (beat === "stall") {
      await new Promise((resolve) => {
        req.signal.addEventListener("abort", resolve, { once: true });
        closing.signal.addEventListener("abort", resolve, { once: true });
      });
      abandoned++;
      return new Response(null, { status: 503 });
    }
    // With a body: the monitor must read or release it, or each heartbeat leaks a connection.
    return new Response(beat, { status: beat === "ok" ? 200 : 500 });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    times,
    /** Heartbeats received so far. */
    get beats() {
      return times.length;
    },
    /** Stalled heartbeats whose client gave up. */
    get abandoned() {
      return abandoned;
    },
    async close() {
      closing.abort();
      await server.shutdown();
    },
    [Symbol.asyncDispose]() {
      return this.close();
    },
  };
}

/** Callbacks that count what they are told. */
function watcher() {
  const seen = { up: 0, down: [] as string[] };
  return { seen, callbacks: { onUp: () => seen.up++, onDown: (r: string) => seen.down.push(r) } };
}

function monitor(options: Partial<HealthOptions> = {}) {
  const { logger, records } = recordingLogger();
  const health = new HealthMonitor({
    intervalMs: 20,
    timeoutMs: 200,
    failThreshold: 2,
    logger,
    random: () => 0.5,
    ...options,
  });
  return { health, records, [Symbol.dispose]: () => health.close() };
}

Deno.test("health: one failed heartbeat between good ones never ejects; a good one resets the count", async () => {
  await using server = heartbeatServer(["ok", "fail", "ok", "fail", "ok", "fail", "ok"]);
  using m = monitor();
  const w = watcher();
  m.health.watch("a", server.url, w.callbacks);
  await waitFor(() => server.beats >= 9, "nine heartbeats");
  assert.equal(w.seen.up, 1);
  assert.deepEqual(w.seen.down, []);
});

Deno.test("health: failThreshold failures in a row eject, once, and polling stops", async () => {
  for (const threshold of [2, 3]) {
    await using server = heartbeatServer(["ok"], "fail");
    await using clock = heartbeatServer();
    using m = monitor({ failThreshold: threshold });
    const w = watcher();
    m.health.watch("a", server.url, w.callbacks);
    await waitFor(() => w.seen.down.length === 1, "ejected");
    assert.equal(server.beats, 1 + threshold, "after exactly threshold failures");
    assert.match(w.seen.down[0], new RegExp(`^${threshold} heartbeats failed, last: status 500`));
    // Another watch's heartbeats as a clock: five more intervals pass, with no heartbeat.
    m.health.watch("clock", clock.url, watcher().callbacks);
    await waitFor(() => clock.beats >= 6, "five intervals");
    assert.equal(server.beats, 1 + threshold, "no heartbeat after the ejection");
    assert.equal(w.seen.down.length, 1);
  }
});

Deno.test("health: a heartbeat not answered within the timeout counts as a failure", async () => {
  await using server = heartbeatServer(["ok"], "stall");
  using m = monitor({ timeoutMs: 50 });
  const w = watcher();
  m.health.watch("a", server.url, w.callbacks);
  await waitFor(() => w.seen.down.length === 1, "ejected after two timeouts");
  assert.match(w.seen.down[0], /no answer within 50 ms$/);
  assert.equal(server.beats, 3);
});

Deno.test("health: a refused connection counts as a failure", async () => {
  const server = heartbeatServer();
  using m = monitor();
  const w = watcher();
  m.health.watch("a", server.url, w.callbacks);
  await waitFor(() => w.seen.up === 1, "up");
  await server.close();
  await waitFor(() => w.seen.down.length === 1, "ejected once nothing listens");
  assert.doesNotMatch(w.seen.down[0], /no answer within/, "said as a refusal, not a timeout");
});

Deno.test("health: a heartbeat answered without a body (204) is a good one", async () => {
  await using replica = await CraftedReplica.start("a", () => ({
    send: "HTTP/1.1 204 No Content\r\n\r\n",
  }));
  using m = monitor({ failThreshold: 1 });
  const w = watcher();
  m.health.watch("a", replica.url, w.callbacks);
  await waitFor(() => replica.received.length >= 4, "four heartbeats");
  assert.equal(w.seen.up, 1);
  assert.deepEqual(w.seen.down, []);
});

Deno.test("health: before the first good heartbeat failures do not count and polling is fast", async () => {
  // A minute between the heartbeats of a healthy replica: only the start-up polling (every
  // 50 ms) can see this one come up within the wait.
  await using server = heartbeatServer(["fail", "fail", "fail", "stall"], "ok");
  using m = monitor({ intervalMs: 60_000, timeoutMs: 100 });
  const w = watcher();
  m.health.watch("a", server.url, w.callbacks);
  await waitFor(() => w.seen.up === 1, "up after four failures", 5_000);
  assert.deepEqual(w.seen.down, []);
  assert.equal(server.beats, 5);
  // … every 50 ms by default (timers never fire early; the stalled one took 100 ms).
  const gaps = server.times.slice(1).map((t, i) => t - server.times[i]);
  assert.ok(Math.min(...gaps) >= 50 - 2, `gaps ${gaps.map(Math.round)} ms, none under 50`);
});

Deno.test("health: downIntervalMs paces the polling of a replica not up yet", async () => {
  await using server = heartbeatServer([], "fail");
  using m = monitor({ intervalMs: 1_000 });
  m.health.watch("a", server.url, watcher().callbacks, { downIntervalMs: 100 });
  await waitFor(() => server.beats >= 4, "four heartbeats");
  const gaps = server.times.slice(1).map((t, i) => t - server.times[i]);
  assert.ok(Math.min(...gaps) >= 100 - 2, `gaps ${gaps.map(Math.round)} ms, none under 100`);
});

Deno.test("health: the interval between heartbeats of a healthy replica is jittered ±10 %", async () => {
  assert.equal(jittered(500, () => 0), 450);
  assert.equal(jittered(500, () => 0.5), 500);
  assert.equal(jittered(500, () => 1), 550);
  // Applied: with the random source at its top, every gap is at least 110 % of the interval
  // (timers never fire early; no upper bound is asserted).
  await using server = heartbeatServer();
  using m = monitor({ intervalMs: 50, random: () => 1 });
  m.health.watch("a", server.url, watcher().callbacks);
  await waitFor(() => server.beats >= 5, "five heartbeats");
  const gaps = server.times.slice(1).map((t, i) => t - server.times[i]);
  assert.ok(Math.min(...gaps) >= 55 - 2, `gaps ${gaps.map(Math.round)} ms, none under 55`);
});

Deno.test("health: unwatch ends a watch; an answer in flight then is ignored", async () => {
  await using server = heartbeatServer(["ok"], "stall");
  using m = monitor({ failThreshold: 1, timeoutMs: 60_000 });
  const w = watcher();
  m.health.watch("a", server.url, w.callbacks);
  await waitFor(() => server.beats === 2, "the second heartbeat is in flight");
  m.health.unwatch("a");
  await waitFor(() => server.abandoned === 1, "the heartbeat in flight was abandoned");
  assert.equal(w.seen.up, 1);
  assert.deepEqual(w.seen.down, [], "its failure is not reported");
});

Deno.test("health: watching a name again replaces its watch; close() ends every watch", async () => {
  await using first = heartbeatServer();
  await using second = heartbeatServer();
  await using clock = heartbeatServer();
  using m = monitor();
  const w1 = watcher();
  const w2 = watcher();
  m.health.watch("a", first.url, w1.callbacks);
  await waitFor(() => w1.seen.up === 1, "the first watch is up");
  m.health.watch("a", second.url, w2.callbacks);
  const before = first.beats;
  await waitFor(() => second.beats >= 5, "the second watch polls");
  assert.equal(first.beats, before, "the first server is polled no more");
  assert.equal(w2.seen.up, 1);

  m.health.close();
  const after = second.beats;
  m.health.watch("b", first.url, watcher().callbacks); // ignored once closed
  using other = monitor();
  other.health.watch("clock", clock.url, watcher().callbacks);
  await waitFor(() => clock.beats >= 5, "five intervals");
  assert.equal(second.beats, after, "closed: no more heartbeats");
  assert.equal(first.beats, before, "a watch after close() does nothing");
});

Deno.test("health: a callback that throws is logged, and polling goes on", async () => {
  await using server = heartbeatServer();
  using m = monitor();
  m.health.watch("a", server.url, {
    onUp() {
      throw new Error("boom");
    },
    onDown() {},
  });
  await waitFor(
    () =>
      m.records.some((r) => r.event === "heartbeat.callback_failed" && r.fields.reason === "boom"),
    "the failure is logged",
  );
  const beats = server.beats;
  await waitFor(() => server.beats >= beats + 3, "heartbeats go on");
});

Deno.test("health: each heartbeat's answer is released, so heartbeats reuse one connection", async () => {
  await using replica = await CraftedReplica.start("a", () => ({
    send: `HTTP/1.1 200 OK\r\ncontent-length: 20000\r\n\r\n${"x".repeat(20_000)}`,
  }));
  using m = monitor();
  m.health.watch("a", replica.url, watcher().callbacks);
  await waitFor(() => replica.received.length >= 6, "six heartbeats");
  assert.equal(replica.connections, 1, "an unread answer would hold its connection");
});
