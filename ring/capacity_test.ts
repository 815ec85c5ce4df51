import assert from "node:assert/strict";
import { createRing, ringCapacity, RingFullError } from "./mod.ts";

Deno.test("ringCapacity: as many members as the ring takes, and not one more", () => {
  for (
    const config of [
      { algorithm: "spec" as const },
      { algorithm: "spec" as const, size: 100, vnodes: 5 },
      { algorithm: "ketama" as const, vnodes: 100_000 },
    ]
  ) {
    const capacity = ringCapacity(config);
    const ring = createRing(config);
    for (let i = 1; i <= capacity; i++) ring.add({ name: `r${i}`, ordinal: i });
    assert.throws(() => ring.add({ name: "one-more", ordinal: capacity + 1 }), RingFullError);
  }
});

Deno.test("ringCapacity: Maglev's is a hundredth of its table; rendezvous has none", () => {
  assert.equal(ringCapacity({ algorithm: "maglev" }), 655);
  assert.equal(ringCapacity({ algorithm: "maglev", size: 251 }), 2);
  assert.equal(ringCapacity({ algorithm: "rendezvous" }), Infinity);
});
