import assert from "node:assert/strict";
import fc from "fast-check";
import { BoundedLoadRing } from "./bounded_load.ts";
import { createRing, RING_ALGORITHMS } from "./factory.ts";
import { isLoadAware } from "./types.ts";

const names = (n: number) => Array.from({ length: n }, (_, i) => `Server ${i + 1}`);

function bounded(algorithm: typeof RING_ALGORITHMS[number], n: number, epsilon: number) {
  const ring = new BoundedLoadRing(createRing({ algorithm }), epsilon);
  names(n).forEach((name, i) => ring.add({ name, ordinal: i + 1 }));
  return ring;
}

Deno.test("bounded loads: no member ever passes ⌈(1+ε)·average⌉ (property, every ring)", () => {
  const step = fc.record({
    key: fc.integer({ min: 0, max: 999_999 }),
    release: fc.nat(),
    releasing: fc.boolean(),
  });
  for (const algorithm of RING_ALGORITHMS) {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.constantFrom(0.1, 0.25, 1),
        fc.array(step, { maxLength: 300 }),
        (n, epsilon, steps) => {
          const ring = bounded(algorithm, n, epsilon);
          const open: string[] = [];
          for (const { key, release, releasing } of steps) {
            if (releasing && open.length > 0) {
              ring.release(open.splice(release % open.length, 1)[0]);
              continue;
            }
            const cap = ring.cap;
            const [chosen, ...rest] = ring.lookupN(key, n);
            assert.equal(chosen, ring.lookup(key));
            assert.ok(ring.load(chosen) < cap, `${chosen} at ${ring.load(chosen)}, cap ${cap}`);
            assert.equal(new Set([chosen, ...rest]).size, n);
            ring.acquire(chosen);
            open.push(chosen);
            // Mirrokni et al.: the member a request lands on has at most ⌈(1+ε)·m/n⌉ of
            // the m requests in flight, counting this one.
            assert.ok(ring.load(chosen) <= Math.ceil((1 + epsilon) * ring.inFlight / n));
          }
        },
      ),
      { seed: 6, numRuns: 60 },
    );
  }
});

Deno.test("bounded loads: a key stays on its owner while the owner is under the cap", () => {
  const ring = bounded("ketama", 3, 0.25);
  const inner = ring.inner;
  for (let key = 0; key < 500; key++) assert.equal(ring.lookup(key), inner.lookup(key));
  // One hot key: 30 concurrent requests spread instead of piling onto one member.
  for (let i = 0; i < 30; i++) ring.acquire(ring.lookup(777)!);
  const loads = names(3).map((name) => ring.load(name));
  assert.ok(Math.max(...loads) <= Math.ceil(1.25 * 30 / 3), JSON.stringify(loads));
  assert.equal(loads.reduce((a, b) => a + b), 30);
  // The owner first in the fail-over order once it is back under the cap.
  for (const name of names(3)) while (ring.load(name) > 0) ring.release(name);
  assert.equal(ring.inFlight, 0);
  assert.equal(ring.lookupN(777, 3)[0], inner.lookup(777));
});

Deno.test("bounded loads: releases of members that left, and extra releases, are harmless", () => {
  const ring = bounded("maglev", 2, 0.25);
  ring.acquire("Server 1");
  ring.remove("Server 1");
  assert.equal(ring.size, 1);
  ring.release("Server 1");
  ring.release("Server 1");
  ring.release("nobody");
  assert.equal(ring.inFlight, 0);
  assert.ok(isLoadAware(ring));
  assert.ok(!isLoadAware(createRing({ algorithm: "maglev" })));
  assert.throws(() => new BoundedLoadRing(createRing({ algorithm: "spec" }), 0), /ε/);
  assert.equal(new BoundedLoadRing(createRing({ algorithm: "spec" })).lookup(5), undefined);
});
