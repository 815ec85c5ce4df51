/**
 * The replica manager's rules over an in-memory cluster: ejection on exit, replacement after
 * the start timeout, respawn backoff, drain, outlier detection and its limits, shutdown.
 * Heartbeats are a minute apart unless a test needs them, so what it shows cannot come from
 * a heartbeat.
 */

import assert from "node:assert/strict";
import { SlotRing } from "../ring/mod.ts";
import { HealthMonitor } from "./health.ts";
import {
  ReplicaManager,
  type ReplicaManagerOptions,
  ReplicaStartError,
  respawnBackoffMs,
  type RouteTarget,
} from "./replica_manager.ts";
import { FakeCluster, recordingLogger, waitFor } from "./testing.ts";

/** A manager over a fresh in-memory cluster, with `names` started and serving. */
async function setup(
  names: string[],
  options: Partial<ReplicaManagerOptions> & { heartbeatMs?: number } = {},
) {
  const cluster = new FakeCluster();
  const { logger, records } = recordingLogger();
  const health = new HealthMonitor({
    intervalMs: options.heartbeatMs ?? 60_000,
    timeoutMs: 200,
    failThreshold: 2,
    logger,
    fetch: cluster.fetch,
  });
  const ring = options.ring ?? new SlotRing();
  const manager = new ReplicaManager({
    provider: cluster,
    ring,
    health,
    logger,
    startTimeoutMs: 5_000,
    maxReplicas: 50,
    ...options,
  });
  await manager.adopt(); // as a balancer starts: nothing to adopt, spares topped up
  if (names.length) await manager.add(names.length, names);
  const events = (event: string) => records.filter((r) => r.event === event);
  return { cluster, manager, ring, records, events, [Symbol.asyncDispose]: () => manager.close() };
}

/** The route target for replica `name` (a key whose fail-over order includes it). */
function targetOf(manager: ReplicaManager, name: string): RouteTarget {
  const target = manager.route(1, 50).find((t) => t.name === name);
  if (!target) throw new Error(`${name} is not in the ring`);
  return target;
}

Deno.test("manager: a replica that exits is ejected at once, its requests abandoned, and replaced in its place", async () => {
  await using t = await setup(["A", "B", "C"]);
  const b = targetOf(t.manager, "B");
  t.cluster.get("B").kill();
  await waitFor(() => !t.ring.has("B"), "B out of the ring");
  assert.ok(b.ejected.aborted, "requests in flight to B are told it ended");
  await waitFor(() => t.ring.size === 3, "a replacement in the ring");
  const { replicas } = t.manager.snapshot();
  assert.equal(replicas[0], "A");
  assert.match(replicas[1], /^replica-[0-9a-z]{6}$/, "the replacement has B's place");
  assert.equal(replicas[2], "C");
  assert.ok(
    t.events("replica.stopping").some((r) => r.fields.why === "ejected: killed by SIGKILL"),
  );
});

Deno.test("manager: a replica with no good heartbeat within the start timeout is stopped and replaced", async () => {
  await using t = await setup([], { startTimeoutMs: 150 });
  t.cluster.startUnhealthy = true;
  const started = performance.now();
  await assert.rejects(t.manager.add(1, ["A"]), ReplicaStartError);
  assert.ok(performance.now() - started >= 150 - 2, "not before the start timeout");
  assert.equal(t.cluster.get("A").alive, false, "A was stopped");
  t.cluster.startUnhealthy = false;
  await waitFor(() => t.ring.size === 1, "a replacement serves");
  assert.match(t.manager.snapshot().replicas[0], /^replica-/);
  assert.equal(t.manager.desired, 1);
});

Deno.test("manager: respawns back off exponentially while starts fail, and not after a success", async () => {
  assert.deepEqual(
    [0, 1, 2, 3, 4, 6, 7, 20].map(respawnBackoffMs),
    [0, 100, 200, 400, 800, 3200, 5000, 5000],
  );
  await using t = await setup(["A"]);
  t.cluster.failAllStarts = true;
  const before = t.cluster.started.length;
  t.cluster.get("A").kill();
  await waitFor(() => t.cluster.started.length >= before + 4, "four failed starts", 5_000);
  const at = t.cluster.startedAt.slice(before, before + 4);
  const gaps = at.slice(1).map((time, i) => time - at[i]);
  // Each wait is at least its backoff (timers never fire early; no upper bound asserted).
  gaps.forEach((gap, i) => assert.ok(gap >= respawnBackoffMs(i + 1) - 2, `gaps ${gaps}`));
  t.cluster.failAllStarts = false;
  await waitFor(() => t.ring.size === 1, "a replacement serves", 5_000);

  // After a success the count starts over: the next replacement is spawned at once.
  const backoffs = t.events("replica.respawn_backoff").length;
  t.cluster.get(t.manager.snapshot().replicas[0]).kill();
  await waitFor(() => t.ring.size === 1 && !t.manager.reconcilePending, "replaced again");
  assert.equal(t.events("replica.respawn_backoff").length, backoffs, "no backoff this time");
});

Deno.test("manager: /rm waits for the requests in flight to a replica before stopping it", async () => {
  await using t = await setup(["A", "B"], { drainTimeoutMs: 60_000 });
  const release = targetOf(t.manager, "A").enter();
  const removing = t.manager.remove(1, ["A"]);
  await waitFor(() => !t.ring.has("A"), "A leaves the ring at once");
  assert.deepEqual(t.manager.snapshot().replicas, ["B"]);
  assert.equal(t.cluster.get("A").alive, true, "A still runs while a request is in flight");
  release();
  await removing;
  assert.equal(t.cluster.get("A").alive, false, "stopped once drained");
  assert.equal(t.events("replica.drain_timeout").length, 0);
});

Deno.test("manager: a drain that outlasts --drain-timeout is cut short", async () => {
  await using t = await setup(["A", "B"], { drainTimeoutMs: 150 });
  targetOf(t.manager, "A").enter(); // never released
  const started = performance.now();
  await t.manager.remove(1, ["A"]);
  assert.ok(performance.now() - started >= 150 - 2, "the drain lasted its timeout");
  assert.equal(t.cluster.get("A").alive, false, "then A was stopped anyway");
  assert.equal(t.events("replica.drain_timeout").length, 1);
});

Deno.test("manager: outliers: --outlier-errors failed tries in a row eject; a success resets the count", async () => {
  await using t = await setup(["A", "B", "C", "D"], { outlierErrors: 3 });
  const a = targetOf(t.manager, "A");
  a.outcome(false);
  a.outcome(false);
  a.outcome(true);
  a.outcome(false);
  a.outcome(false);
  assert.ok(t.ring.has("A"), "never three in a row");
  a.outcome(false);
  assert.ok(!t.ring.has("A"), "the third in a row ejects");
  assert.ok(t.manager.has("A"), "still managed: only out of the ring");
  assert.equal(t.cluster.get("A").alive, true);
  assert.equal(t.events("replica.outlier_ejected").length, 1);
});

Deno.test("manager: outliers are readmitted after the cool-down, and start counting afresh", async () => {
  await using t = await setup(["A", "B", "C", "D"], {
    outlierErrors: 2,
    outlierCoolDownMs: 100,
  });
  const a = targetOf(t.manager, "A");
  const ejectedAt = performance.now();
  a.outcome(false);
  a.outcome(false);
  assert.ok(!t.ring.has("A"));
  await waitFor(() => t.ring.has("A"), "readmitted");
  assert.ok(performance.now() - ejectedAt >= 100 - 2, "not before the cool-down");
  const again = targetOf(t.manager, "A");
  again.outcome(false);
  assert.ok(t.ring.has("A"), "one failure after readmission does not eject");
  again.outcome(false);
  assert.ok(!t.ring.has("A"));
});

Deno.test("manager: an outlier that also fails its heartbeats is replaced, not readmitted", async () => {
  await using t = await setup(["A", "B", "C", "D"], {
    outlierErrors: 1,
    outlierCoolDownMs: 60_000,
    heartbeatMs: 20,
  });
  targetOf(t.manager, "A").outcome(false);
  t.cluster.get("A").faults.heartbeatFail = true;
  await waitFor(() => !t.manager.has("A"), "A is ejected for good");
  assert.equal(t.cluster.get("A").alive, false);
  await waitFor(() => t.ring.size === 4, "and replaced");
});

Deno.test("manager: at most --max-ejection-percent of the serving replicas are out as outliers", async () => {
  await using t = await setup(["A", "B", "C", "D"], { outlierErrors: 1, maxEjectionPercent: 50 });
  for (const name of ["A", "B", "C", "D"]) {
    const target = targetOf(t.manager, name);
    for (let i = 0; i < 3; i++) target.outcome(false);
  }
  assert.equal(t.ring.size, 2, "half of four are out, the other two kept (panic)");
  assert.deepEqual(t.ring.nodes().map((n) => n.name).sort(), ["C", "D"]);
  // Logged once per streak, not once per failed try.
  assert.deepEqual(t.events("replica.outlier_kept").map((r) => r.fields.name), ["C", "D"]);
});

Deno.test("manager: --outlier-errors 0 turns outlier detection off", async () => {
  await using t = await setup(["A", "B", "C", "D"], { outlierErrors: 0 });
  const a = targetOf(t.manager, "A");
  for (let i = 0; i < 20; i++) a.outcome(false);
  assert.equal(t.ring.size, 4);
});

Deno.test("manager: close() stops every replica; with keepReplicas it leaves them running", async () => {
  for (const keepReplicas of [false, true]) {
    const t = await setup(["A", "B"]);
    await t.manager.close({ keepReplicas });
    assert.deepEqual(t.cluster.alive().sort(), keepReplicas ? ["A", "B"] : [], `${keepReplicas}`);
    await assert.rejects(t.manager.add(1), ReplicaStartError, "nothing starts after close()");
  }
});

Deno.test("manager: adopt() takes over what an earlier balancer left: numbers kept, spares kept as spares", async () => {
  await using t = await setup([], { spares: 1 });
  // Two numbered replicas (one promoted spare whose number was recorded), and two without a
  // number: the newest is taken as the spare, the older one as a promoted spare whose
  // promotion went unrecorded, which gets the lowest missing number.
  await t.cluster.leave({ name: "B", ordinal: 2 });
  await t.cluster.leave({ name: "old", ordinal: 0 });
  await t.cluster.leave({ name: "D", ordinal: 4 });
  await t.cluster.leave({ name: "new", ordinal: 0 });
  assert.equal(await t.manager.adopt(), 3);
  assert.equal(t.manager.desired, 3);
  assert.deepEqual(t.manager.snapshot().replicas, ["old", "B", "D"], "old took number 1");
  assert.deepEqual(t.manager.spares(), ["new"]);
  await waitFor(() => t.ring.size === 3, "the adopted replicas join on their first heartbeat");
  assert.ok(!t.ring.has("new"), "the spare stays out of the ring");
  assert.equal(t.cluster.started.length, 0, "nothing new was started");
});

Deno.test("manager: adopt() stops a second replica claiming a name, and any past --max-replicas", async () => {
  await using t = await setup([], { maxReplicas: 2 });
  await t.cluster.leave({ name: "A", ordinal: 1 });
  await t.cluster.leave({ name: "A", ordinal: 2 });
  await t.cluster.leave({ name: "B", ordinal: 2 });
  await t.cluster.leave({ name: "C", ordinal: 3 });
  assert.equal(await t.manager.adopt(), 2);
  assert.deepEqual(t.manager.snapshot().replicas, ["A", "B"]);
  // (The fake keeps the latest replica of a name: that is the second A.)
  assert.equal(t.cluster.get("A").alive, false, "the second A was stopped");
  assert.equal(t.cluster.get("C").alive, false, "C was stopped");
  await waitFor(() => t.ring.size === 2, "the first A and B serve");
  assert.deepEqual(
    t.events("replica.not_adopted").map((r) => `${r.fields.name}: ${r.fields.why}`),
    ["A: duplicate hostname", "C: over --max-replicas"],
  );
});

Deno.test("manager: an adopted replica whose number is taken gets a free one", async () => {
  await using t = await setup([]);
  await t.cluster.leave({ name: "A", ordinal: 1 });
  await t.cluster.leave({ name: "B", ordinal: 1 });
  assert.equal(await t.manager.adopt(), 2);
  assert.deepEqual(t.manager.snapshot().replicas, ["A", "B"]);
  await waitFor(() => t.ring.size === 2, "both serve");
  const owners = new Set(Array.from({ length: 200 }, (_, i) => t.manager.route(i, 1)[0].name));
  assert.deepEqual([...owners].sort(), ["A", "B"], "two numbers: both own keys");
});

Deno.test("manager: a replica the ring cannot hold is failed, not counted as serving", async () => {
  // 16 slots and 9 virtual nodes each: a second replica does not fit.
  await using t = await setup(["A"], { ring: new SlotRing({ slots: 16, virtualNodes: 9 }) });
  await assert.rejects(t.manager.add(1, ["B"]), /cannot join the ring/);
  assert.equal(t.ring.size, 1);
  assert.ok(!t.ring.has("B"));
  assert.equal(t.cluster.get("B").alive, false, "B was stopped");
});

Deno.test("manager: a promoted spare's new number is recorded with the provider; a failure to is logged", async () => {
  await using t = await setup(["A", "B"], { spares: 1 });
  await waitFor(() => t.manager.spares().length === 1, "a spare");
  const [spare] = t.manager.spares();
  await waitFor(() => t.cluster.get(spare).received.includes("GET /heartbeat"), "warm");
  t.cluster.get("A").kill();
  await waitFor(() => t.manager.has(spare), "promoted");
  assert.deepEqual(t.cluster.promotions, [`${spare}=1`], "it took A's number");

  t.cluster.failPromotions = true;
  await waitFor(
    () => t.manager.spares().length === 1 && t.manager.spares()[0] !== spare,
    "a new spare",
  );
  const [next] = t.manager.spares();
  await waitFor(() => t.cluster.get(next).received.includes("GET /heartbeat"), "warm");
  t.cluster.get("B").kill();
  await waitFor(() => t.manager.has(next), "promoted anyway");
  await waitFor(() => t.events("replica.promotion_not_recorded").length === 1, "logged");
});

Deno.test("manager: random names that collide get a numeric suffix", async () => {
  await using t = await setup([], { random: () => 0 });
  await t.manager.add(3);
  assert.deepEqual(t.manager.snapshot().replicas, [
    "replica-000000",
    "replica-000000-2",
    "replica-000000-3",
  ]);
});
