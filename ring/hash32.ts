/**
 * Strong non-cryptographic 32-bit hashes for the production rings, and the hashing of
 * routing keys without allocation.
 *
 * - {@linkcode xxh32}: xxHash32 (Yann Collet), checked against the reference vectors.
 * - {@linkcode murmur3}: MurmurHash3 x86_32 (Austin Appleby), checked against SMHasher's.
 * - {@linkcode fmix32}: MurmurHash3's finalizer, a cheap bijective mixer of one integer.
 * - {@linkcode hashKey}: a routing key → xxh32 of its canonical bytes; a numeric key hashes
 *   as its integer, so `123456`, `"123456"` and `"0123456"` are one key.
 *
 * All return unsigned 32-bit integers.
 *
 * @module
 */

import { numericKey } from "./hash.ts";
import type { RoutingKey } from "./types.ts";

const P1 = 0x9e3779b1;
const P2 = 0x85ebca77;
const P3 = 0xc2b2ae3d;
const P4 = 0x27d4eb2f;
const P5 = 0x165667b1;

const rotl = (x: number, r: number): number => (x << r) | (x >>> (32 - r));

/** Little-endian 32-bit word at `i`. */
const word = (b: Uint8Array, i: number): number =>
  b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24);

const round = (acc: number, lane: number): number =>
  Math.imul(rotl((acc + Math.imul(lane, P2)) | 0, 13), P1);

/** xxHash32's final mix. */
function avalanche(h: number): number {
  h ^= h >>> 15;
  h = Math.imul(h, P2);
  h ^= h >>> 13;
  h = Math.imul(h, P3);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * xxHash32 of `length` bytes of `bytes` (default all of them) with `seed`.
 *
 * @example
 * ```ts
 * xxh32(new TextEncoder().encode("abc")); // 0x32d153ff
 * ```
 */
export function xxh32(bytes: Uint8Array, seed = 0, length = bytes.length): number {
  let i = 0;
  let h: number;
  if (length >= 16) {
    let v1 = (seed + P1 + P2) | 0;
    let v2 = (seed + P2) | 0;
    let v3 = seed | 0;
    let v4 = (seed - P1) | 0;
    for (; i + 16 <= length; i += 16) {
      v1 = round(v1, word(bytes, i));
      v2 = round(v2, word(bytes, i + 4));
      v3 = round(v3, word(bytes, i + 8));
      v4 = round(v4, word(bytes, i + 12));
    }
    h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) | 0;
  } else {
    h = (seed + P5) | 0;
  }
  h = (h + length) | 0;
  for (; i + 4 <= length; i += 4) {
    h = Math.imul(rotl((h + Math.imul(word(bytes, i), P3)) | 0, 17), P4);
  }
  for (; i < length; i++) {
    h = Math.imul(rotl((h + Math.imul(bytes[i], P5)) | 0, 11), P1);
  }
  return avalanche(h);
}

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** MurmurHash3's 32-bit finalizer: a bijective avalanche mix of one integer. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** MurmurHash3 x86_32 of `length` bytes of `bytes` (default all of them) with `seed`. */
export function murmur3(bytes: Uint8Array, seed = 0, length = bytes.length): number {
  let h = seed | 0;
  let i = 0;
  for (; i + 4 <= length; i += 4) {
    let k = Math.imul(word(bytes, i), C1);
    k = Math.imul(rotl(k, 15), C2);
    h = (Math.imul(rotl(h ^ k, 13), 5) + 0xe6546b64) | 0;
  }
  const tail = length & 3;
  if (tail > 0) {
    let k = bytes[i];
    if (tail > 1) k ^= bytes[i + 1] << 8;
    if (tail > 2) k ^= bytes[i + 2] << 16;
    h ^= Math.imul(rotl(Math.imul(k, C1), 15), C2);
  }
  return fmix32(h ^ length);
}

const encoder = new TextEncoder();
/** Scratch buffer for key bytes: hashing a key allocates nothing unless it is long. */
let scratch = new Uint8Array(256);

/** xxh32 of the 8-byte little-endian form of a non-negative safe integer, without memory. */
function xxh32Integer(n: number, seed: number): number {
  const lo = n >>> 0;
  const hi = (n - lo) / 2 ** 32;
  let h = (seed + P5 + 8) | 0;
  h = Math.imul(rotl((h + Math.imul(lo, P3)) | 0, 17), P4);
  h = Math.imul(rotl((h + Math.imul(hi, P3)) | 0, 17), P4);
  return avalanche(h);
}

/** Writes `text` as UTF-8 into `scratch` (grown when needed); returns the length. */
function writeText(text: string): number {
  if (text.length <= scratch.length) {
    let ascii = true;
    for (let i = 0; i < text.length && ascii; i++) {
      const c = text.charCodeAt(i);
      if (c < 0x80) scratch[i] = c;
      else ascii = false;
    }
    if (ascii) return text.length;
  }
  // Non-ASCII: up to 3 bytes per UTF-16 unit.
  if (scratch.length < text.length * 3) scratch = new Uint8Array(text.length * 3);
  return encoder.encodeInto(text, scratch).written;
}

/**
 * The bytes a routing key hashes as: for numeric keys (see `numericKey`: integers below 10¹⁵,
 * all-digit strings of up to 15 digits) the integer as 8 bytes little-endian, so `123456`, `"123456"`
 * and `"0123456"` are one key; for any other key its UTF-8 text.
 */
export function keyBytes(key: RoutingKey): Uint8Array {
  const n = numericKey(key);
  if (n === undefined) return scratch.slice(0, writeText(String(key)));
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(n), true);
  return bytes;
}

/**
 * xxh32 of a routing key's canonical bytes (see {@linkcode keyBytes}), with `seed`.
 * Allocation-free for numeric keys and for text keys up to 256 bytes.
 */
export function hashKey(key: RoutingKey, seed = 0): number {
  const n = numericKey(key);
  if (n !== undefined) return xxh32Integer(n, seed);
  return xxh32(scratch, seed, writeText(String(key)));
}

/** xxh32 of a string's UTF-8 bytes, with `seed`. */
export function hashText(text: string, seed = 0): number {
  return xxh32(scratch, seed, writeText(text));
}
