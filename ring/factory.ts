/**
 * One place that turns a ring configuration (`--ring`, `--slot-hash`, `--vnodes`,
 * `--bounded-load`) into a {@linkcode Ring}.
 *
 * @module
 */

import { BoundedLoadRing } from "./bounded_load.ts";
import { KetamaRing } from "./ketama_ring.ts";
import { MaglevRing } from "./maglev_ring.ts";
import { RendezvousRing } from "./rendezvous_ring.ts";
import { SLOT_HASHES, type SlotHashName } from "./slot_hashes.ts";
import { type Probing, SlotRing } from "./slot_ring.ts";
import type { Ring } from "./types.ts";

/** The algorithms `--ring` accepts. */
export const RING_ALGORITHMS = ["spec", "ketama", "maglev", "rendezvous"] as const;

/** A name of a ring algorithm. */
export type RingAlgorithm = typeof RING_ALGORITHMS[number];

/** What a ring is built from. Unset options take each algorithm's defaults. */
export interface RingConfig {
  /** `spec` (the assignment's slot ring), `ketama`, `maglev` or `rendezvous`. */
  algorithm: RingAlgorithm;
  /** Slot ring: the H/Φ pair. Default `spec`. */
  slotHash?: SlotHashName;
  /** Slot ring: collision handling. Default `linear`. */
  probing?: Probing;
  /** Slot ring: slots `M` (default 512). Maglev: table size, a prime (default 65537). */
  size?: number;
  /** Slot ring: virtual nodes per member `K` (default 9). Ketama: points per weight (1000). */
  vnodes?: number;
  /** Bounded loads: ε > 0 wraps the ring in a {@linkcode BoundedLoadRing}; unset: off. */
  boundedLoad?: number;
}

/** Builds an empty ring. Throws `RangeError` on a bad option. */
export function createRing(config: RingConfig): Ring {
  const ring = baseRing(config);
  return config.boundedLoad === undefined ? ring : new BoundedLoadRing(ring, config.boundedLoad);
}

function baseRing(config: RingConfig): Ring {
  switch (config.algorithm) {
    case "spec": {
      const hashes = SLOT_HASHES[config.slotHash ?? "spec"];
      return new SlotRing({
        slots: config.size,
        virtualNodes: config.vnodes,
        probing: config.probing,
        requestHash: hashes.requestHash,
        virtualNodeHash: hashes.virtualNodeHash,
      });
    }
    case "ketama":
      return new KetamaRing({ points: config.vnodes });
    case "maglev":
      return new MaglevRing({ tableSize: config.size });
    case "rendezvous":
      return new RendezvousRing();
  }
}

/**
 * Most members a ring of `config` holds, as each ring says: the spec ring's free slots ÷ K,
 * ketama's point budget, a Maglev table's balanced size; rendezvous has no limit of its own
 * (`Infinity`).
 */
export function ringCapacity(config: RingConfig): number {
  switch (config.algorithm) {
    case "spec":
      return new SlotRing({ slots: config.size, virtualNodes: config.vnodes }).capacity;
    case "ketama":
      return KetamaRing.capacity(config.vnodes);
    case "maglev":
      return MaglevRing.capacity(config.size);
    case "rendezvous":
      return Infinity;
  }
}

/** A short human name for a ring configuration, for logs, reports and charts. */
export function describeRing(config: RingConfig): string {
  let name: string = config.algorithm;
  if (config.algorithm === "spec" && (config.slotHash ?? "spec") !== "spec") {
    name = `slot/${config.slotHash}`;
  }
  if (config.boundedLoad !== undefined) name += ` +bounded(ε=${config.boundedLoad})`;
  return name;
}
