/**
 * Copies of small byte ranges carved from a shared slab, as Node's `Buffer` pool does. A new
 * `Uint8Array` costs about 1 µs here however small (its backing store lives outside the V8
 * heap), a view of an existing buffer about 50 ns; a proxied answer's body is copied once.
 *
 * @module
 */

/** Slab size; copies larger than an eighth of it get their own buffer. */
const SLAB_BYTES = 64 * 1024;
const POOLED_MAX = SLAB_BYTES / 8;

let slab = new Uint8Array(0);
let used = 0;

/**
 * A copy of `source[from, to)` that owns its bytes (later writes to `source` do not change
 * it). Small copies are views of a shared slab, which lives as long as any of them.
 */
export function pooledCopy(
  source: Uint8Array,
  from: number,
  to: number,
): Uint8Array<ArrayBuffer> {
  const size = to - from;
  if (size > POOLED_MAX) return source.slice(from, to) as Uint8Array<ArrayBuffer>;
  if (used + size > slab.length) {
    slab = new Uint8Array(SLAB_BYTES);
    used = 0;
  }
  const copy = slab.subarray(used, used + size);
  copy.set(source.subarray(from, to));
  // Aligned to 8 bytes, as the next copy's start.
  used = (used + size + 7) & ~7;
  return copy;
}
