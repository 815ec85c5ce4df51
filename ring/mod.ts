/**
 * Consistent-hash rings and their hash functions. Pure and deterministic: no I/O, no shared
 * state (key hashing reuses one module-level scratch buffer, invisible to callers).
 *
 * - {@linkcode SlotRing}: the assignment's ring (M = 512 slots, K = 9, H and Φ), exact.
 * - {@linkcode KetamaRing}, {@linkcode MaglevRing}, {@linkcode RendezvousRing}: the rings
 *   production balancers use, with weights.
 * - {@linkcode BoundedLoadRing}: a load cap on top of any ring.
 * - {@linkcode createRing}: a ring from a {@linkcode RingConfig} (the balancer's `--ring`).
 *
 * @example
 * ```ts
 * import { createRing } from "./mod.ts";
 * const ring = createRing({ algorithm: "maglev" });
 * ring.add({ name: "Server 1", ordinal: 1 });
 * ring.add({ name: "Server 2", ordinal: 2 });
 * ring.lookupN(123456, 2); // owner first, then the fail-over order
 * ```
 *
 * @module
 */

export type { LoadAwareRing, Ring, RingNode, RoutingKey } from "./types.ts";
export { isLoadAware, RingFullError } from "./types.ts";
export {
  fnv1a32,
  type HashValue,
  keyToInteger,
  modulo,
  numericKey,
  type RequestHash,
  specRequestHash,
  specVirtualNodeHash,
  type VirtualNodeHash,
} from "./hash.ts";
export { fmix32, hashKey, hashText, keyBytes, murmur3, xxh32 } from "./hash32.ts";
export { type Probing, SlotRing, type SlotRingOptions, type VirtualNode } from "./slot_ring.ts";
export {
  SLOT_HASH_NAMES,
  SLOT_HASHES,
  type SlotHashName,
  type SlotHashPair,
} from "./slot_hashes.ts";
export { KETAMA_DEFAULT_POINTS, KetamaRing, type KetamaRingOptions } from "./ketama_ring.ts";
export {
  isPrime,
  MAGLEV_DEFAULT_TABLE_SIZE,
  MaglevRing,
  type MaglevRingOptions,
} from "./maglev_ring.ts";
export { RendezvousRing } from "./rendezvous_ring.ts";
export { mulberry32 } from "./random.ts";
export { BoundedLoadRing, DEFAULT_BALANCE_FACTOR } from "./bounded_load.ts";
export { type RingLayout, ringLayout } from "./layout.ts";
export {
  createRing,
  describeRing,
  RING_ALGORITHMS,
  type RingAlgorithm,
  ringCapacity,
  type RingConfig,
} from "./factory.ts";
