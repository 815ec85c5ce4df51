/**
 * The in-process experiments of the analysis and what every experiment shares: the rings
 * under study, seeded request ids, and load statistics. Pure: no I/O.
 *
 * @module
 */

import {
  createRing,
  describeRing,
  mulberry32,
  type Ring,
  type RingConfig,
  SlotRing,
} from "../../ring/mod.ts";

/** A ring under study: its config and the label charts and tables use. */
export interface StudiedRing {
  /** Short label, e.g. `spec`, `slot/xxhash`, `maglev`. */
  readonly label: string;
  /** How to build it (also the balancer's flags, see {@linkcode ringFlags}). */
  readonly config: RingConfig;
}

/** The assignment's ring, the slot ring with two other H/Φ pairs, and the production rings. */
export const STUDIED_RINGS: readonly StudiedRing[] = (
  [
    { algorithm: "spec" },
    { algorithm: "spec", slotHash: "fnv" },
    { algorithm: "spec", slotHash: "xxhash" },
    { algorithm: "ketama" },
    { algorithm: "maglev" },
    { algorithm: "rendezvous" },
  ] as RingConfig[]
).map((config) => ({ label: describeRing(config), config }));

/** The balancer flags that select `ring`. */
export function ringFlags(config: RingConfig): string[] {
  const flags = ["--ring", config.algorithm];
  if (config.slotHash) flags.push("--slot-hash", config.slotHash);
  return flags;
}

/** `count` random 6-digit request ids (100000..999999), the same for the same seed. */
export function seededIds(count: number, seed: number): number[] {
  const random = mulberry32(seed);
  return Array.from({ length: count }, () => 100_000 + Math.floor(random() * 900_000));
}

/** The spec's replica names: `Server 1` … `Server n`. */
export function serverNames(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `Server ${i + 1}`);
}

/** A ring of `Server 1..n`, or `undefined` when `n` members do not fit (the slot ring's 56). */
export function buildRing(config: RingConfig, n: number): Ring | undefined {
  const ring = createRing(config);
  try {
    serverNames(n).forEach((name, i) => ring.add({ name, ordinal: i + 1 }));
  } catch {
    return undefined;
  }
  return ring;
}

/** Load figures over replicas: keys per replica and how even they are. */
export interface LoadStats {
  /** Keys per replica name (every replica, zero included). */
  counts: Record<string, number>;
  /** Mean keys per replica. */
  mean: number;
  /** Most keys on one replica. */
  max: number;
  /** Fewest keys on one replica. */
  min: number;
  /** max / mean: 1 is perfect. */
  maxOverMean: number;
  /** Coefficient of variation (standard deviation / mean). */
  cv: number;
}

/** Statistics of `counts` (every replica present, zeros included). */
export function loadStats(counts: Record<string, number>): LoadStats {
  const values = Object.values(counts);
  const total = values.reduce((a, b) => a + b, 0);
  const mean = values.length ? total / values.length : 0;
  const max = values.length ? Math.max(...values) : 0;
  const min = values.length ? Math.min(...values) : 0;
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length || 1);
  return {
    counts,
    mean,
    max,
    min,
    maxOverMean: mean ? max / mean : 0,
    cv: mean ? Math.sqrt(variance) / mean : 0,
  };
}

/** How `keys` spread over `ring`'s members, in-process. */
export function spread(ring: Ring, keys: readonly number[]): LoadStats {
  const counts: Record<string, number> = {};
  for (const node of ring.nodes()) counts[node.name] = 0;
  for (const key of keys) counts[ring.lookup(key)!]++;
  return loadStats(counts);
}

/** Keys that changed owner between two snapshots; `stray`: those that did not have to. */
export interface Movement {
  /** Share of keys whose owner changed, 0..1. */
  moved: number;
  /** Share that changed owner between members present before and after, 0..1. */
  stray: number;
}

/** Disruption of one membership change, measured on `keys`. */
export interface Disruption {
  /** Members before the change. */
  n: number;
  /** `N → N+1`: a member joins. Ideal: `1/(N+1)` of the keys move, all to it. */
  add: Movement & { ideal: number };
  /**
   * `N+1 → N`, each member in turn leaving (mean and worst over them). Ideal: `1/(N+1)`, its
   * fair share; a member that owned more (a skewed ring) forces more.
   */
  remove: { mean: Movement; worst: Movement; ideal: number };
}

function owners(ring: Ring, keys: readonly number[]): (string | undefined)[] {
  return keys.map((key) => ring.lookup(key));
}

function movement(
  before: readonly (string | undefined)[],
  after: readonly (string | undefined)[],
  changed: string,
): Movement {
  let moved = 0;
  let stray = 0;
  for (let i = 0; i < before.length; i++) {
    if (before[i] === after[i]) continue;
    moved++;
    if (before[i] !== changed && after[i] !== changed) stray++;
  }
  return { moved: moved / before.length, stray: stray / before.length };
}

/** Disruption of adding `Server n+1` to `Server 1..n`, and of removing each of `n+1` in turn. */
export function disruption(config: RingConfig, n: number, keys: readonly number[]): Disruption {
  const small = buildRing(config, n)!;
  const before = owners(small, keys);
  const joiner = `Server ${n + 1}`;
  small.add({ name: joiner, ordinal: n + 1 });
  const full = owners(small, keys);
  const add = { ...movement(before, full, joiner), ideal: 1 / (n + 1) };
  const removals: Movement[] = serverNames(n + 1).map((leaver) => {
    const ring = buildRing(config, n + 1)!;
    ring.remove(leaver);
    return movement(full, owners(ring, keys), leaver);
  });
  const mean = (pick: (m: Movement) => number) =>
    removals.reduce((a, m) => a + pick(m), 0) / removals.length;
  const worst = removals.reduce((a, m) => (m.moved > a.moved ? m : a));
  return {
    n,
    add,
    remove: {
      mean: { moved: mean((m) => m.moved), stray: mean((m) => m.stray) },
      worst,
      ideal: 1 / (n + 1),
    },
  };
}

/** Why the spec ring skews, from its own numbers. */
export interface SpecRingAnatomy {
  /** Distinct slots `H(id) mod 512` reaches over every 6-digit id. */
  reachableSlots: number;
  /** The 27 virtual-node slots of servers 1..3 (after probing), ascending, with owners. */
  virtualNodes: { slot: number; name: string }[];
  /** Share of all 6-digit ids whose slot lies after the last virtual node or at/before the first. */
  wrapShare: number;
  /** The owner of the wrap-around arc. */
  wrapOwner: string;
}

/** Measures the spec ring at N = 3 over all 900,000 six-digit ids. */
export function specRingAnatomy(): SpecRingAnatomy {
  const ring = new SlotRing();
  serverNames(3).forEach((name, i) => ring.add({ name, ordinal: i + 1 }));
  const slots = new Set<number>();
  const virtualNodes = ring.virtualNodes().map(({ slot, name }) => ({ slot, name }));
  const first = virtualNodes[0].slot;
  const last = virtualNodes.at(-1)!.slot;
  let wrap = 0;
  for (let id = 100_000; id <= 999_999; id++) {
    const slot = ring.slotOf(id);
    slots.add(slot);
    if (slot > last || slot <= first) wrap++;
  }
  return {
    reachableSlots: slots.size,
    virtualNodes,
    wrapShare: wrap / 900_000,
    wrapOwner: virtualNodes[0].name,
  };
}
