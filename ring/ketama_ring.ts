/**
 * A ketama-style ring (libketama, nginx `hash … consistent`, Envoy's ring hash): every member
 * gets many points on a 2³² circle, in proportion to its weight; a key belongs to the first
 * point clockwise from its hash.
 *
 * @module
 */

import { hashKey, hashText } from "./hash32.ts";
import { MemberRing, weightOf } from "./member_ring.ts";
import { RingFullError, type RingNode, type RoutingKey } from "./types.ts";

/** Options of a {@linkcode KetamaRing}. */
export interface KetamaRingOptions {
  /**
   * Points per unit of weight. More points even out the load (the spread of a member's share
   * shrinks like 1/√points) at the cost of memory and build time. Default
   * {@linkcode KETAMA_DEFAULT_POINTS}.
   */
  points?: number;
}

/** Default points per unit of weight: enough for max/mean ≤ 1.05 with a handful of members. */
export const KETAMA_DEFAULT_POINTS = 1000;

/** Most members a ketama ring takes (owner indexes are packed in 20 bits). */
const MAX_MEMBERS = 2 ** 20;
const OWNER_SHIFT = 2 ** 20;
/** Most points on one circle: 10⁷ (160 MB while building), so a weight cannot exhaust memory. */
const MAX_POINTS = 10_000_000;
/** The search index splits the circle into 2¹⁶ buckets by the points' top 16 bits. */
const BUCKETS = 2 ** 16;

/**
 * Ketama: member `m` gets `round(points × weight)` points at `xxh32("<name>-<i>")`; a key at
 * `xxh32(key)` belongs to the first point at or after it, wrapping around. Lookup is a binary
 * search within one of 2¹⁶ buckets of the circle, allocation-free. Adding a member moves keys
 * only to it; removing one moves only its keys. Points that collide are ordered by member
 * name, so the layout depends only on the member set.
 */
export class KetamaRing extends MemberRing {
  /** Most members of weight 1 a ring with `points` per unit of weight takes (the point budget). */
  static capacity(points: number = KETAMA_DEFAULT_POINTS): number {
    return Math.floor(MAX_POINTS / points);
  }

  /** Points per unit of weight. */
  readonly pointsPerWeight: number;
  /** Points of all members, kept by add/remove (checked against {@linkcode MAX_POINTS}). */
  #total = 0;
  #points = new Uint32Array(0);
  #owners = new Uint32Array(0);
  /** `#buckets[b]`: index of the first point whose top 16 bits are ≥ b (a search index). */
  #buckets = new Uint32Array(BUCKETS + 1);

  /** Builds an empty ring. Throws `RangeError` on a bad option. */
  constructor(options: KetamaRingOptions = {}) {
    super();
    const points = options.points ?? KETAMA_DEFAULT_POINTS;
    if (!Number.isSafeInteger(points) || points < 1 || points > 100_000) {
      throw new RangeError(`points must be an integer from 1 to 100000, got ${points}`);
    }
    this.pointsPerWeight = points;
  }

  /** Total points on the circle. */
  get pointCount(): number {
    this.sorted();
    return this.#points.length;
  }

  /** Each point's place on the circle (0 ≤ at < 1) and its member (for drawing the ring). */
  points(): { at: number; name: string }[] {
    const members = this.sorted();
    return Array.from(this.#points, (point, i) => ({
      at: point / 2 ** 32,
      name: members[this.#owners[i]].name,
    }));
  }

  protected override checkRoom(size: number, node: RingNode): void {
    if (size > MAX_MEMBERS) {
      throw new RingFullError(`no room for '${node.name}': ${MAX_MEMBERS} members at most`);
    }
    const points = this.#pointsOf(node);
    if (this.#total + points > MAX_POINTS) {
      throw new RingFullError(
        `no room for '${node.name}': ${points} more points would pass ${MAX_POINTS} in all`,
      );
    }
    this.#total += points;
  }

  override remove(name: string): boolean {
    const node = this.nodes().find((n) => n.name === name);
    const removed = super.remove(name);
    if (removed && node) this.#total -= this.#pointsOf(node);
    return removed;
  }

  /** Points of one member: `round(points × weight)`, at least 1. */
  #pointsOf(node: RingNode): number {
    return Math.max(1, Math.round(this.pointsPerWeight * weightOf(node)));
  }

  protected rebuild(members: readonly RingNode[]): void {
    const counts = members.map((m) => this.#pointsOf(m));
    const total = counts.reduce((a, b) => a + b, 0);
    // Pack point·2²⁰ + owner into one exact double, so one numeric sort orders by point and
    // breaks ties by name order.
    const packed = new Float64Array(total);
    let k = 0;
    members.forEach((member, owner) => {
      for (let i = 0; i < counts[owner]; i++) {
        packed[k++] = hashText(`${member.name}-${i}`) * OWNER_SHIFT + owner;
      }
    });
    packed.sort();
    this.#points = new Uint32Array(total);
    this.#owners = new Uint32Array(total);
    for (let i = 0; i < total; i++) {
      const owner = packed[i] % OWNER_SHIFT;
      this.#owners[i] = owner;
      this.#points[i] = (packed[i] - owner) / OWNER_SHIFT;
    }
    let i = 0;
    for (let b = 0; b <= BUCKETS; b++) {
      while (i < total && this.#points[i] >>> 16 < b) i++;
      this.#buckets[b] = i;
    }
  }

  protected ownerIndex(key: RoutingKey): number {
    return this.#owners[this.#startOf(key)];
  }

  protected ownerIndexes(key: RoutingKey, n: number): number[] {
    const owners = this.#owners;
    return this.walkOwners(this.#startOf(key), owners.length, n, (i) => owners[i]);
  }

  /** Index of the first point ≥ the key's hash, wrapping to 0. */
  #startOf(key: RoutingKey): number {
    const h = hashKey(key);
    const points = this.#points;
    // Binary search within the key's bucket: a few points at most.
    let lo = this.#buckets[h >>> 16];
    let hi = this.#buckets[(h >>> 16) + 1];
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (points[mid] < h) lo = mid + 1;
      else hi = mid;
    }
    return lo === points.length ? 0 : lo;
  }
}
