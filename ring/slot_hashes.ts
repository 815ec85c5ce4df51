/**
 * Named pairs of request hash `H` and virtual-node hash `Φ` for the slot ring: the
 * assignment's, and stronger ones for analysis A-4 and for `--slot-hash`.
 *
 * @module
 */

import {
  fnv1a32,
  type RequestHash,
  specRequestHash,
  specVirtualNodeHash,
  type VirtualNodeHash,
} from "./hash.ts";
import { hashKey, hashText } from "./hash32.ts";

/** A request hash and a virtual-node hash that go together. */
export interface SlotHashPair {
  /** `H`: the routing key's integer → hash value. */
  readonly requestHash: RequestHash;
  /** `Φ`: server number `i`, virtual node `j` → hash value. */
  readonly virtualNodeHash: VirtualNodeHash;
  /** One line for docs and reports. */
  readonly description: string;
}

/** The names `--slot-hash` accepts. */
export const SLOT_HASH_NAMES = ["spec", "fnv", "xxhash"] as const;

/** A name of a {@linkcode SlotHashPair}. */
export type SlotHashName = typeof SLOT_HASH_NAMES[number];

/** The slot ring's hash pairs by name. */
export const SLOT_HASHES: Readonly<Record<SlotHashName, SlotHashPair>> = {
  spec: {
    requestHash: specRequestHash,
    virtualNodeHash: specVirtualNodeHash,
    description: "the assignment's H(i) = i² + 2i + 17, Φ(i, j) = i² + j² + 2j + 25",
  },
  fnv: {
    requestHash: (i) => fnv1a32(String(i)),
    virtualNodeHash: (i, j) => fnv1a32(`${i}-${j}`),
    description: 'FNV-1a 32 of the id\'s digits; Φ = FNV-1a 32 of "i-j"',
  },
  xxhash: {
    requestHash: (i) => hashKey(i),
    virtualNodeHash: (i, j) => hashText(`${i}-${j}`),
    description: 'xxHash32 of the id (as its 8-byte integer); Φ = xxHash32 of "i-j"',
  },
};
