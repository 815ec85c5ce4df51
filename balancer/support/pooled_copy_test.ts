import assert from "node:assert/strict";
import fc from "fast-check";
import { pooledCopy } from "./pooled_copy.ts";

Deno.test("pooledCopy: copies own their bytes, whatever is written to the source or copied later", () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ minLength: 0, maxLength: 20_000 }), { maxLength: 40 }), (
      sources,
    ) => {
      const copies = sources.map((source) => {
        const from = Math.floor(source.length / 3);
        const to = source.length - Math.floor(source.length / 5);
        return { copy: pooledCopy(source, from, to), want: source.slice(from, to) };
      });
      for (const source of sources) source.fill(0xee); // the source is reused (a read buffer)
      for (const { copy, want } of copies) assert.deepEqual(copy, want);
    }),
    { numRuns: 50 },
  );
});
