/**
 * Consistent-hash rings and their hash functions. Pure: no I/O, no globals, deterministic.
 *
 * @example
 * ```ts
 * import { SlotRing } from "./mod.ts";
 * const ring = new SlotRing(); // the assignment's M = 512, K = 9, H, Φ
 * ring.add({ name: "Server 1", ordinal: 1 });
 * ring.lookupN(123456, 2); // owner first, then the failover order
 * ```
 *
 * @module
 */

export type { Ring, RingNode, RoutingKey } from "./types.ts";
export { RingFullError } from "./types.ts";
export {
  fnv1a32,
  type HashValue,
  keyToInteger,
  modulo,
  type RequestHash,
  specRequestHash,
  specVirtualNodeHash,
  type VirtualNodeHash,
} from "./hash.ts";
export { type Probing, SlotRing, type SlotRingOptions, type VirtualNode } from "./slot_ring.ts";
