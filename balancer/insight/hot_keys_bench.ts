/**
 * What counting a request's key costs: `deno bench balancer/insight/hot_keys_bench.ts`.
 * Random 6-digit keys (every one new: the sketch's worst case, a counter replaced each time),
 * and a skewed stream (a few keys most of the time).
 */

import { HotKeys } from "./hot_keys.ts";

const random = Array.from({ length: 65_536 }, () => 100_000 + Math.floor(Math.random() * 900_000));
const skewed = Array.from(
  { length: 65_536 },
  (_, i) => i % 4 === 0 ? 100_000 + Math.floor(Math.random() * 900_000) : i % 7,
);

const a = new HotKeys({ sampleEvery: 1 });
let i = 0;
Deno.bench("hot keys: observe, random keys (every one new)", () => {
  a.observe(random[i++ & 65_535], i);
});

const b = new HotKeys({ sampleEvery: 1 });
let j = 0;
Deno.bench("hot keys: observe, skewed keys (3 in 4 of 7 hot ones)", () => {
  b.observe(skewed[j++ & 65_535], j);
});

const c = new HotKeys({ sampleEvery: 1 });
for (let k = 0; k < 65_536; k++) c.observe(skewed[k], k);
Deno.bench("hot keys: top 20 (admin, not per request)", () => {
  c.top(20, 65_536);
});

const d = new HotKeys();
let m = 0;
Deno.bench("hot keys: observe, random keys, sampled 1 in 8 (the default)", () => {
  d.observe(random[m++ & 65_535], m);
});
