/**
 * Properties every ring promises, checked on every algorithm through the factory, plus each
 * algorithm's balance and weight figures with seeded keys.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { createRing, RING_ALGORITHMS, type RingConfig } from "./factory.ts";
import { MaglevRing } from "./maglev_ring.ts";
import type { Ring, RingNode } from "./types.ts";
import { KetamaRing } from "./ketama_ring.ts";
import { RendezvousRing } from "./rendezvous_ring.ts";

const CONFIGS: RingConfig[] = [
  ...RING_ALGORITHMS.map((algorithm) => ({ algorithm })),
  { algorithm: "spec", slotHash: "xxhash" },
  { algorithm: "spec", slotHash: "fnv" },
];
/** Rings whose layout is a function of the member set alone (not of the join order). */
const ORDER_FREE = ["ketama", "maglev", "rendezvous"];
const SEED = 6;

/** Small member sets: distinct names with distinct ordinals (the slot ring holds 56). */
const members = (min: number, max: number) =>
  fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9-]{0,11}$/), { minLength: min, maxLength: max })
    .map((names) => names.map((name, i): RingNode => ({ name, ordinal: i + 1 })));
const keys = fc.array(fc.oneof(fc.integer({ min: 0, max: 999_999 }), fc.string()), {
  minLength: 1,
  maxLength: 200,
});

function build(config: RingConfig, nodes: readonly RingNode[]): Ring {
  const ring = createRing(config);
  for (const node of nodes) ring.add(node);
  return ring;
}

/** A fast seeded PRNG (mulberry32) for the balance checks. */
function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

function loads(ring: Ring, count: number, seed = 42): Map<string, number> {
  const random = mulberry32(seed);
  const counts = new Map(ring.nodes().map((n) => [n.name, 0]));
  for (let i = 0; i < count; i++) {
    const owner = ring.lookup(100_000 + Math.floor(random() * 900_000))!;
    counts.set(owner, counts.get(owner)! + 1);
  }
  return counts;
}

const maxOverMean = (counts: Map<string, number>, total: number) =>
  Math.max(...counts.values()) / (total / counts.size);

for (const config of CONFIGS) {
  const label = config.slotHash ? `${config.algorithm}/${config.slotHash}` : config.algorithm;

  Deno.test(`${label}: two instances built alike route every key alike`, () => {
    fc.assert(
      fc.property(members(1, 12), keys, fc.boolean(), (nodes, keys, shuffle) => {
        const a = build(config, nodes);
        // Order-free rings may even be built in another order.
        const other = shuffle && ORDER_FREE.includes(config.algorithm)
          ? [...nodes].reverse()
          : nodes;
        const b = build(config, other);
        for (const key of keys) assert.deepEqual(a.lookupN(key, 3), b.lookupN(key, 3));
      }),
      { seed: SEED, numRuns: 100 },
    );
  });

  Deno.test(`${label}: lookupN lists distinct members, owner first`, () => {
    fc.assert(
      fc.property(members(0, 12), keys, fc.integer({ min: 0, max: 15 }), (nodes, keys, n) => {
        const ring = build(config, nodes);
        for (const key of keys) {
          const found = ring.lookupN(key, n);
          assert.equal(found.length, Math.min(n, nodes.length));
          assert.equal(new Set(found).size, found.length);
          for (const name of found) assert.ok(ring.has(name));
          if (nodes.length === 0) assert.equal(ring.lookup(key), undefined);
          if (n > 0 && nodes.length > 0) assert.equal(found[0], ring.lookup(key));
        }
      }),
      { seed: SEED, numRuns: 100 },
    );
  });

  // Maglev trades strict monotonicity for its even table: see the bound below.
  if (config.algorithm !== "maglev") {
    Deno.test(`${label}: adding a member moves keys only to it; removing, only its keys`, () => {
      fc.assert(
        fc.property(members(2, 12), keys, (nodes, keys) => {
          const [joiner, ...rest] = nodes;
          const ring = build(config, rest);
          const before = keys.map((k) => ring.lookup(k));
          ring.add(joiner);
          const after = keys.map((k) => ring.lookup(k));
          after.forEach((owner, i) => {
            if (owner !== before[i]) assert.equal(owner, joiner.name);
          });
          ring.remove(joiner.name);
          assert.deepEqual(keys.map((k) => ring.lookup(k)), before);
          const leaver = rest[0];
          ring.remove(leaver.name);
          keys.forEach((k, i) => {
            if (before[i] !== leaver.name) assert.equal(ring.lookup(k), before[i]);
          });
        }),
        { seed: SEED, numRuns: 100 },
      );
    });
  }
}

Deno.test("maglev: a membership change moves almost only the keys it must", () => {
  const keys = Array.from({ length: 50_000 }, (_, i) => i * 17);
  for (const n of [3, 6, 10]) {
    const nodes = Array.from(
      { length: n + 1 },
      (_, i) => ({ name: `Server ${i + 1}`, ordinal: i + 1 }),
    );
    const ring = build({ algorithm: "maglev" }, nodes.slice(0, n));
    const before = keys.map((k) => ring.lookup(k));
    ring.add(nodes[n]);
    const after = keys.map((k) => ring.lookup(k));
    const moved = after.filter((owner, i) => owner !== before[i]).length;
    const stray = after.filter((owner, i) => owner !== before[i] && owner !== nodes[n].name).length;
    // Ideal: 1/(n+1) of the keys move, all to the new member.
    assert.ok(moved / keys.length <= 1.1 / (n + 1), `n=${n}: ${moved} moved`);
    assert.ok(stray / keys.length < 0.01, `n=${n}: ${stray} moved between old members`);
  }
});

Deno.test("ketama, maglev, rendezvous: max/mean ≤ 1.10 for 10,000 seeded ids at N = 3..6", () => {
  for (const algorithm of ORDER_FREE) {
    for (let n = 3; n <= 6; n++) {
      const nodes = Array.from(
        { length: n },
        (_, i) => ({ name: `Server ${i + 1}`, ordinal: i + 1 }),
      );
      const ratio = maxOverMean(loads(build({ algorithm } as RingConfig, nodes), 10_000), 10_000);
      assert.ok(ratio <= 1.1, `${algorithm} N=${n}: max/mean ${ratio.toFixed(3)}`);
    }
  }
});

Deno.test("the spec ring's skew: Server 1 takes most ids at N = 3", () => {
  const nodes = [1, 2, 3].map((i) => ({ name: `Server ${i}`, ordinal: i }));
  const counts = loads(build({ algorithm: "spec" }, nodes), 10_000);
  assert.ok(counts.get("Server 1")! > 8_000, JSON.stringify([...counts]));
});

Deno.test("weights: a member of weight 2 gets about twice the keys", () => {
  const nodes: RingNode[] = [
    { name: "big", ordinal: 1, weight: 2 },
    { name: "small-a", ordinal: 2 },
    { name: "small-b", ordinal: 3 },
  ];
  for (const algorithm of ORDER_FREE) {
    const counts = loads(build({ algorithm } as RingConfig, nodes), 40_000);
    const share = counts.get("big")! / 40_000;
    assert.ok(Math.abs(share - 0.5) < 0.03, `${algorithm}: weight-2 share ${share}`);
  }
  const ring = new MaglevRing({ tableSize: 65537 });
  for (const node of nodes) ring.add(node);
  const entries = ring.entryCounts();
  assert.ok(Math.abs(entries.get("big")! - 65537 / 2) < 100, JSON.stringify([...entries]));
});

Deno.test("bad options and members are refused with a clear error", () => {
  assert.throws(() => new MaglevRing({ tableSize: 65536 }), /prime/);
  assert.throws(() => new KetamaRing({ points: 0 }), /points/);
  const ring = new RendezvousRing();
  assert.throws(() => ring.add({ name: "a", ordinal: 1, weight: 0 }), /weight of 'a'/);
  assert.throws(() => ring.add({ name: "a", ordinal: 1, weight: Number.NaN }), /weight/);
  ring.add({ name: "a", ordinal: 1 });
  assert.throws(() => ring.add({ name: "a", ordinal: 2 }), /already in the ring/);
  assert.equal(ring.size, 1);
  const small = new MaglevRing({ tableSize: 3 });
  for (const name of ["a", "b", "c"]) small.add({ name, ordinal: 1 });
  assert.throws(() => small.add({ name: "d", ordinal: 4 }), /no room for 'd'/);
  assert.equal(new KetamaRing().lookup(1), undefined);
  assert.deepEqual(new MaglevRing().lookupN(1, 3), []);
});
