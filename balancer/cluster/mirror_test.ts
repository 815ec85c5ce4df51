import assert from "node:assert/strict";
import { createRing } from "../../ring/mod.ts";
import { MirroredCluster } from "./mirror.ts";
import { Abort } from "../support/mod.ts";

const m = (name: string, ordinal: number, port = 1000 + ordinal) => ({
  name,
  ordinal,
  url: `http://127.0.0.1:${port}`,
});

Deno.test("mirror: routes as a ring of the members sent; an older version changes nothing", () => {
  const mirror = new MirroredCluster(createRing({ algorithm: "spec" }), () => {});
  const reference = createRing({ algorithm: "spec" });
  for (const node of [m("S1", 1), m("S2", 2), m("S3", 3)]) reference.add(node);
  mirror.apply({ version: 2, members: [m("S3", 3), m("S1", 1), m("S2", 2)] });
  for (let key = 0; key < 500; key++) {
    assert.deepEqual(mirror.route(key, 3).map((t) => t.name), reference.lookupN(key, 3));
    assert.equal(mirror.route(key, 1)[0].name, reference.lookup(key));
  }
  mirror.apply({ version: 1, members: [] }); // late: ignored
  assert.equal(mirror.route(7, 1).length, 1);
  assert.equal(mirror.version, 2);
});

Deno.test("mirror: a member that leaves the ring keeps its tries in flight until it ends; one back at another URL is a new target", () => {
  const outcomes: string[] = [];
  const mirror = new MirroredCluster(
    createRing({ algorithm: "ketama" }),
    (name, outcome) => outcomes.push(`${name} ${outcome}`),
  );
  mirror.apply({ version: 1, members: [m("S1", 1), m("S2", 2)] });
  const [s1] = mirror.route(1, 2).filter((t) => t.name === "S1");
  const attempt = new Abort();
  s1.watch(attempt);
  s1.report("reset");
  assert.deepEqual(outcomes, ["S1 reset"], "outcomes go to the control plane");
  // Out of the ring (a /rm draining it, an outlier ejection): no new requests, and what is in
  // flight may finish, as on the control plane.
  mirror.apply({ version: 2, members: [m("S2", 2)] });
  for (let key = 0; key < 100; key++) assert.equal(mirror.route(key, 1)[0].name, "S2");
  assert.equal(attempt.aborted, false);
  // It ended (its process exited): now its tries give up.
  mirror.ended("S1");
  assert.equal(attempt.aborted, true);
  assert.equal(s1.ejected.aborted, true);
  // Back at another address: a new target.
  mirror.apply({ version: 3, members: [m("S1", 1, 2001), m("S2", 2)] });
  const again = mirror.route(1, 2).find((t) => t.name === "S1")!;
  assert.equal(again.url, "http://127.0.0.1:2001");
  assert.notEqual(again, s1);
  // The same name at another address while in the ring: the old target ends at once.
  const watched = new Abort();
  again.watch(watched);
  mirror.apply({ version: 4, members: [m("S1", 1, 3001), m("S2", 2)] });
  assert.equal(watched.aborted, true);
});

Deno.test("mirror, load-aware (--balance with --workers): the worker's own in-flight counts and answer times decide the draw", () => {
  // least-request: of two drawn, the one with fewer of this worker's requests in flight.
  const least = new MirroredCluster(createRing({ algorithm: "maglev" }), () => {}, {
    balance: "least-request",
  });
  least.apply({ version: 1, members: [m("S1", 1), m("S2", 2)] });
  const [s1] = least.route("k", 2).filter((t) => t.name === "S1");
  for (let i = 0; i < 3; i++) s1.enter();
  for (let key = 0; key < 50; key++) assert.equal(least.route(key, 1)[0].name, "S2");
  for (let i = 0; i < 3; i++) s1.leave();
  assert.equal(s1.timed, false, "least-request does not time answers");

  // p2c-ewma: a replica this worker saw answer slowly loses the draw, whatever the key.
  const ewma = new MirroredCluster(createRing({ algorithm: "maglev" }), () => {}, {
    balance: "p2c-ewma",
  });
  ewma.apply({ version: 1, members: [m("S1", 1), m("S2", 2)] });
  const now = performance.now();
  for (const target of ewma.route("k", 2)) {
    assert.equal(target.timed, true);
    target.answered(target.name === "S1" ? 200 : 2, now);
  }
  const owners = new Set(Array.from({ length: 50 }, (_, key) => ewma.route(key, 1)[0].name));
  assert.deepEqual([...owners], ["S2"]);
  // A failure that took long counts as slow too.
  const fresh = new MirroredCluster(createRing({ algorithm: "maglev" }), () => {}, {
    balance: "p2c-ewma",
  });
  fresh.apply({ version: 1, members: [m("S1", 1), m("S2", 2)] });
  for (const target of fresh.route("k", 2)) {
    if (target.name === "S2") target.failed(500, performance.now());
  }
  assert.equal(fresh.route(1, 1)[0].name, "S1");
});

Deno.test("mirror, slow start (--slow-start with --workers): a member new to the worker ramps up in the draw and under a bounded-load cap", () => {
  let now = 1_000;
  const clock = () => now;
  // least-request: a newcomer with nothing in flight would win every draw; in slow start it
  // stays in the draw only with its share's probability (10 % at first).
  const mirror = new MirroredCluster(createRing({ algorithm: "maglev" }), () => {}, {
    balance: "least-request",
    slowStartMs: 10_000,
    now: clock,
  });
  mirror.apply({ version: 1, members: [m("S1", 1)] });
  now += 20_000; // S1 has served long
  const [s1] = mirror.route("k", 1);
  for (let i = 0; i < 5; i++) s1.enter(); // busy: a cold newcomer would take everything
  mirror.apply({ version: 2, members: [m("S1", 1), m("S2", 2)] });
  const picks = (n: number) =>
    Array.from({ length: n }, (_, key) => mirror.route(key, 1)[0].name)
      .filter((name) => name === "S2").length;
  const cold = picks(1_000);
  assert.ok(cold > 30 && cold < 200, `S2 at 10 %: ${cold} of 1,000`);
  now += 10_000; // ramped
  const warm = picks(1_000);
  assert.equal(warm, 1_000, "S2 idle and warm: every draw");

  // Bounded load: a member's cap is its share of the ring's cap while it ramps.
  const bounded = new MirroredCluster(
    createRing({ algorithm: "maglev", boundedLoad: 0.25 }),
    () => {},
    { slowStartMs: 10_000, now: clock },
  );
  bounded.apply({ version: 1, members: [m("S1", 1), m("S2", 2), m("S3", 3)] });
  const ring = bounded.load as unknown as { capShare?: (name: string) => number };
  assert.equal(ring.capShare?.("S1"), 0.1, "new to the worker: 10 % of its cap");
  now += 5_000;
  assert.equal(ring.capShare?.("S1"), 0.5);
  now += 5_000;
  assert.equal(ring.capShare?.("S1"), 1);
});
