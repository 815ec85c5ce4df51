import assert from "node:assert/strict";
import fc from "fast-check";
import { costOf, EWMA_DECAY_MS, PeakEwma, pickTwo, slowStartShare } from "./balance.ts";
import { BoundedLoadRing, MaglevRing, mulberry32 } from "../../ring/mod.ts";

Deno.test("peak EWMA: a slow answer counts at once, fast ones pull it down, silence decays it", () => {
  const e = new PeakEwma();
  assert.equal(e.estimate(0), 0, "a new replica looks fast");
  e.observe(10, 0);
  assert.equal(e.estimate(0), 10);
  e.observe(200, 1);
  assert.equal(e.estimate(1), 200, "the peak, at once");
  e.observe(10, 2);
  assert.ok(e.estimate(2) > 190, "one fast answer right after barely moves it");
  e.observe(10, 2 + EWMA_DECAY_MS);
  assert.ok(
    e.estimate(2 + EWMA_DECAY_MS) < 90,
    "a fast one a decay time later pulls it most of the way",
  );
  const quiet = new PeakEwma();
  quiet.observe(1000, 0);
  assert.ok(quiet.estimate(3 * EWMA_DECAY_MS) < 60, "no answers for 30 s: it is tried again");
});

Deno.test("power of two choices: the cheaper of the two drawn; fail-overs by cost; never a replica twice", () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ inFlight: fc.nat(20), latency: fc.nat(500) }), {
        minLength: 1,
        maxLength: 8,
      }),
      fc.integer({ min: 1, max: 10 }),
      fc.integer(),
      (specs, n, seed) => {
        const replicas = specs.map((s) => {
          const latency = new PeakEwma();
          latency.observe(s.latency, 0);
          return { inFlight: s.inFlight, latency };
        });
        for (const policy of ["p2c-ewma", "least-request"] as const) {
          const picked = pickTwo(replicas, n, policy, mulberry32(seed), 0);
          assert.equal(picked.length, Math.min(n, replicas.length));
          assert.equal(new Set(picked).size, picked.length);
          // The first beat (or tied) another one drawn: never the strictly dearest of all.
          if (replicas.length > 1) {
            const first = costOf(policy, picked[0], 0);
            assert.ok(replicas.some((r) => r !== picked[0] && costOf(policy, r, 0) >= first));
          }
          // Fail-overs from the cheapest up.
          const costs = picked.slice(1).map((r) => costOf(policy, r, 0));
          for (let i = 1; i < costs.length; i++) assert.ok(costs[i - 1] <= costs[i]);
        }
      },
    ),
  );
});

Deno.test("least-request spreads a burst evenly; p2c-ewma keeps most requests off a slow replica", () => {
  const random = mulberry32(7);
  const make = (latency: number) => {
    const e = new PeakEwma();
    e.observe(latency, 0);
    return { inFlight: 0, latency: e, got: 0 };
  };
  const replicas = [make(5), make(5), make(500)];
  for (let i = 0; i < 3000; i++) pickTwo(replicas, 1, "p2c-ewma", random, 0)[0].got++;
  assert.ok(replicas[2].got < 3000 * 0.34 * 0.5, `the slow one got ${replicas[2].got}`);
  const busy = [make(5), make(5), make(5)];
  for (let i = 0; i < 300; i++) pickTwo(busy, 1, "least-request", random, 0)[0].inFlight++;
  const counts = busy.map((r) => r.inFlight);
  // (Two choices, not all three: the one not drawn can lag a little, never far.)
  assert.ok(Math.max(...counts) - Math.min(...counts) <= 3, counts.join(","));
});

Deno.test("slow start: the share ramps from 10 % to all over the time; a ramping replica wins few draws", () => {
  assert.equal(slowStartShare(0, 0), 1, "off");
  assert.equal(slowStartShare(0, 10_000), 0.1);
  assert.equal(slowStartShare(5_000, 10_000), 0.5);
  assert.equal(slowStartShare(10_000, 10_000), 1);
  const random = mulberry32(11);
  const make = (share: number) => ({
    inFlight: 0,
    latency: new PeakEwma(),
    share: () => share,
    got: 0,
  });
  const replicas = [make(1), make(1), make(0.1)];
  for (let i = 0; i < 9000; i++) pickTwo(replicas, 1, "least-request", random, 0)[0].got++;
  // Equal costs: a full one wins half its draws; the ramping one a tenth of that.
  assert.ok(replicas[2].got < 9000 * 0.1, `the new one got ${replicas[2].got} of 9000`);
  assert.ok(replicas[2].got > 0, "but some");
});

Deno.test("slow start with bounded loads: a ramping member's cap is its share of the ring's", () => {
  const ring = new BoundedLoadRing(new MaglevRing(), 0.25);
  for (const name of ["a", "b", "c", "d"]) ring.add({ name, ordinal: 1 });
  ring.capShare = (name) => name === "d" ? 0.1 : 1;
  // Load everyone to 8 in flight: the cap is ⌈1.25 × 33 / 4⌉ = 11 for a, b, c; d's is 2.
  for (const name of ["a", "b", "c"]) for (let i = 0; i < 8; i++) ring.acquire(name);
  ring.acquire("d");
  ring.acquire("d");
  const dKeys = Array.from({ length: 2000 }, (_, i) => i).filter((k) =>
    ring.inner.lookup(k) === "d"
  );
  assert.ok(dKeys.length > 0);
  for (const key of dKeys) assert.notEqual(ring.lookup(key), "d", "d is at its slow-start cap");
  ring.capShare = undefined;
  assert.equal(ring.lookup(dKeys[0]), "d", "no slow start: under the ring's cap");
});

Deno.test("p2c-ewma: a replica with no answer yet is not free (its requests in flight count); a slow failure is not fast", () => {
  const random = mulberry32(3);
  const fresh = { inFlight: 50, latency: new PeakEwma(), got: 0 };
  const warm = () => {
    const latency = new PeakEwma();
    latency.observe(5, 0);
    return { inFlight: 0, latency, got: 0 };
  };
  const replicas = [fresh, warm(), warm()];
  for (let i = 0; i < 3000; i++) pickTwo(replicas, 1, "p2c-ewma", random, 0)[0].got++;
  assert.equal(fresh.got, 0, "50 in flight and no answer yet: never cheaper than an idle one");
  const hung = new PeakEwma();
  hung.observe(2, 0);
  hung.penalize(15_000, 100); // a try that timed out
  assert.ok(hung.estimate(100) >= 15_000);
  hung.penalize(1, 200); // a fast failure lowers nothing
  assert.ok(hung.estimate(200) > 14_000);
});

Deno.test("slow start, all ramping together (a balancer's first replicas): costs still decide", () => {
  const random = mulberry32(5);
  const make = (inFlight: number) => ({
    inFlight,
    latency: new PeakEwma(),
    share: () => 0.2,
    got: 0,
  });
  const replicas = [make(50), make(0), make(0)];
  for (let i = 0; i < 3000; i++) pickTwo(replicas, 1, "least-request", random, 0)[0].got++;
  assert.equal(replicas[0].got, 0, "the busy one loses every draw");
});
