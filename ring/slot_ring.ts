/**
 * The assignment's consistent-hash ring: `M` slots, `K` virtual nodes per server placed at
 * `Φ(i, j) mod M`, requests at `H(key) mod M`, served by the first virtual node clockwise.
 *
 * @module
 */

import {
  keyToInteger,
  modulo,
  type RequestHash,
  specRequestHash,
  specVirtualNodeHash,
  type VirtualNodeHash,
} from "./hash.ts";
import { type Ring, RingFullError, type RingNode, type RoutingKey } from "./types.ts";

/** How a virtual node whose slot is taken finds a free one. */
export type Probing = "linear" | "quadratic";

/** Options of a {@linkcode SlotRing}; every one defaults to the assignment's value. */
export interface SlotRingOptions {
  /** Number of slots `M`. Default 512. */
  slots?: number;
  /** Virtual nodes per server `K`. Default `log2(M)` rounded down: 9 for 512 slots. */
  virtualNodes?: number;
  /** Request hash `H`. Default `i² + 2i + 17`. */
  requestHash?: RequestHash;
  /** Virtual-node hash `Φ`. Default `i² + j² + 2j + 25`. */
  virtualNodeHash?: VirtualNodeHash;
  /**
   * Collision handling. `linear` tries `s+1, s+2, …`; `quadratic` tries `s+1, s+4, s+9, …`
   * and, should that cycle miss every free slot, falls back to linear. Default `linear`.
   */
  probing?: Probing;
}

/** A placed virtual node: its slot, owner, and replica number `j`. */
export interface VirtualNode {
  /** Slot in `[0, M)`. */
  readonly slot: number;
  /** Owner's name. */
  readonly name: string;
  /** Replica number `j` in `[0, K)`. */
  readonly replica: number;
}

interface Member {
  readonly node: RingNode;
  /** Its virtual nodes' slots, placed by `#place()`. */
  slots: number[];
}

/**
 * The assignment's slot ring, exactly: `M = 512`, `K = 9`, `H(i) = i² + 2i + 17`,
 * `Φ(i, j) = i² + j² + 2j + 25` for server number `i` (the member's ordinal) and
 * `j = 0 … K-1`, with linear probing. All four are injectable for analysis A-4.
 *
 * Members keep the slots they were given when added, so adding a member moves keys only to
 * it and removing one moves only its keys. Slot placement therefore depends on the order of
 * additions when probing happens; the same sequence of calls always gives the same ring.
 *
 * @example
 * ```ts
 * const ring = new SlotRing();
 * ring.add({ name: "Server 1", ordinal: 1 });
 * ring.add({ name: "Server 2", ordinal: 2 });
 * ring.lookup(123456); // "Server 1" or "Server 2", the same on every call
 * ```
 */
export class SlotRing implements Ring {
  /** Number of slots `M`. */
  readonly slotCount: number;
  /** Virtual nodes per member `K`. */
  readonly virtualNodeCount: number;
  readonly #requestHash: RequestHash;
  readonly #virtualNodeHash: VirtualNodeHash;
  readonly #probing: Probing;
  /** Owner name per slot, `undefined` when free. */
  readonly #owners: (string | undefined)[];
  /** Occupied slots, ascending. */
  readonly #occupied: number[] = [];
  readonly #members = new Map<string, Member>();

  /** Builds an empty ring. Throws `RangeError` on a non-integer or out-of-range option. */
  constructor(options: SlotRingOptions = {}) {
    const slots = options.slots ?? 512;
    if (!Number.isSafeInteger(slots) || slots < 1) {
      throw new RangeError(`slots must be a positive integer, got ${slots}`);
    }
    const virtualNodes = options.virtualNodes ?? Math.max(1, Math.floor(Math.log2(slots)));
    if (!Number.isSafeInteger(virtualNodes) || virtualNodes < 1 || virtualNodes > slots) {
      throw new RangeError(
        `virtualNodes must be an integer between 1 and ${slots}, got ${virtualNodes}`,
      );
    }
    this.slotCount = slots;
    this.virtualNodeCount = virtualNodes;
    this.#requestHash = options.requestHash ?? specRequestHash;
    this.#virtualNodeHash = options.virtualNodeHash ?? specVirtualNodeHash;
    this.#probing = options.probing ?? "linear";
    this.#owners = new Array(slots).fill(undefined);
  }

  /** Number of members. */
  get size(): number {
    return this.#members.size;
  }

  /** Each occupied slot's place on the circle (0 ≤ at < 1) and its member (for drawing). */
  points(): { at: number; name: string }[] {
    return this.#occupied.map((slot) => ({ at: slot / this.slotCount, name: this.#owners[slot]! }));
  }

  /** How many more members fit: free slots divided by `K`. */
  get capacity(): number {
    return Math.floor((this.slotCount - this.#occupied.length) / this.virtualNodeCount);
  }

  /**
   * Places the member's `K` virtual nodes. Throws when the name is taken or the ring is full.
   * Two members may share an ordinal (two balancers sharing replicas numbered one at the same
   * moment): both are placed in the canonical order, the second's virtual nodes probing past the
   * first's, so every ring with the same members still agrees.
   */
  add(node: RingNode): void {
    if (this.#members.has(node.name)) throw new Error(`'${node.name}' is already in the ring`);
    if (!Number.isSafeInteger(node.ordinal)) {
      throw new RangeError(`ordinal of '${node.name}' must be an integer, got ${node.ordinal}`);
    }
    if (this.#occupied.length + this.virtualNodeCount > this.slotCount) {
      throw new RingFullError(
        `no room for '${node.name}': ${this.slotCount - this.#occupied.length} free slots, ` +
          `${this.virtualNodeCount} needed`,
      );
    }
    this.#members.set(node.name, { node, slots: [] });
    this.#place();
  }

  /** Frees the member's slots; returns whether it was present. */
  remove(name: string): boolean {
    const member = this.#members.get(name);
    if (!member) return false;
    this.#members.delete(name);
    this.#place();
    return true;
  }

  /**
   * Places every member's virtual nodes again, in a canonical order (by ordinal, then name), so
   * the table depends on the member set only, not on the order members joined: two balancers,
   * two workers, or one balancer before and after a restart place every key alike. (Placing
   * incrementally, a member's probed slots would depend on who was there first.)
   */
  #place(): void {
    this.#owners.fill(undefined);
    this.#occupied.length = 0;
    const members = [...this.#members.values()].sort((a, b) =>
      a.node.ordinal - b.node.ordinal || (a.node.name < b.node.name ? -1 : 1)
    );
    for (const member of members) {
      member.slots = [];
      for (let j = 0; j < this.virtualNodeCount; j++) {
        const slot = this.#freeSlotFrom(
          modulo(this.#virtualNodeHash(member.node.ordinal, j), this.slotCount),
        );
        this.#owners[slot] = member.node.name;
        member.slots.push(slot);
      }
    }
    for (let slot = 0; slot < this.slotCount; slot++) {
      if (this.#owners[slot] !== undefined) this.#occupied.push(slot);
    }
  }

  /** Whether a member with this name is present. */
  has(name: string): boolean {
    return this.#members.has(name);
  }

  /** The members, in the order they were added. */
  nodes(): readonly RingNode[] {
    return [...this.#members.values()].map((m) => m.node);
  }

  /** The slot a key hashes to: `H(key) mod M`. */
  slotOf(key: RoutingKey): number {
    return modulo(this.#requestHash(keyToInteger(key)), this.slotCount);
  }

  /** Every placed virtual node, ordered by slot. */
  virtualNodes(): VirtualNode[] {
    const result: VirtualNode[] = [];
    for (const { node, slots } of this.#members.values()) {
      slots.forEach((slot, replica) => result.push({ slot, name: node.name, replica }));
    }
    return result.sort((a, b) => a.slot - b.slot);
  }

  /** The owner of the first virtual node at or clockwise after the key's slot. */
  lookup(key: RoutingKey): string | undefined {
    if (this.#occupied.length === 0) return undefined;
    return this.#owners[this.#occupied[this.#startIndex(key)]];
  }

  /** The first `n` distinct owners clockwise from the key's slot. */
  lookupN(key: RoutingKey, n: number): string[] {
    const want = Math.min(n, this.#members.size);
    const found: string[] = [];
    if (want <= 0) return found;
    const start = this.#startIndex(key);
    const count = this.#occupied.length;
    for (let step = 0; step < count && found.length < want; step++) {
      const owner = this.#owners[this.#occupied[(start + step) % count]]!;
      if (!found.includes(owner)) found.push(owner);
    }
    return found;
  }

  /** Index in `#occupied` of the first slot ≥ the key's slot, wrapping to 0. */
  #startIndex(key: RoutingKey): number {
    const index = lowerBound(this.#occupied, this.slotOf(key));
    return index === this.#occupied.length ? 0 : index;
  }

  #freeSlotFrom(home: number): number {
    const m = this.slotCount;
    if (this.#probing === "quadratic") {
      for (let t = 0; t < m; t++) {
        const slot = (home + t * t) % m;
        if (this.#owners[slot] === undefined) return slot;
      }
    }
    for (let t = 0; t < m; t++) {
      const slot = (home + t) % m;
      if (this.#owners[slot] === undefined) return slot;
    }
    // Unreachable: add() checked that enough slots are free.
    throw new RingFullError("no free slot");
  }
}

/** Index of the first element ≥ `value` in an ascending array. */
function lowerBound(sorted: readonly number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
