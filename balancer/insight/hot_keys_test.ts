import assert from "node:assert/strict";
import fc from "fast-check";
import { HotKeys, mergeHotKeys, SpaceSaving } from "./hot_keys.ts";

Deno.test("Space-Saving: every key seen more than total/capacity times is counted, within its error bound", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 12 }),
      // Skewed streams: a few keys repeat, many appear once.
      fc.array(fc.oneof(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 500 })), {
        maxLength: 400,
      }),
      (capacity, stream) => {
        const sketch = new SpaceSaving(capacity);
        const truth = new Map<number, number>();
        for (const key of stream) {
          sketch.observe(key);
          truth.set(key, (truth.get(key) ?? 0) + 1);
        }
        const entries = sketch.entries();
        assert.ok(entries.length <= capacity, "fixed memory");
        assert.equal(sketch.total, stream.length);
        assert.equal(entries.reduce((sum, e) => sum + e.count, 0), stream.length);
        const counted = new Map(entries.map((e) => [e.key, e]));
        for (const [key, count] of truth) {
          const entry = counted.get(key);
          if (count > stream.length / capacity) assert.ok(entry, `heavy key ${key} (${count})`);
          if (entry) {
            assert.ok(entry.count >= count, "never an underestimate");
            assert.ok(entry.count - entry.error <= count, "the error bounds the overestimate");
          }
        }
        for (let i = 1; i < entries.length; i++) {
          assert.ok(entries[i - 1].count >= entries[i].count, "hottest first");
        }
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("Space-Saving: strings and numbers are different keys; capacity must be positive", () => {
  const sketch = new SpaceSaving(4);
  sketch.observe(5);
  sketch.observe("5");
  sketch.observe("5");
  assert.deepEqual(sketch.entries(), [
    { key: "5", count: 2, error: 0 },
    { key: 5, count: 1, error: 0 },
  ]);
  assert.throws(() => new SpaceSaving(0), RangeError);
});

Deno.test("hot keys: a sliding window of two halves; rates over the time they cover; stale halves dropped", () => {
  const hot = new HotKeys({ capacity: 8, windowMs: 10_000, sampleEvery: 1 });
  for (let i = 0; i < 50; i++) hot.observe("hot", 1_000 + i * 10);
  for (let i = 0; i < 5; i++) hot.observe(`cold${i}`, 2_000);
  let top = hot.top(3, 3_000);
  assert.equal(top[0].key, "hot");
  assert.equal(top[0].count, 50);
  assert.equal(top[0].perSecond, 25, "50 in the 2 s since the window began");
  assert.equal(top.length, 3);
  // 6 s later, a new half began: the old one still counts.
  hot.observe("new", 7_000);
  top = hot.top(10, 7_000);
  assert.equal(top[0].key, "hot");
  assert.ok(top.some((k) => k.key === "new"));
  // Another half later, the first half is gone.
  hot.observe("new", 12_500);
  top = hot.top(10, 12_500);
  assert.deepEqual(top.map((k) => [k.key, k.count]), [["new", 2]]);
  // Nothing for two halves: nothing is hot.
  assert.deepEqual(hot.top(10, 30_000), []);
});

Deno.test("hot keys, sampled: one request in N counted, counts scaled back up", () => {
  const hot = new HotKeys({ capacity: 8, windowMs: 10_000, sampleEvery: 4 });
  for (let i = 0; i < 400; i++) hot.observe(i % 4 === 0 ? "cold" : "hot", 1_000 + i);
  const top = hot.top(2, 2_000);
  const count = (key: string) => top.find((k) => k.key === key)?.count ?? 0;
  assert.equal(count("hot") + count("cold"), 400, "scaled back to the requests seen");
  assert.throws(() => new HotKeys({ sampleEvery: 0 }), RangeError);
});

Deno.test("hot keys of several processes merge: counts, errors and rates added, hottest first", () => {
  const a = [
    { key: "x", count: 40, error: 8, perSecond: 0.67 },
    { key: "y", count: 24, error: 0, perSecond: 0.4 },
  ];
  const b = [
    { key: "y", count: 32, error: 0, perSecond: 0.53 },
    { key: "z", count: 16, error: 0, perSecond: 0.27 },
  ];
  assert.deepEqual(mergeHotKeys([a, b], 2), [
    { key: "y", count: 56, error: 0, perSecond: 0.93 },
    { key: "x", count: 40, error: 8, perSecond: 0.67 },
  ]);
  assert.deepEqual(mergeHotKeys([], 5), []);
  assert.deepEqual(a[0], { key: "x", count: 40, error: 8, perSecond: 0.67 }, "inputs untouched");
  // Merging sketches of disjoint traffic: a key's true total is at least count - error, and at
  // most count when every sketch that saw it holds it.
  fc.assert(fc.property(
    fc.array(fc.array(fc.constantFrom("a", "b", "c", "d", "e", "f"), { maxLength: 60 }), {
      minLength: 1,
      maxLength: 4,
    }),
    (streams) => {
      const sketches = streams.map((keys) => {
        const hot = new HotKeys({ capacity: 3, sampleEvery: 1 });
        for (const key of keys) hot.observe(key, 0);
        return hot.top(10, 0);
      });
      const merged = mergeHotKeys(sketches, 10);
      for (const { key, count, error } of merged) {
        const truth = streams.flat().filter((k) => k === key).length;
        assert.ok(count - error <= truth, `${key}: ${truth} below ${count}-${error}`);
        const held = streams.every((keys, i) =>
          !(keys as string[]).includes(String(key)) || sketches[i].some((h) => h.key === key)
        );
        if (held) assert.ok(truth <= count, `${key}: ${truth} above ${count}`);
      }
    },
  ));
});
