/**
 * The replica manager's rules over an in-memory cluster: ejection on exit, replacement after
 * the start timeout, respawn backoff, drain, outlier detection and its limits, shutdown.
 * Heartbeats are a minute apart unless a test needs them, so what it shows cannot come from
 * a heartbeat.
 */

import assert from "node:assert/strict";
import { MaglevRing, SlotRing } from "../../ring/mod.ts";
import { HealthMonitor } from "./health.ts";
import {
  ReplicaManager,
  type ReplicaManagerOptions,
  ReplicaStartError,
  respawnBackoffMs,
} from "./replica_manager.ts";
import type { RouteTarget } from "./replica.ts";
import { FakeCluster, recordingLogger, waitFor } from "../testing/mod.ts";
import { Abort } from "../support/mod.ts";

/** A manager over a fresh in-memory cluster, with `names` started and serving. */
async function setup(
  names: string[],
  options: Partial<ReplicaManagerOptions> & { heartbeatMs?: number; respawns?: boolean } = {},
) {
  const cluster = new FakeCluster();
  // Servers it does not run (static backends): a failed one is sidelined, not replaced.
  if (options.respawns === false) cluster.respawns = false;
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
  const a = targetOf(t.manager, "A");
  a.enter();
  const removing = t.manager.remove(1, ["A"]);
  await waitFor(() => !t.ring.has("A"), "A leaves the ring at once");
  assert.deepEqual(t.manager.snapshot().replicas, ["B"]);
  assert.equal(t.cluster.get("A").alive, true, "A still runs while a request is in flight");
  a.leave();
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
  await using t = await setup(["A", "B", "C", "D"], { outliers: { errors: 3 } });
  const a = targetOf(t.manager, "A");
  a.report("connect_failure");
  a.report("timeout");
  a.report("success");
  a.report("http_5xx");
  a.report("reset");
  assert.ok(t.ring.has("A"), "never three in a row");
  a.report("protocol_error");
  assert.ok(!t.ring.has("A"), "the third in a row ejects, whatever the kinds of failure");
  assert.ok(t.manager.has("A"), "still managed: only out of the ring");
  assert.equal(t.cluster.get("A").alive, true);
  assert.equal(t.events("replica.outlier_ejected").length, 1);
});

Deno.test("manager: outliers are readmitted after the cool-down, and start counting afresh", async () => {
  await using t = await setup(["A", "B", "C", "D"], {
    outliers: { errors: 2, coolDownMs: 100 },
  });
  const a = targetOf(t.manager, "A");
  const ejectedAt = performance.now();
  a.report("reset");
  a.report("reset");
  assert.ok(!t.ring.has("A"));
  await waitFor(() => t.ring.has("A"), "readmitted");
  assert.ok(performance.now() - ejectedAt >= 100 - 2, "not before the cool-down");
  const again = targetOf(t.manager, "A");
  again.report("reset");
  assert.ok(t.ring.has("A"), "one failure after readmission does not eject");
  again.report("reset");
  assert.ok(!t.ring.has("A"));
});

Deno.test("manager: an outlier that also fails its heartbeats is replaced, not readmitted", async () => {
  await using t = await setup(["A", "B", "C", "D"], {
    outliers: { errors: 1, coolDownMs: 60_000 },
    heartbeatMs: 20,
  });
  targetOf(t.manager, "A").report("reset");
  t.cluster.get("A").faults.heartbeatFail = true;
  await waitFor(() => !t.manager.has("A"), "A is ejected for good");
  assert.equal(t.cluster.get("A").alive, false);
  await waitFor(() => t.ring.size === 4, "and replaced");
});

Deno.test("manager: at most --max-ejection-percent of the serving replicas are out as outliers", async () => {
  await using t = await setup(["A", "B", "C", "D"], {
    outliers: { errors: 1, maxEjectionPercent: 50 },
  });
  for (const name of ["A", "B", "C", "D"]) {
    const target = targetOf(t.manager, name);
    for (let i = 0; i < 3; i++) target.report("reset");
  }
  assert.equal(t.ring.size, 2, "half of four are out, the other two kept (panic)");
  assert.deepEqual(t.ring.nodes().map((n) => n.name).sort(), ["C", "D"]);
  // Logged once per streak, not once per failed try.
  assert.deepEqual(t.events("replica.outlier_kept").map((r) => r.fields.name), ["C", "D"]);
});

Deno.test("manager: --outlier-errors 0 turns outlier detection off", async () => {
  await using t = await setup(["A", "B", "C", "D"], { outliers: { errors: 0 } });
  const a = targetOf(t.manager, "A");
  for (let i = 0; i < 20; i++) a.report("reset");
  assert.equal(t.ring.size, 4);
});

Deno.test("manager: close() stops every replica; with keepReplicas it leaves them running", async () => {
  for (const keepReplicas of [false, true]) {
    const t = await setup(["A", "B"]);
    await t.manager.close({ keepReplicas });
    assert.deepEqual(t.cluster.alive().sort(), keepReplicas ? ["A", "B"] : [], `${keepReplicas}`);
    const started = t.cluster.started.length;
    await assert.rejects(t.manager.add(1), /shutting down/, "nothing starts after close()");
    assert.equal(t.cluster.started.length, started, "no replica was started");
    assert.equal(t.manager.desired, 0);
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
  assert.equal(t.ring.nodes().length, 0, "none serves before its first heartbeat");
  assert.deepEqual(t.manager.spares(), ["new"]);
  await waitFor(() => t.ring.size === 3, "the adopted replicas join on their first heartbeat");
  assert.deepEqual(
    t.ring.nodes().map((n) => `${n.name}=${n.ordinal}`).sort(),
    ["B=2", "D=4", "old=1"],
  );
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

Deno.test("manager: adopt() keeps a spare's number (its SERVER_ID), and replaces a spare whose number is taken", async () => {
  await using t = await setup([], { spares: 2 });
  await t.cluster.leave({ name: "A", ordinal: 1, serverId: "1" });
  await t.cluster.leave({ name: "B", ordinal: 2, serverId: "2" });
  await t.cluster.leave({ name: "S", ordinal: 0, serverId: "3" });
  await t.cluster.leave({ name: "T", ordinal: 0, serverId: "1" }); // A's: cannot serve as 1
  assert.equal(await t.manager.adopt(), 2);
  assert.deepEqual(t.manager.spares(), ["S"], "T is not kept");
  assert.deepEqual(t.events("spare.adopted").map((r) => r.fields.name), ["S"]);
  assert.equal(t.cluster.get("T").alive, false, "T was stopped");
  assert.deepEqual(t.events("spare.not_adopted").map((r) => `${r.fields.name}: ${r.fields.has}`), [
    "T: 1",
  ]);
  // A fresh spare for T's place, numbered past S.
  await waitFor(() => t.manager.spares().length === 2, "a fresh spare");
  const fresh = t.manager.spares().find((name) => name !== "S")!;
  assert.equal(t.cluster.get(fresh).serverId, "4");
  await waitFor(() => t.ring.size === 2, "A and B serve");
  await waitFor(() => t.cluster.get("S").received.includes("GET /heartbeat"), "S is warm");
  t.cluster.get("A").kill();
  await waitFor(() => t.manager.has("S"), "S promoted");
  assert.deepEqual(t.cluster.promotions, ["S=3"], "under the number it answers as");
});

Deno.test("manager: adopt() in numbered mode: a spare answering as its hostname is replaced; a promotion that went unrecorded keeps its number", async () => {
  await using t = await setup([], { spares: 1 });
  await t.cluster.leave({ name: "A", ordinal: 1, serverId: "1" });
  await t.cluster.leave({ name: "P", ordinal: 0, serverId: "5" }); // promoted, not recorded
  await t.cluster.leave({ name: "N", ordinal: 0, serverId: "N" }); // a spare of --replica-id name
  assert.equal(await t.manager.adopt(), 2);
  assert.equal(t.cluster.get("N").alive, false, "N stopped");
  assert.deepEqual(t.manager.spares(), [], "N is not kept as the spare");
  await waitFor(() => t.ring.size === 2, "A and P serve");
  assert.deepEqual(t.ring.nodes().map((n) => `${n.name}=${n.ordinal}`).sort(), ["A=1", "P=5"]);
});

Deno.test("manager: an adopted replica answering as something else is kept, and the difference logged", async () => {
  await using t = await setup([]);
  await t.cluster.leave({ name: "A", ordinal: 1, serverId: "A" }); // started with --replica-id name
  assert.equal(await t.manager.adopt(), 1);
  await waitFor(() => t.ring.size === 1, "A serves");
  assert.deepEqual(
    t.events("replica.server_id_kept").map((r) => `${r.fields.has} for ${r.fields.wants}`),
    ["A for 1"],
  );
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
  // Numbered (the default): the spare answers as 3 from its start, and is promoted as 3.
  assert.equal(t.cluster.get(spare).serverId, "3");
  t.cluster.get("A").kill();
  await waitFor(() => t.manager.has(spare), "promoted");
  assert.deepEqual(t.cluster.promotions, [`${spare}=3`], "it kept its number");
  // The next spare takes the lowest number free: A's.
  await waitFor(() => t.manager.spares().length === 1, "a new spare");
  assert.equal(t.cluster.get(t.manager.spares()[0]).serverId, "1");

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

Deno.test("manager: with --replica-id name, replicas answer as their hostnames and a spare takes the number of the one it replaces", async () => {
  await using t = await setup(["A", "B"], { spares: 1, replicaId: "name" });
  await waitFor(() => t.manager.spares().length === 1, "a spare");
  const [spare] = t.manager.spares();
  assert.deepEqual([t.cluster.get("A").serverId, t.cluster.get(spare).serverId], ["A", spare]);
  await waitFor(() => t.cluster.get(spare).received.includes("GET /heartbeat"), "warm");
  t.cluster.get("A").kill();
  await waitFor(() => t.manager.has(spare), "promoted");
  assert.deepEqual(t.cluster.promotions, [`${spare}=1`], "it took A's number");
});

Deno.test("manager: replicas answer as their server numbers, /add's too; a number is reused once free", async () => {
  await using t = await setup(["A", "B", "C"]);
  assert.deepEqual(["A", "B", "C"].map((n) => t.cluster.get(n).serverId), ["1", "2", "3"]);
  await t.manager.add(1, ["D"]);
  assert.equal(t.cluster.get("D").serverId, "4");
  await t.manager.remove(1, ["B"]);
  await t.manager.add(1, ["E"]);
  assert.equal(t.cluster.get("E").serverId, "2", "B's number, free again");
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

Deno.test("manager: /add up to --max-replicas exactly is allowed, one more is refused", async () => {
  await using t = await setup(["A"], { maxReplicas: 3 });
  await t.manager.add(2);
  await assert.rejects(
    t.manager.add(1),
    /Adding 1 instances would exceed the limit of 3 replicas \(3 running\)/,
  );
});

Deno.test("manager: /rm of more than are running is refused, in words for one", async () => {
  await using t = await setup(["A"]);
  await assert.rejects(
    t.manager.remove(2, []),
    /: Cannot remove 2 instances: only 1 is running$/,
  );
});

Deno.test("manager: /rm picks the others at random (by the random source), and lowers the count wanted", async () => {
  await using t = await setup(["A", "B", "C"], { random: () => 0.99 });
  await t.manager.remove(1, []);
  assert.deepEqual(t.manager.snapshot().replicas, ["A", "B"], "0.99 of three picks the last");
  assert.equal(t.manager.desired, 2);
  t.cluster.get("A").kill();
  await waitFor(() => t.ring.size === 2 && !t.ring.has("A"), "A replaced, and only A");
  assert.equal(t.manager.snapshot().N, 2);
});

Deno.test("manager: a replica removed on purpose is not a failure: the next replacement has no backoff", async () => {
  await using t = await setup(["A", "B", "C"]);
  await t.manager.remove(1, ["A"]); // A exits as it is stopped
  await waitFor(() => !t.manager.reconcilePending, "nothing pending");
  t.cluster.get("B").kill();
  await waitFor(() => t.ring.size === 2 && !t.manager.reconcilePending, "B replaced");
  assert.deepEqual(t.events("replica.respawn_backoff"), []);
});

Deno.test("manager: a drain waits for every request in flight, not just the first to end", async () => {
  await using t = await setup(["A", "B"], { drainTimeoutMs: 60_000 });
  const a = targetOf(t.manager, "A");
  a.enter();
  a.enter();
  const removing = t.manager.remove(1, ["A"]);
  await waitFor(() => !t.ring.has("A"), "A leaves the ring");
  a.leave();
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(t.cluster.get("A").alive, true, "A waits for the other request in flight");
  a.leave();
  await removing;
  assert.equal(t.cluster.get("A").alive, false);
});

Deno.test("manager: a replica that fails is stopped at once, not drained", async () => {
  await using t = await setup(["A", "B"], { drainTimeoutMs: 60_000, heartbeatMs: 20 });
  targetOf(t.manager, "A").enter(); // in flight, never ends
  t.cluster.get("A").faults.heartbeatFail = true;
  await waitFor(() => !t.manager.has("A"), "A ejected");
  await waitFor(() => !t.cluster.get("A").alive, "and stopped without waiting for its request");
});

Deno.test("manager: an outlier is ejected once per cool-down, however many tries fail meanwhile", async () => {
  await using t = await setup(["A", "B", "C", "D"], { outliers: { errors: 2, coolDownMs: 100 } });
  const a = targetOf(t.manager, "A");
  for (let i = 0; i < 6; i++) a.report("reset"); // in-flight tries failing after the ejection
  assert.equal(t.events("replica.outlier_ejected").length, 1);
  await waitFor(() => t.ring.has("A"), "readmitted");
  const readmitted = t.events("replica.readmitted").length;
  const after = performance.now();
  await waitFor(() => performance.now() - after > 250, "more than two cool-downs", 5_000, 20);
  assert.equal(t.events("replica.readmitted").length, readmitted, "readmitted once");
});

Deno.test("manager: the outlier limit counts serving replicas only, not ones still starting", async () => {
  await using t = await setup(["A", "B", "C", "D"], {
    outliers: { errors: 1, maxEjectionPercent: 50 },
  });
  t.cluster.startUnhealthy = true;
  const starting = t.manager.add(2).catch(() => {}); // two more that never come up
  await waitFor(() => t.manager.snapshot().N === 6, "six managed, four serving");
  for (const name of ["A", "B", "C"]) targetOf(t.manager, name).report("reset");
  assert.equal(t.ring.size, 2, "half of the four serving are out, not half of six");
  await t.manager.close();
  await starting;
});

Deno.test("manager: an outlier replaced during its cool-down is not readmitted", async () => {
  await using t = await setup(["A", "B", "C", "D"], {
    outliers: { errors: 1, coolDownMs: 150 },
    heartbeatMs: 20,
  });
  targetOf(t.manager, "A").report("reset");
  t.cluster.get("A").faults.heartbeatFail = true;
  const ejectedAt = performance.now();
  await waitFor(() => !t.manager.has("A"), "A replaced");
  await waitFor(() => performance.now() - ejectedAt > 300, "past the cool-down", 5_000, 20);
  assert.ok(!t.ring.has("A"), "a replaced replica never rejoins");
});

Deno.test("manager: an outlier whose place was taken meanwhile cannot rejoin the ring and is replaced", async () => {
  // 16 slots, 9 virtual nodes: one replica at a time. A leaves as an outlier, B takes the room.
  await using t = await setup(["A"], {
    ring: new SlotRing({ slots: 16, virtualNodes: 9 }),
    outliers: { errors: 1, coolDownMs: 100, maxEjectionPercent: 100 },
  });
  targetOf(t.manager, "A").report("reset");
  assert.equal(t.ring.size, 0);
  await t.manager.add(1, ["B"]);
  await waitFor(() => !t.manager.has("A"), "A fails to rejoin and is replaced");
  assert.equal(t.cluster.get("A").alive, false);
});

Deno.test("manager: a spare is promoted only once warm, and one per missing replica", async () => {
  await using t = await setup(["A", "B", "C"], { spares: 2 });
  await waitFor(() => t.manager.spares().length === 2, "two spares");
  await Promise.all(
    t.manager.spares().map((s) =>
      waitFor(() => t.cluster.get(s).received.includes("GET /heartbeat"), `${s} warm`)
    ),
  );
  // Spares started from now on never warm up.
  t.cluster.startUnhealthy = true;
  t.cluster.get("A").kill();
  await waitFor(() => t.ring.size === 3 && !t.ring.has("A"), "a warm spare promoted");
  assert.equal(t.manager.snapshot().N, 3, "one spare for one missing replica, not both");
  t.cluster.get("B").kill();
  await waitFor(() => t.ring.size === 3 && !t.ring.has("B"), "the other warm spare promoted");
  await waitFor(() => t.manager.spares().length === 2, "two cold spares");
  // Once the warm ones are used, a dead replica's place stays empty rather than go to a cold one.
  t.cluster.get("C").kill();
  await waitFor(() => !t.ring.has("C"), "C out");
  assert.equal(t.ring.size, 2, "no cold spare in the ring");
});

Deno.test("manager: a spare still starting is waited for rather than starting another replica", async () => {
  await using t = await setup(["A", "B"], { spares: 1, startTimeoutMs: 60_000 });
  t.cluster.startUnhealthy = true; // the spare starts but is not warm yet
  await waitFor(() => t.manager.spares().length === 1, "a spare starting");
  const [spare] = t.manager.spares();
  t.cluster.startUnhealthy = false;
  const starts = t.cluster.started.length;
  t.cluster.get("A").kill();
  await waitFor(() => !t.ring.has("A"), "A out");
  t.cluster.get(spare).faults.heartbeatFail = false; // now it warms up
  await waitFor(() => t.manager.has(spare) && t.ring.size === 2, "the spare took A's place");
  // Only the new spare was started after the kill, no extra replica.
  await waitFor(() => t.manager.spares().length === 1, "a new spare");
  assert.equal(t.cluster.started.length, starts + 1);
});

Deno.test("manager: a provider that records no promotions is fine", async () => {
  await using t = await setup(["A", "B"], { spares: 1 });
  Object.defineProperty(t.cluster, "promoted", { value: undefined });
  await waitFor(() => t.manager.spares().length === 1, "a spare");
  const [spare] = t.manager.spares();
  await waitFor(() => t.cluster.get(spare).received.includes("GET /heartbeat"), "warm");
  t.cluster.get("A").kill();
  await waitFor(() => t.manager.has(spare), "promoted");
  assert.deepEqual(t.events("replica.promotion_not_recorded"), []);
});

Deno.test("manager: close() with keepReplicas fails an /add still waiting, and leaves it running", async () => {
  const t = await setup([]);
  t.cluster.startUnhealthy = true;
  const adding = t.manager.add(1, ["A"]);
  await waitFor(() => t.cluster.alive().includes("A"), "A started");
  await t.manager.close({ keepReplicas: true });
  await assert.rejects(adding, ReplicaStartError);
  assert.equal(t.cluster.get("A").alive, true);
});

Deno.test("manager: close() drains the requests in flight before stopping replicas", async () => {
  const t = await setup(["A"], { drainTimeoutMs: 150 });
  targetOf(t.manager, "A").enter();
  const started = performance.now();
  await t.manager.close();
  assert.ok(performance.now() - started >= 150 - 2, "it waited for the drain timeout");
  assert.equal(t.events("replica.drain_timeout").length, 1);
});

Deno.test("manager: a random name taken elsewhere is retried under another, not given up", async () => {
  await using t = await setup([], { random: () => 0 });
  t.cluster.foreignNames.add("replica-000000");
  await assert.rejects(t.manager.add(1), ReplicaStartError, "the /add says the start failed");
  assert.equal(t.manager.desired, 1, "still wanted");
  t.cluster.foreignNames.clear();
  await waitFor(() => t.ring.size === 1, "a replacement serves", 5_000);
});

Deno.test("manager: adopt() keeps room for the spares above --max-replicas", async () => {
  await using t = await setup([], { maxReplicas: 2, spares: 1 });
  await t.cluster.leave({ name: "A", ordinal: 1 });
  await t.cluster.leave({ name: "B", ordinal: 2 });
  await t.cluster.leave({ name: "S", ordinal: 0 });
  assert.equal(await t.manager.adopt(), 2);
  assert.deepEqual(t.manager.spares(), ["S"], "two replicas and the spare");
});

Deno.test("manager: a replica out of the ring (a static backend that is down) is not ejected as an outlier", async () => {
  await using t = await setup([], {
    outliers: { errors: 1, coolDownMs: 100 },
    heartbeatMs: 20,
    respawns: false,
  });
  await t.manager.add(2, ["A", "B"]);
  const a = targetOf(t.manager, "A");
  t.cluster.get("A").faults.heartbeatFail = true;
  await waitFor(() => !t.ring.has("A"), "A sidelined");
  a.report("reset"); // a try begun before it left, failing now
  const from = performance.now();
  await waitFor(() => performance.now() - from > 250, "past a cool-down", 5_000, 20);
  assert.ok(t.manager.has("A"), "sidelined, still managed");
  assert.ok(!t.ring.has("A"), "not readmitted while its heartbeats fail");
  assert.deepEqual(t.events("replica.outlier_ejected"), []);
});

Deno.test("manager: two replicas missing and one spare starting: one waits for the spare, one is started", async () => {
  await using t = await setup(["A", "B", "C"], { spares: 1, startTimeoutMs: 60_000 });
  await waitFor(() => t.manager.spares().length === 1, "a spare");
  const [spare] = t.manager.spares();
  await waitFor(() => t.cluster.get(spare).received.includes("GET /heartbeat"), "warm");
  t.cluster.startUnhealthy = true; // the next spare will not warm up
  t.cluster.get("A").kill(); // the warm spare takes A's place; a new spare starts, cold
  await waitFor(() => t.manager.has(spare) && t.manager.spares().length === 1, "promoted");
  await waitFor(() => !t.manager.reconcilePending, "settled");
  t.cluster.startUnhealthy = false;
  const starts = t.cluster.started.length;
  t.cluster.get("B").kill();
  t.cluster.get("C").kill();
  await waitFor(() => t.cluster.started.length > starts, "a replica started");
  await waitFor(() => !t.manager.reconcilePending, "settled again");
  assert.equal(t.cluster.started.length, starts + 1, "one started; the other waits for the spare");
});

Deno.test("manager: close() waits for a removal that is still draining", async () => {
  const t = await setup(["A", "B"], { drainTimeoutMs: 60_000 });
  const a = targetOf(t.manager, "A");
  a.enter();
  const removing = t.manager.remove(1, ["A"]);
  await waitFor(() => !t.ring.has("A"), "A is draining");
  let closed = false;
  const closing = t.manager.close().then(() => closed = true);
  await waitFor(() => !t.cluster.get("B").alive, "close() stopped B");
  // Only A's drain is left to wait for: give close() a moment in which it must not end.
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(closed, false, "close() waits for A");
  a.leave();
  await Promise.all([closing, removing]);
  assert.equal(t.cluster.get("A").alive, false, "A stopped before close() ended");
});

Deno.test("manager: outlier detection's defaults: 5 failed tries in a row eject", async () => {
  await using t = await setup(["A", "B", "C", "D"]);
  const a = targetOf(t.manager, "A");
  for (let i = 0; i < 4; i++) a.report("http_5xx");
  assert.ok(t.ring.has("A"), "four are not enough");
  a.report("http_5xx");
  assert.ok(!t.ring.has("A"), "the fifth ejects");
  assert.equal(t.events("replica.outlier_ejected")[0].fields.cool_down_ms, 10_000);
});

Deno.test("manager: failed tries from before a replica rejoined are forgotten", async () => {
  await using t = await setup([], {
    outliers: { errors: 2, coolDownMs: 60_000 },
    heartbeatMs: 20,
    heartbeatIntervalMs: 20, // how often a sidelined backend is polled
    respawns: false,
  });
  await t.manager.add(4, ["A", "B", "C", "D"]);
  const a = targetOf(t.manager, "A");
  t.cluster.get("A").faults.heartbeatFail = true;
  await waitFor(() => !t.ring.has("A"), "A sidelined");
  a.report("reset"); // a try begun before it left, failing now
  t.cluster.get("A").faults.heartbeatFail = false;
  await waitFor(() => t.ring.has("A"), "A rejoins");
  a.report("reset");
  assert.ok(t.ring.has("A"), "one failure since it rejoined: not two in a row");
  a.report("reset");
  assert.ok(!t.ring.has("A"), "the second since it rejoined ejects");
});

Deno.test("manager, shared replicas (swarm): an interrupted task leaves the ring at once, stays listed, and rejoins on a good heartbeat", async () => {
  await using t = await setup([], {
    heartbeatMs: 60_000, // the interruption, not a heartbeat, must take it out
    heartbeatIntervalMs: 20, // how often an interrupted replica is polled
    respawns: false,
  });
  await t.manager.add(3, ["A", "B", "C"]);
  const b = targetOf(t.manager, "B");
  const inFlight = new Abort();
  b.watch(inFlight); // a try on its way to B when its task dies
  const stream = b.ejected; // and an answer being streamed from it
  t.cluster.get("B").interrupt("task died (exit code 137); swarm restarts it");
  assert.ok(!t.ring.has("B"), "out of the ring in the same turn");
  assert.ok(inFlight.aborted, "the try in flight is given up at once (it fails over)");
  assert.ok(stream.aborted, "so is the streamed answer");
  const later = new Abort();
  b.watch(later);
  assert.ok(!later.aborted && !b.ejected.aborted, "later tries are not: it may serve again");
  b.unwatch(later);
  assert.deepEqual(t.manager.snapshot().replicas, ["A", "B", "C"], "/rep still names it");
  assert.deepEqual(t.cluster.started, ["A", "B", "C"], "nothing respawned: the swarm does that");
  t.cluster.get("B").resume();
  await waitFor(() => t.ring.has("B"), "B back in the ring");
  assert.equal(t.manager.desired, 3);
});

Deno.test("manager, shared replicas (swarm): another balancer's replica joins under its own ordinal; one removed elsewhere is let go", async () => {
  await using t = await setup([], { heartbeatMs: 20, respawns: false });
  await t.manager.add(2, ["A", "B"]);
  assert.equal(await t.cluster.appear({ name: "E", ordinal: 7 }), true);
  await waitFor(() => t.ring.has("E"), "E joins the ring on its first heartbeat");
  assert.deepEqual(
    t.manager.members().map((m) => `${m.name}=${m.ordinal}`).sort(),
    ["A=1", "B=2", "E=7"],
    "the ordinal its starter gave it, so both balancers' rings agree",
  );
  assert.equal(t.manager.desired, 3);
  assert.equal(await t.cluster.appear({ name: "A", ordinal: 1 }), false, "A is managed already");
  assert.equal(await t.cluster.appear({ name: "Z", ordinal: 0 }), false, "an unnumbered one");
  // Its service was removed by the other balancer: the handle ends.
  t.cluster.get("E").kill("service removed", true);
  await waitFor(() => !t.manager.has("E"), "E let go");
  assert.ok(!t.ring.has("E"));
  assert.equal(t.manager.desired, 2);
  assert.deepEqual(t.manager.snapshot().replicas, ["A", "B"]);
  assert.deepEqual(t.cluster.started, ["A", "B"], "nothing started in its place");
});

Deno.test("manager, following another balancer (shared Docker replicas): a failed replica is let go but still wanted, its replacement fills its place, and the lease makes this one replace", async () => {
  await using t = await setup([], { heartbeatMs: 20, respawns: false });
  await t.manager.add(3, ["A", "B", "C"]);
  t.cluster.get("B").kill("container died (exit code 137)");
  await waitFor(() => !t.manager.has("B"), "B let go");
  assert.equal(t.manager.desired, 3, "the reconciler replaces it: still 3 wanted");
  assert.deepEqual(t.cluster.started, ["A", "B", "C"], "a follower starts nothing");
  assert.equal(await t.cluster.appear({ name: "R", ordinal: 2 }), true, "the replacement");
  assert.equal(t.manager.desired, 3, "in B's place, not one more");
  assert.equal(await t.cluster.appear({ name: "S5", ordinal: 4 }), true, "another's /add");
  assert.equal(t.manager.desired, 4);
  // The reconciler died before replacing C; this balancer takes the lease.
  t.cluster.get("C").kill("container died (exit code 137)");
  await waitFor(() => !t.manager.has("C"), "C let go");
  t.cluster.respawns = true;
  t.cluster.lead();
  await waitFor(() => t.cluster.started.length === 4, "C replaced by this balancer");
  assert.equal(t.manager.snapshot().N, 4);
});

Deno.test("manager, reconciling shared replicas: a replica another balancer numbered like this one's spare takes the number; the spare is replaced", async () => {
  await using t = await setup(["A", "B", "C"], { spares: 1 });
  await waitFor(() => t.manager.spares().length === 1, "a spare");
  const [spare] = t.manager.spares();
  assert.equal(t.cluster.get(spare).serverId, "4");
  // Another balancer's /add: it does not see this one's spares, so it numbered S5 4 too.
  assert.equal(await t.cluster.appear({ name: "S5", ordinal: 4, serverId: "4" }), true);
  await waitFor(() => !t.cluster.get(spare).alive, "the spare holding 4 is stopped");
  await waitFor(
    () => t.manager.spares().length === 1 && t.manager.spares()[0] !== spare,
    "a fresh spare",
  );
  assert.equal(t.cluster.get(t.manager.spares()[0]).serverId, "5");
});

Deno.test("manager: a failed replica's replacement keeps its weight, whether a new replica or a promoted spare", async () => {
  for (const spares of [0, 1]) {
    await using t = await setup([], { ring: new MaglevRing(), spares });
    await t.manager.add(3, ["A", "B", "C"], [3, 1, 2]);
    if (spares) {
      await waitFor(
        () => t.manager.spares().length === 1 && t.cluster.alive().length === 4,
        "a spare",
      );
    }
    if (spares) await waitFor(() => t.events("spare.ready").length === 1, "the spare warm");
    t.cluster.get("A").kill();
    await waitFor(() => t.manager.snapshot().N === 3 && !t.manager.has("A"), "A replaced");
    await waitFor(() => t.ring.size === 3, "the replacement serving");
    const weights = t.ring.nodes().map((n) => n.weight ?? 1).sort();
    assert.deepEqual(weights, [1, 2, 3], `spares ${spares}: the replacement has A's weight`);
    assert.deepEqual(Object.values(t.manager.snapshot().weights ?? {}).sort(), [2, 3]);
  }
});
