import assert from "node:assert/strict";
import { Deadlines, type Expiring } from "./deadlines.ts";
import { waitFor } from "../testing/mod.ts";

/** An item that records when it expired (ms after `start`). */
function item(start: number, afterMs: number, log: [string, number][], name: string): Expiring {
  return {
    deadline: start + afterMs,
    expire: () => log.push([name, performance.now() - start]),
  };
}

Deno.test("deadlines: an item expires once, not before its deadline", async () => {
  const deadlines = new Deadlines();
  const start = performance.now();
  const log: [string, number][] = [];
  deadlines.add(item(start, 40, log, "a"));
  await waitFor(() => log.length === 1, "a expired");
  assert.equal(log[0][0], "a");
  assert.ok(log[0][1] >= 39, `expired after ${log[0][1]} ms`); // (timers round to 1 ms)
  assert.equal(deadlines.size, 0);
  assert.equal(deadlines.armed, false, "nothing left: the timer is not re-armed");
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.equal(log.length, 1, "expired once");
});

Deno.test("deadlines: a deleted item never expires, and the last delete stops the timer", async () => {
  const deadlines = new Deadlines();
  const start = performance.now();
  const log: [string, number][] = [];
  const a = item(start, 30, log, "a");
  const b = item(start, 40, log, "b");
  deadlines.add(a);
  deadlines.add(b);
  deadlines.delete(a);
  await waitFor(() => log.length === 1, "b expired");
  assert.deepEqual(log.map(([name]) => name), ["b"]);
  deadlines.add(a);
  assert.equal(deadlines.armed, true);
  deadlines.delete(a);
  // No timer is left armed to keep the process waiting.
  assert.equal(deadlines.size, 0);
  assert.equal(deadlines.armed, false);
});

Deno.test("deadlines: an earlier deadline added after a later one fires first, at its time", async () => {
  const deadlines = new Deadlines();
  const start = performance.now();
  const log: [string, number][] = [];
  deadlines.add(item(start, 300, log, "late"));
  deadlines.add(item(start, 30, log, "early"));
  await waitFor(() => log.length === 1, "the early one expired");
  assert.equal(log[0][0], "early");
  assert.ok(log[0][1] < 250, `the early one waited ${log[0][1]} ms`);
  await waitFor(() => log.length === 2, "the late one expired");
  assert.equal(log[1][0], "late");
  assert.ok(log[1][1] >= 299, `the late one expired after ${log[1][1]} ms`);
});

Deno.test("deadlines: many items with mixed deadlines each expire once, in deadline order", async () => {
  const deadlines = new Deadlines();
  const start = performance.now();
  const log: [string, number][] = [];
  const afters = [50, 10, 30, 10, 70, 20, 60, 40];
  afters.forEach((ms, i) => deadlines.add(item(start, ms, log, `${ms}:${i}`)));
  await waitFor(() => log.length === afters.length, "all expired");
  const order = log.map(([name]) => Number(name.split(":")[0]));
  assert.deepEqual(order, [...order].sort((x, y) => x - y));
  for (const [name, at] of log) assert.ok(at >= Number(name.split(":")[0]) - 1, `${name} at ${at}`);
});

Deno.test("deadlines: an item added by an expiring one is served too", async () => {
  const deadlines = new Deadlines();
  const start = performance.now();
  const log: [string, number][] = [];
  deadlines.add({
    deadline: start + 10,
    expire: () => {
      log.push(["first", performance.now() - start]);
      deadlines.add(item(start, 40, log, "second"));
    },
  });
  await waitFor(() => log.length === 2, "both expired");
  assert.deepEqual(log.map(([name]) => name), ["first", "second"]);
});
