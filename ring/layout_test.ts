import assert from "node:assert/strict";
import { createRing, ringLayout } from "./mod.ts";

const nodes = ["S1", "S2", "S3"].map((name, i) => ({ name, ordinal: i + 1 }));

Deno.test("ring layout: points where the ring has them; shares that add up to 1", () => {
  for (const algorithm of ["spec", "ketama", "maglev", "rendezvous"] as const) {
    const ring = createRing({ algorithm });
    for (const node of nodes) ring.add(node);
    const layout = ringLayout(ring);
    const total = Object.values(layout.shares).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(total - 1) < 1e-9, `${algorithm}: shares add up to ${total}`);
    assert.deepEqual(Object.keys(layout.shares).sort(), ["S1", "S2", "S3"]);
    for (const { at, name } of layout.points) {
      assert.ok(at >= 0 && at < 1 && ["S1", "S2", "S3"].includes(name), `${algorithm} ${at}`);
    }
    const points = layout.points.length;
    if (algorithm === "spec") assert.equal(points, 3 * 9, "the slot ring: 9 virtual nodes each");
    else if (algorithm === "ketama") assert.ok(points >= 3 * 100, `ketama: ${points} points`);
    else assert.equal(points, 0, `${algorithm} has no points`);
    // Maglev's shares are its table's, exactly; the others are estimated from sample keys.
    assert.equal(layout.sampled, algorithm === "maglev" ? 0 : 4096);
  }
});

Deno.test("ring layout: a bounded-load ring is drawn as the ring under it", () => {
  const plain = createRing({ algorithm: "ketama" });
  const bounded = createRing({ algorithm: "ketama", boundedLoad: 0.25 });
  for (const node of nodes) {
    plain.add(node);
    bounded.add(node);
  }
  assert.deepEqual(ringLayout(bounded), ringLayout(plain));
});
