import assert from "node:assert/strict";
import {
  fnv1a32,
  keyToInteger,
  modulo,
  numericKey,
  specRequestHash,
  specVirtualNodeHash,
} from "./hash.ts";

Deno.test("specRequestHash is i² + 2i + 17", () => {
  assert.equal(specRequestHash(0), 17);
  assert.equal(specRequestHash(1), 20);
  assert.equal(specRequestHash(123456), 123456 * 123456 + 2 * 123456 + 17);
});

Deno.test("specVirtualNodeHash is i² + j² + 2j + 25", () => {
  assert.equal(specVirtualNodeHash(1, 0), 26);
  assert.equal(specVirtualNodeHash(2, 3), 4 + 9 + 6 + 25);
  assert.equal(specVirtualNodeHash(3, 8), 9 + 64 + 16 + 25);
});

Deno.test("hashes stay exact beyond 2^53 (bigint) and modulo agrees", () => {
  const i = 2 ** 32 - 1;
  const exact = BigInt(i) * BigInt(i) + 2n * BigInt(i) + 17n;
  assert.equal(specRequestHash(i), exact);
  assert.equal(modulo(specRequestHash(i), 512), Number(exact % 512n));
  assert.equal(modulo(-5, 512), 507);
  assert.equal(modulo(-5n, 512), 507);
});

Deno.test("fnv1a32 matches published test vectors", () => {
  // From the FNV reference test suite (draft-eastlake-fnv).
  assert.equal(fnv1a32(""), 0x811c9dc5);
  assert.equal(fnv1a32("a"), 0xe40c292c);
  assert.equal(fnv1a32("foobar"), 0xbf9cf968);
  // Non-ASCII text hashes its UTF-8 bytes: "é" is C3 A9.
  const e = Math.imul(Math.imul(0x811c9dc5 ^ 0xc3, 0x01000193) ^ 0xa9, 0x01000193) >>> 0;
  assert.equal(fnv1a32("é"), e);
});

Deno.test("keyToInteger: numeric ids as numbers, other keys hashed", () => {
  assert.equal(keyToInteger(123456), 123456);
  assert.equal(keyToInteger("123456"), 123456);
  assert.equal(keyToInteger("000042"), 42);
  assert.equal(keyToInteger("user-7"), fnv1a32("user-7"));
  assert.equal(keyToInteger("1234567890123456"), fnv1a32("1234567890123456"));
  assert.equal(keyToInteger(-3), fnv1a32("-3"));
  assert.equal(keyToInteger(1234567890123456), keyToInteger("1234567890123456"));
  assert.equal(numericKey("000"), 0);
  assert.equal(numericKey(""), undefined);
  assert.equal(numericKey(1e15), undefined);
  assert.equal(keyToInteger(1.5), fnv1a32("1.5"));
});
