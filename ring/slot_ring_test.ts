import assert from "node:assert/strict";
import fc from "fast-check";
import { SlotRing } from "./slot_ring.ts";
import { RingFullError } from "./types.ts";

const SPEC_SERVERS = [
  { name: "Server 1", ordinal: 1 },
  { name: "Server 2", ordinal: 2 },
  { name: "Server 3", ordinal: 3 },
];

function specRing(): SlotRing {
  const ring = new SlotRing();
  for (const node of SPEC_SERVERS) ring.add(node);
  return ring;
}

function slotsOf(ring: SlotRing, name: string): number[] {
  return ring.virtualNodes().filter((v) => v.name === name).map((v) => v.slot);
}

Deno.test("defaults are the assignment's: M = 512, K = log2(512) = 9", () => {
  const ring = new SlotRing();
  assert.equal(ring.slotCount, 512);
  assert.equal(ring.virtualNodeCount, 9);
});

Deno.test("virtual nodes of servers 1..3 sit at Φ(i, j) mod 512, linear probing on collisions", () => {
  const ring = specRing();
  // Φ(1, j) = 26 + j² + 2j: no collisions for the first server.
  assert.deepEqual(slotsOf(ring, "Server 1"), [26, 29, 34, 41, 50, 61, 74, 89, 106]);
  // Φ(2, 0) = 29 is Server 1's: probed to 30.
  assert.deepEqual(slotsOf(ring, "Server 2"), [30, 32, 37, 44, 53, 64, 77, 92, 109]);
  // Φ(3, 0) = 34 and Φ(3, 1) = 37 are taken: probed to 35 and 38.
  assert.deepEqual(slotsOf(ring, "Server 3"), [35, 38, 42, 49, 58, 69, 82, 97, 114]);
  assert.equal(ring.virtualNodes().length, 27);
});

Deno.test("the spec's H and Φ crowd all 27 virtual nodes into one arc (the known skew)", () => {
  const ring = specRing();
  const slots = ring.virtualNodes().map((v) => v.slot);
  assert.deepEqual([Math.min(...slots), Math.max(...slots)], [26, 114]);
  // H(i) mod 512 = ((i + 1)² + 16) mod 512 reaches few slots: squares mod 2⁹ take few values.
  const requestSlots = new Set(Array.from({ length: 1024 }, (_, i) => ring.slotOf(i)));
  assert.equal(requestSlots.size, 87);
  // Every key hashing past slot 114 wraps around to slot 26: Server 1 owns most ids.
  const counts = new Map<string, number>();
  for (let id = 100_000; id < 1_000_000; id++) {
    const owner = ring.lookup(id)!;
    counts.set(owner, (counts.get(owner) ?? 0) + 1);
  }
  assert.deepEqual(Object.fromEntries(counts), {
    "Server 1": 759_374,
    "Server 2": 42_187,
    "Server 3": 98_439,
  });
});

Deno.test("quadratic probing tries s+1, s+4, …", () => {
  const ring = new SlotRing({ probing: "quadratic" });
  for (const node of SPEC_SERVERS) ring.add(node);
  // Φ(2, 0) = 29 is taken; 29 + 1 = 30 is free.
  assert.equal(slotsOf(ring, "Server 2")[0], 30);
  // Φ(3, 0) = 34 taken, 35 free; Φ(3, 1) = 37 taken, 38 free.
  assert.deepEqual(slotsOf(ring, "Server 3").slice(0, 2), [35, 38]);
  // A slot whose s+1 is taken but s+4 is free differs from linear probing.
  const small = new SlotRing({
    slots: 16,
    virtualNodes: 1,
    virtualNodeHash: (i) => (i <= 2 ? i : 0),
    probing: "quadratic",
  });
  small.add({ name: "a", ordinal: 0 }); // slot 0
  small.add({ name: "b", ordinal: 1 }); // slot 1
  small.add({ name: "c", ordinal: 3 }); // home 0: 0 and 1 taken, 0 + 4 = 4
  assert.deepEqual(slotsOf(small, "c"), [4]);
});

Deno.test("lookup takes the first virtual node clockwise and wraps around", () => {
  const ring = new SlotRing({ requestHash: (i) => i });
  for (const node of SPEC_SERVERS) ring.add(node);
  assert.equal(ring.slotOf(26), 26);
  assert.equal(ring.lookup(26), "Server 1"); // exactly on a virtual node
  assert.equal(ring.lookup(27), "Server 1"); // next is 29 (Server 1)
  assert.equal(ring.lookup(30), "Server 2");
  assert.equal(ring.lookup(110), "Server 3"); // 114
  assert.equal(ring.lookup(115), "Server 1"); // past the last: wraps to 26
  assert.equal(ring.lookup(511 + 512 * 7), "Server 1");
  assert.equal(ring.lookup(0), "Server 1");
});

Deno.test("numeric ids go through H as numbers; string keys are hashed first", () => {
  const ring = specRing();
  assert.equal(ring.slotOf(123456), (123456 * 123456 + 2 * 123456 + 17) % 512);
  assert.equal(ring.slotOf("123456"), ring.slotOf(123456));
  assert.equal(typeof ring.lookup("session-abc"), "string");
});

Deno.test("empty ring: lookup is undefined, lookupN is empty", () => {
  const ring = new SlotRing();
  assert.equal(ring.lookup(1), undefined);
  assert.deepEqual(ring.lookupN(1, 3), []);
});

Deno.test("lookupN returns the owner first, then distinct members, at most the ring's size", () => {
  const ring = specRing();
  for (let id = 0; id < 2000; id++) {
    const order = ring.lookupN(id, 5);
    assert.equal(order.length, 3);
    assert.equal(new Set(order).size, 3);
    assert.equal(order[0], ring.lookup(id));
    assert.deepEqual(ring.lookupN(id, 2), order.slice(0, 2));
  }
  assert.deepEqual(ring.lookupN(1, 0), []);
});

Deno.test("add rejects a duplicate name; remove of an absent name is false", () => {
  const ring = specRing();
  assert.throws(() => ring.add({ name: "Server 1", ordinal: 9 }), /already in the ring/);
  assert.equal(ring.remove("nope"), false);
  assert.equal(ring.size, 3);
});

Deno.test("two members with one ordinal: both placed, in the canonical order, whatever the join order", () => {
  // Two balancers sharing replicas may number two new ones alike at the same moment.
  const a = specRing();
  a.add({ name: "S9", ordinal: 2 });
  const b = new SlotRing();
  for (const node of [{ name: "S9", ordinal: 2 }, ...SPEC_SERVERS]) b.add(node);
  assert.equal(a.size, 4);
  assert.deepEqual(b.points(), a.points());
  assert.equal(a.points().filter((p) => p.name === "S9").length, 9, "all 9 of its virtual nodes");
  for (let id = 0; id < 5000; id++) assert.equal(b.lookup(id), a.lookup(id));
  a.remove("Server 2");
  assert.equal(a.points().filter((p) => p.name === "S9").length, 9);
});

Deno.test("a full ring refuses another member with RingFullError", () => {
  const ring = new SlotRing();
  assert.equal(ring.capacity, 56); // floor(512 / 9)
  for (let i = 1; i <= 56; i++) ring.add({ name: `s${i}`, ordinal: i });
  assert.equal(ring.capacity, 0);
  assert.throws(() => ring.add({ name: "s57", ordinal: 57 }), RingFullError);
  assert.equal(ring.size, 56);
});

Deno.test("invalid options are a RangeError", () => {
  assert.throws(() => new SlotRing({ slots: 0 }), RangeError);
  assert.throws(() => new SlotRing({ slots: 8, virtualNodes: 9 }), RangeError);
  assert.throws(() => new SlotRing({ virtualNodes: 1.5 }), RangeError);
});

// ---- properties (fast-check) ----

/** A set of distinct members with distinct ordinals. */
const members = fc.uniqueArray(fc.integer({ min: 1, max: 500 }), { minLength: 1, maxLength: 20 })
  .map((ordinals) => ordinals.map((ordinal) => ({ name: `s${ordinal}`, ordinal })));
const keys = fc.array(fc.oneof(fc.nat(), fc.string()), { minLength: 1, maxLength: 50 });
const probing = fc.constantFrom("linear" as const, "quadratic" as const);

Deno.test("property: the same adds give the same ring (determinism)", () => {
  fc.assert(fc.property(members, keys, probing, (nodes, ks, p) => {
    const a = new SlotRing({ probing: p });
    const b = new SlotRing({ probing: p });
    for (const n of nodes) a.add(n);
    for (const n of nodes) b.add(n);
    assert.deepEqual(a.virtualNodes(), b.virtualNodes());
    for (const k of ks) assert.deepEqual(a.lookupN(k, 3), b.lookupN(k, 3));
  }));
});

Deno.test("property: adding a member moves keys to it, and others' only where probing re-placed them", () => {
  fc.assert(fc.property(members, keys, probing, (nodes, ks, p) => {
    const ring = new SlotRing({ probing: p });
    const [newcomer, ...rest] = nodes;
    for (const n of rest) ring.add(n);
    const before = ks.map((k) => ring.lookup(k));
    const old = copy(ring, p);
    ring.add(newcomer);
    const moved = displaced(old, ring);
    ks.forEach((k, index) => {
      const after = ring.lookup(k);
      if (after !== before[index] && after !== newcomer.name) {
        assert.ok(
          moved.has(after!) || moved.has(before[index]!),
          `${k}: ${before[index]} → ${after}`,
        );
      }
    });
  }));
});

Deno.test("adding members in ordinal order moves keys only to the newcomer (as the assignment's ring does)", () => {
  fc.assert(fc.property(members, keys, probing, (nodes, ks, p) => {
    const sorted = [...nodes].sort((a, b) => a.ordinal - b.ordinal);
    const ring = new SlotRing({ probing: p });
    const last = sorted.pop()!;
    for (const n of sorted) ring.add(n);
    const before = ks.map((k) => ring.lookup(k));
    ring.add(last); // the highest ordinal: placed last, as when it joined last
    ks.forEach((k, index) => {
      const after = ring.lookup(k);
      if (after !== before[index]) assert.equal(after, last.name);
    });
  }));
});

/** Members whose virtual nodes sit in other slots in `after` than in `before`. */
function displaced(before: SlotRing, after: SlotRing): Set<string> {
  const slotsOf = (ring: SlotRing) => {
    const map = new Map<string, string>();
    for (const v of ring.virtualNodes()) map.set(v.name, `${map.get(v.name) ?? ""},${v.slot}`);
    return map;
  };
  const [a, b] = [slotsOf(before), slotsOf(after)];
  return new Set(
    [...b].filter(([name, slots]) => a.has(name) && a.get(name) !== slots).map(([n]) => n),
  );
}

/** A copy of `ring` (the same member set). */
function copy(ring: SlotRing, p: "linear" | "quadratic"): SlotRing {
  const twin = new SlotRing({ probing: p });
  for (const node of ring.nodes()) twin.add(node);
  return twin;
}

Deno.test("property: removing a member moves its keys, and others' only where probing re-placed them; remove undoes add", () => {
  fc.assert(fc.property(members, keys, probing, (nodes, ks, p) => {
    const ring = new SlotRing({ probing: p });
    for (const n of nodes) ring.add(n);
    const gone = nodes[Math.floor(nodes.length / 2)];
    const before = ks.map((k) => ring.lookup(k));
    const old = copy(ring, p);
    assert.equal(ring.remove(gone.name), true);
    // Placement is canonical (by ordinal): a virtual node the removed one had pushed along by
    // probing goes back to its home slot. Keys move only from the member that left, or to or
    // from a member re-placed so.
    const moved = displaced(old, ring);
    ks.forEach((k, index) => {
      const now = ring.lookup(k);
      assert.notEqual(now, gone.name);
      if (now !== before[index] && before[index] !== gone.name) {
        assert.ok(moved.has(now!) || moved.has(before[index]!), `${k}: ${before[index]} → ${now}`);
      }
    });
    // The table is the one a ring built from the members left would have.
    const fresh = new SlotRing({ probing: p });
    for (const n of nodes) if (n.name !== gone.name) fresh.add(n);
    assert.deepEqual(ring.virtualNodes(), fresh.virtualNodes());
    ring.add(gone);
    assert.deepEqual(ring.virtualNodes(), old.virtualNodes(), "adding it back undoes the removal");
  }));
});

Deno.test("property: lookupN is distinct, owner-first and sized min(n, members)", () => {
  fc.assert(fc.property(members, keys, fc.integer({ min: 0, max: 25 }), (nodes, ks, n) => {
    const ring = new SlotRing();
    for (const node of nodes) ring.add(node);
    for (const k of ks) {
      const order = ring.lookupN(k, n);
      assert.equal(order.length, Math.min(n, nodes.length));
      assert.equal(new Set(order).size, order.length);
      if (n > 0) assert.equal(order[0], ring.lookup(k));
    }
  }));
});

Deno.test("property: every member owns exactly K distinct slots", () => {
  fc.assert(fc.property(members, probing, (nodes, p) => {
    const ring = new SlotRing({ probing: p });
    for (const n of nodes) ring.add(n);
    const layout = ring.virtualNodes();
    assert.equal(layout.length, nodes.length * 9);
    assert.equal(new Set(layout.map((v) => v.slot)).size, layout.length);
  }));
});
