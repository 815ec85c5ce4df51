import assert from "node:assert/strict";
import fc from "fast-check";
import { fmix32, hashKey, hashText, keyBytes, murmur3, xxh32 } from "./hash32.ts";

const utf8 = (text: string) => new TextEncoder().encode(text);

Deno.test("xxh32 matches the reference test vectors", () => {
  // Published with xxHash (and python-xxhash's tests).
  assert.equal(xxh32(utf8("")), 0x02cc5d05);
  assert.equal(xxh32(utf8("a")), 0x550d7456);
  assert.equal(xxh32(utf8("abc")), 0x32d153ff);
  assert.equal(xxh32(utf8("Nobody inspects the spammish repetition")), 0xe2293b2f);
  // Seeds, the 16-byte stripe loop and multi-byte UTF-8, cross-checked with xxhashjs 0.2.2.
  assert.equal(xxh32(utf8(""), 1), 0x0b2cb792);
  assert.equal(xxh32(utf8("abc"), 0x9747b28c), 0x4d4cb222);
  assert.equal(xxh32(utf8("0123456789abcdef")), 0xc2c45b69);
  assert.equal(xxh32(utf8("0123456789abcdefghij"), 1), 0x28f5ef4b);
  assert.equal(xxh32(utf8("héllo wörld ✓")), 0xc26dc238);
});

Deno.test("murmur3 (x86_32) matches SMHasher's test vectors", () => {
  assert.equal(murmur3(utf8("")), 0);
  assert.equal(murmur3(utf8(""), 1), 0x514e28b7);
  assert.equal(murmur3(utf8(""), 0xffffffff), 0x81f16f39);
  assert.equal(murmur3(new Uint8Array(4)), 0x2362f9de);
  assert.equal(murmur3(utf8("a"), 0x9747b28c), 0x7fa09ea6);
  assert.equal(murmur3(utf8("aaaa"), 0x9747b28c), 0x5a97808a);
  assert.equal(murmur3(utf8("Hello, world!"), 0x9747b28c), 0x24884cba);
  assert.equal(
    murmur3(utf8("The quick brown fox jumps over the lazy dog"), 0x9747b28c),
    0x2fa826cd,
  );
});

Deno.test("the length argument hashes a prefix", () => {
  const bytes = utf8("abcdefgh-0123456789-xyz");
  for (let n = 0; n <= bytes.length; n++) {
    assert.equal(xxh32(bytes, 7, n), xxh32(bytes.slice(0, n), 7));
    assert.equal(murmur3(bytes, 7, n), murmur3(bytes.slice(0, n), 7));
  }
});

Deno.test("fmix32 is a bijection on a sample and mixes neighbours apart", () => {
  assert.equal(fmix32(0), 0);
  const seen = new Set<number>();
  for (let i = 0; i < 100_000; i++) seen.add(fmix32(i));
  assert.equal(seen.size, 100_000);
  // One flipped input bit flips about half the output bits.
  let flipped = 0;
  for (let i = 1; i <= 1000; i++) {
    const x = (fmix32(i) ^ fmix32(i ^ 1)) >>> 0;
    flipped += x.toString(2).replaceAll("0", "").length;
  }
  assert.ok(Math.abs(flipped / 1000 - 16) < 1, `mean flipped bits ${flipped / 1000}`);
});

/** The 8-byte little-endian form of an integer. */
const le64 = (n: number) => {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(n), true);
  return bytes;
};

Deno.test("hashKey: a numeric id hashes as its integer; one key, one hash", () => {
  assert.equal(hashKey(123456), xxh32(le64(123456)));
  assert.equal(hashKey(1e15 - 1), xxh32(le64(1e15 - 1)));
  // 16 digits are text, as a number and as a string alike.
  assert.equal(hashKey(1234567890123456), xxh32(utf8("1234567890123456")));
  assert.equal(hashKey(1234567890123456), hashKey("1234567890123456"));
  assert.equal(hashKey(0, 9), xxh32(le64(0), 9));
  assert.equal(hashKey("123456"), hashKey(123456));
  assert.equal(hashKey("000123456"), hashKey(123456));
  assert.equal(hashKey("user-7"), xxh32(utf8("user-7")));
  assert.equal(hashKey("1234567890123456"), xxh32(utf8("1234567890123456")));
  assert.equal(hashKey(-3), xxh32(utf8("-3")));
  assert.equal(hashKey(1.5), xxh32(utf8("1.5")));
  assert.equal(hashKey("ключ"), xxh32(utf8("ключ")));
  assert.equal(hashKey("abc", 5), xxh32(utf8("abc"), 5));
  assert.equal(hashText("Server 1", 9), xxh32(utf8("Server 1"), 9));
  assert.deepEqual(keyBytes(42), le64(42));
  assert.deepEqual(keyBytes("x"), utf8("x"));
});

Deno.test("hashKey agrees with hashing keyBytes, for any key (property)", () => {
  fc.assert(
    fc.property(
      fc.oneof(fc.string({ unit: "binary", maxLength: 600 }), fc.maxSafeNat(), fc.double()),
      (key) => {
        const numeric = typeof key === "number"
          ? Number.isInteger(key) && key >= 0 && key < 1e15
          : /^[0-9]{1,15}$/.test(key);
        const expected = numeric ? le64(Number(key)) : utf8(String(key));
        assert.deepEqual(keyBytes(key), expected);
        assert.equal(hashKey(key), xxh32(expected));
      },
    ),
    { seed: 6, numRuns: 3000 },
  );
});
