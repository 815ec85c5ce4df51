/**
 * Ring micro-benchmarks: lookup cost per key and build cost, for every algorithm at
 * N = 3, 10, 100 and 1000 members (the spec ring holds 56, so it stops at 10).
 *
 *     deno bench ring/
 */

import { createRing, RING_ALGORITHMS, type RingConfig } from "./factory.ts";
import type { Ring } from "./types.ts";

const SIZES = [3, 10, 100, 1000];
const KEYS = Array.from({ length: 4096 }, (_, i) => 100_000 + ((i * 2654435761) >>> 0) % 900_000);
const TEXT_KEYS = KEYS.map((k) => `session-${k}`);

function build(config: RingConfig, n: number): Ring {
  const ring = createRing(config);
  for (let i = 1; i <= n; i++) ring.add({ name: `Server ${i}`, ordinal: i });
  ring.lookup(0); // rings built lazily build now
  return ring;
}

for (const algorithm of RING_ALGORITHMS) {
  for (const n of SIZES) {
    if (algorithm === "spec" && n > 56) continue;
    const ring = build({ algorithm }, n);
    let i = 0;
    Deno.bench({
      name: `lookup ${algorithm} N=${n}`,
      group: `lookup N=${n}`,
      baseline: algorithm === "maglev",
      fn: () => {
        ring.lookup(KEYS[i++ & 4095]);
      },
    });
  }
  Deno.bench({
    name: `lookup ${algorithm} N=10, string keys`,
    group: "lookup string keys",
    fn: (() => {
      const ring = build({ algorithm }, 10);
      let i = 0;
      return () => {
        ring.lookup(TEXT_KEYS[i++ & 4095]);
      };
    })(),
  });
  Deno.bench({
    name: `lookupN(5) ${algorithm} N=10`,
    group: "lookupN",
    fn: (() => {
      const ring = build({ algorithm }, 10);
      let i = 0;
      return () => {
        ring.lookupN(KEYS[i++ & 4095], 5);
      };
    })(),
  });
  for (const n of SIZES) {
    if (algorithm === "spec" && n > 56) continue;
    Deno.bench({
      name: `build ${algorithm} N=${n}`,
      group: `build N=${n}`,
      n: n >= 1000 ? 5 : undefined,
      fn: () => {
        build({ algorithm }, n);
      },
    });
  }
}

{
  const ring = build({ algorithm: "maglev", boundedLoad: 0.25 }, 10);
  let i = 0;
  Deno.bench({
    name: "lookup maglev+bounded-load N=10",
    group: "lookup N=10",
    fn: () => {
      ring.lookup(KEYS[i++ & 4095]);
    },
  });
}
