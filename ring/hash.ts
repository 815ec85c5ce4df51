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

/** Numeric keys are below this: up to 15 decimal digits, always a safe integer. */
const NUMERIC_LIMIT = 1e15;

/**
 * The integer a numeric routing key stands for, or `undefined` for any other key. Numeric
 * keys are the integers 0 … 10¹⁵ − 1 and the all-digit strings of up to 15 digits (leading
 * zeros allowed), so `123456`, `"123456"` and `"0123456"` are one key. Allocation-free.
 */
export function numericKey(key: RoutingKey): number | undefined {
  if (typeof key === "number") {
    return Number.isInteger(key) && key >= 0 && key < NUMERIC_LIMIT ? key : undefined;
  }
  if (key.length === 0 || key.length > 15) return undefined;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
  }
  return Number(key);
}

/**
 * The integer a routing key stands for: a numeric key ({@linkcode numericKey}) as it is (the
 * assignment's request ids go through H as numbers); any other key hashed with FNV-1a to an
 * unsigned 32-bit integer.
 */
export function keyToInteger(key: RoutingKey): number {
  return numericKey(key) ?? fnv1a32(String(key));
}
