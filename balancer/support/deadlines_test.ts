import assert from "node:assert/strict";
import { type Deadline, Deadlines } from "./deadlines.ts";
import { waitFor } from "../testing/mod.ts";

/** Adds a deadline `afterMs` after `start` that records when it expired (ms after `start`). */
function add(
  deadlines: Deadlines,
  start: number,
  afterMs: number,
  log: [string, number][],
  name: string,
): Deadline {
  return deadlines.add(start + afterMs, () => log.push([name, performance.now() - start]));
}

Deno.test("deadlines: a deadline expires once, not before its time", async () => {
  const deadlines = new Deadlines();
  const start = performance.now();
  const log: [string, number][] = [];
  add(deadlines, start, 40, log, "a");
  await waitFor(() => log.length === 1, "a expired");
  assert.equal(log[0][0], "a");
  assert.ok(log[0][1] >= 39, `expired after ${log[0][1]} ms`); // (timers round to 1 ms)
  assert.equal(deadlines.size, 0);
  assert.equal(deadlines.armed, false, "nothing left: the timer is not re-armed");
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.equal(log.length, 1, "expired once");
});

Deno.test("deadlines: a deleted deadline never expires; a timer left armed keeps nobody waiting", async () => {
  const deadlines = new Deadlines();
  const start = performance.now();
  const log: [string, number][] = [];
  const a = add(deadlines, start, 30, log, "a");
  add(deadlines, start, 40, log, "b");
  deadlines.delete(a);
  await waitFor(() => log.length === 1, "b expired");
  assert.deepEqual(log.map(([name]) => name), ["b"]);
  const c = add(deadlines, performance.now(), 30, log, "c");
  assert.equal(deadlines.armed, true);
  deadlines.delete(c);
  assert.equal(deadlines.size, 0);
  // The timer stays armed (re-arming it for every request cost more than the request's
  // routing); it fires with nothing due and is not armed again.
  assert.equal(deadlines.armed, true);
  await waitFor(() => !deadlines.armed, "the timer fired with nothing due");
  assert.deepEqual(log.map(([name]) => name), ["b"]);
});

Deno.test("deadlines: adding and deleting later deadlines never re-arms the timer, even as the list empties", () => {
  let arms = 0;
  const original = globalThis.setTimeout;
  globalThis.setTimeout = ((handler: () => void, ms?: number) => {
    arms++;
    return original(handler, ms);
  }) as typeof setTimeout;
  try {
    const deadlines = new Deadlines();
    const now = performance.now();
    const log: [string, number][] = [];
    const long = add(deadlines, now, 60_000, log, "long");
    for (let i = 0; i < 100; i++) deadlines.delete(add(deadlines, now, 61_000, log, `r${i}`));
    // Nor when the list empties between two requests.
    deadlines.delete(long);
    for (let i = 0; i < 100; i++) deadlines.delete(add(deadlines, now, 61_000 + i, log, `s${i}`));
    assert.equal(arms, 1);
  } finally {
    globalThis.setTimeout = original;
  }
});

Deno.test("deadlines: one timer waits for a deadline, not a spin of zero-delay ones", async () => {
  const delays: number[] = [];
  const original = globalThis.setTimeout;
  globalThis.setTimeout = ((handler: () => void, ms?: number) => {
    delays.push(ms ?? 0);
    return original(handler, ms);
  }) as typeof setTimeout;
  try {
    const deadlines = new Deadlines();
    const log: [string, number][] = [];
    add(deadlines, performance.now(), 60, log, "a");
    await waitFor(() => log.length === 1, "a expired");
  } finally {
    globalThis.setTimeout = original;
  }
  // (waitFor's own pauses are 5 ms timers: only the others are the deadlines'.) A timer may
  // fire up to a millisecond before `performance.now()` reaches its time (timers keep whole
  // milliseconds): then one more is armed for the rest, under a millisecond. A spin arms dozens.
  const armed = delays.filter((ms) => ms !== 5);
  assert.ok(armed.length === 1 || (armed.length === 2 && armed[1] < 1), `timers armed: ${armed}`);
  assert.ok(armed[0] > 50, `armed for ${armed[0]} ms`);
});

Deno.test("deadlines: an earlier deadline added after a later one fires first, at its time", async () => {
  const deadlines = new Deadlines();
  const start = performance.now();
  const log: [string, number][] = [];
  add(deadlines, start, 300, log, "late");
  add(deadlines, start, 30, log, "early");
  await waitFor(() => log.length === 1, "the early one expired");
  assert.equal(log[0][0], "early");
  assert.ok(log[0][1] < 250, `the early one waited ${log[0][1]} ms`);
  await waitFor(() => log.length === 2, "the late one expired");
  assert.equal(log[1][0], "late");
  assert.ok(log[1][1] >= 299, `the late one expired after ${log[1][1]} ms`);
});

Deno.test("deadlines: many mixed deadlines each expire once, in order", async () => {
  const deadlines = new Deadlines();
  const start = performance.now();
  const log: [string, number][] = [];
  const afters = [50, 10, 30, 10, 70, 20, 60, 40];
  afters.forEach((ms, i) => add(deadlines, start, ms, log, `${ms}:${i}`));
  await waitFor(() => log.length === afters.length, "all expired");
  const order = log.map(([name]) => Number(name.split(":")[0]));
  assert.deepEqual(order, [...order].sort((x, y) => x - y));
  for (const [name, at] of log) assert.ok(at >= Number(name.split(":")[0]) - 1, `${name} at ${at}`);
});

Deno.test("deadlines: a deadline added by an expiring one is served too", async () => {
  const deadlines = new Deadlines();
  const start = performance.now();
  const log: [string, number][] = [];
  deadlines.add(start + 10, () => {
    log.push(["first", performance.now() - start]);
    add(deadlines, start, 40, log, "second");
  });
  await waitFor(() => log.length === 2, "both expired");
  assert.deepEqual(log.map(([name]) => name), ["first", "second"]);
});

Deno.test("deadlines: an expiring one may delete others, due or not; each is told at most once", async () => {
  const deadlines = new Deadlines();
  const start = performance.now();
  const log: [string, number][] = [];
  // All four due at the same fire: the first deletes the second (due) and the last (not due).
  // (The first one's expire runs at the fire, after `second` and `last` exist.)
  deadlines.add(start + 20, () => {
    log.push(["first", 0]);
    deadlines.delete(second);
    deadlines.delete(last);
    deadlines.delete(second); // (twice: nothing)
  });
  const second = add(deadlines, start, 20, log, "second");
  add(deadlines, start, 20, log, "third");
  const last = add(deadlines, start, 500, log, "last");
  await waitFor(() => log.length >= 2, "the due ones expired");
  assert.deepEqual(log.map(([name]) => name), ["first", "third"]);
  assert.equal(deadlines.size, 0);
  deadlines.delete(last); // (already deleted: nothing)
  assert.equal(deadlines.size, 0);
});

Deno.test("deadlines: a waiting deadline does not keep the process alive by itself", async () => {
  // (A request in flight has sockets that do; a timer left armed after the last one must not.)
  const code = `import { Deadlines } from ${JSON.stringify(import.meta.resolve("./deadlines.ts"))};
    new Deadlines().add(performance.now() + 20_000, () => {});`;
  const started = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-config", code],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.ok(performance.now() - started < 10_000, "the process ended long before the deadline");
});
