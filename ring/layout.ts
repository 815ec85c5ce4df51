/**
 * A ring as a picture: where its points sit on the circle (for the rings that have points: the
 * slot ring's slots, Ketama's points) and each member's share of keys, estimated the same way for
 * every ring by looking up a sample of keys (what a dashboard draws).
 *
 * @module
 */

import { BoundedLoadRing } from "./bounded_load.ts";
import type { Ring } from "./types.ts";

/** A ring's picture. */
export interface RingLayout {
  /** Points on the circle (0 ≤ at < 1) and their members; none for Maglev and Rendezvous. */
  points: { at: number; name: string }[];
  /** Each member's share of keys, 0..1: of `sampled` keys, or exact (Maglev's table). */
  shares: Record<string, number>;
  /** Keys looked up to estimate the shares; 0 when they are exact. */
  sampled: number;
}

/** The picture of `ring` (a bounded-load ring is drawn as the ring under it). */
export function ringLayout(ring: Ring, sample = 4096): RingLayout {
  const base = ring instanceof BoundedLoadRing ? ring.inner : ring;
  const withPoints = base as Partial<{ points(): { at: number; name: string }[] }>;
  const points = typeof withPoints.points === "function" ? withPoints.points() : [];
  // Maglev knows its shares exactly: its table's entries per member.
  const table = base as Partial<{ entryCounts(): Map<string, number>; tableSize: number }>;
  if (typeof table.entryCounts === "function" && table.tableSize) {
    const shares: Record<string, number> = {};
    for (const [name, n] of table.entryCounts()) shares[name] = n / table.tableSize;
    return { points, shares, sampled: 0 };
  }
  const counts = new Map<string, number>();
  for (let i = 0; i < sample; i++) {
    // Spread keys (as the ids clients send), not consecutive ones.
    const owner = base.lookup(100_000 + ((i * 7919) % 900_000));
    if (owner !== undefined) counts.set(owner, (counts.get(owner) ?? 0) + 1);
  }
  const shares: Record<string, number> = {};
  for (const node of base.nodes()) shares[node.name] = (counts.get(node.name) ?? 0) / sample;
  return { points, shares, sampled: sample };
}
