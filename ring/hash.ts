/**
 * Hash functions for the rings, and the mapping of routing keys to integers.
 *
 * A hash here returns an exact integer: a `number` while the result is a safe integer,
 * a `bigint` beyond that, so `hash mod M` is exact even for large ids.
 *
 * @module
 */

import type { RoutingKey } from "./types.ts";

/** An exact integer hash value. */
export type HashValue = number | bigint;

/** A request hash: routing-key integer → hash value (the assignment's H). */
export type RequestHash = (i: number) => HashValue;

/** A virtual-node hash: server number `i`, virtual node `j` → hash value (the assignment's Φ). */
export type VirtualNodeHash = (i: number, j: number) => HashValue;

/** Largest integer whose square plus a little is still exact in a double. */
const SAFE_SQUARE_ROOT = 2 ** 26;

/** The assignment's request hash, `H(i) = i² + 2i + 17`, exact for any integer `i`. */
export const specRequestHash: RequestHash = (i) => {
  if (Math.abs(i) < SAFE_SQUARE_ROOT) return i * i + 2 * i + 17;
  const b = BigInt(i);
  return b * b + 2n * b + 17n;
};

/** The assignment's virtual-node hash, `Φ(i, j) = i² + j² + 2j + 25`, exact for any integers. */
export const specVirtualNodeHash: VirtualNodeHash = (i, j) => {
  if (Math.abs(i) < SAFE_SQUARE_ROOT && Math.abs(j) < SAFE_SQUARE_ROOT) {
    return i * i + j * j + 2 * j + 25;
  }
  const bi = BigInt(i);
  const bj = BigInt(j);
  return bi * bi + bj * bj + 2n * bj + 25n;
};

/** `h mod m` in `[0, m)`, exact for numbers and bigints. */
export function modulo(h: HashValue, m: number): number {
  if (typeof h === "bigint") {
    const bm = BigInt(m);
    return Number(((h % bm) + bm) % bm);
  }
  return ((h % m) + m) % m;
}

const FNV32_OFFSET = 0x811c9dc5;
const FNV32_PRIME = 0x01000193;
const encoder = new TextEncoder();

/** FNV-1a, 32 bits, over the UTF-8 bytes of `text`. Returns an unsigned integer. */
export function fnv1a32(text: string): number {
  let hash = FNV32_OFFSET;
  let ascii = true;
  for (let i = 0; i < text.length && ascii; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) ascii = false;
    hash ^= c;
    hash = Math.imul(hash, FNV32_PRIME);
  }
  if (ascii) return hash >>> 0;
  hash = FNV32_OFFSET;
  for (const byte of encoder.encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, FNV32_PRIME);
  }
  return hash >>> 0;
}

/** Up to 15 decimal digits: always a safe integer. */
const NUMERIC_KEY = /^[0-9]{1,15}$/;

/**
 * The integer a routing key stands for. Non-negative safe integers and all-digit strings of
 * up to 15 digits are used as they are (the assignment's request ids go through H as
 * numbers); any other key is hashed with FNV-1a to an unsigned 32-bit integer.
 */
export function keyToInteger(key: RoutingKey): number {
  if (typeof key === "number") {
    if (Number.isSafeInteger(key) && key >= 0) return key;
    return fnv1a32(String(key));
  }
  return NUMERIC_KEY.test(key) ? Number(key) : fnv1a32(key);
}
