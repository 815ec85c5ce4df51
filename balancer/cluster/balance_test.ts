import assert from "node:assert/strict";
import fc from "fast-check";
import { costOf, EWMA_DECAY_MS, PeakEwma, pickTwo } from "./balance.ts";
import { mulberry32 } from "../../ring/mod.ts";

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
          // The first is at most the cost of the median: it beat another drawn at random.
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
