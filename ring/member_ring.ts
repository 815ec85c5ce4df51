/**
 * What the rings built from their whole membership share: the member set, its checks, and a
 * lazy rebuild from the members sorted by name, so the layout never depends on the order
 * members joined in (two balancers with the same members route every key alike).
 *
 * @module
 */

import type { Ring, RingNode, RoutingKey } from "./types.ts";

/** Checks a member's weight: a positive finite number, 1 when absent. */
export function weightOf(node: RingNode): number {
  const weight = node.weight ?? 1;
  if (!Number.isFinite(weight) || weight <= 0) {
    throw new RangeError(`weight of '${node.name}' must be a positive number, got ${weight}`);
  }
  return weight;
}

/**
 * A ring whose lookup structure is a pure function of its member set. Membership changes mark
 * it stale; the next lookup rebuilds it from {@linkcode MemberRing.sorted}.
 */
export abstract class MemberRing implements Ring {
  readonly #members = new Map<string, RingNode>();
  #sorted: RingNode[] | undefined = [];

  /** Members' weights set their shares. */
  readonly weighted = true;

  /** Number of members. */
  get size(): number {
    return this.#members.size;
  }

  /** Adds a member. Throws on a taken name or a bad weight. */
  add(node: RingNode): void {
    if (this.#members.has(node.name)) throw new Error(`'${node.name}' is already in the ring`);
    weightOf(node);
    this.checkRoom(this.#members.size + 1, node);
    this.#members.set(node.name, node);
    this.#sorted = undefined;
  }

  /** Removes a member by name; returns whether it was present. */
  remove(name: string): boolean {
    if (!this.#members.delete(name)) return false;
    this.#sorted = undefined;
    return true;
  }

  /** Whether a member with this name is present. */
  has(name: string): boolean {
    return this.#members.has(name);
  }

  /** The members, in the order they were added. */
  nodes(): readonly RingNode[] {
    return [...this.#members.values()];
  }

  /** The owner of `key`, or `undefined` when the ring is empty. */
  lookup(key: RoutingKey): string | undefined {
    const members = this.sorted();
    if (members.length === 0) return undefined;
    return members[this.ownerIndex(key)].name;
  }

  /** The first `n` distinct members for `key`: the owner, then the fail-over order. */
  lookupN(key: RoutingKey, n: number): string[] {
    const members = this.sorted();
    const want = Math.min(n, members.length);
    if (want <= 0) return [];
    return this.ownerIndexes(key, want).map((i) => members[i].name);
  }

  /** The members sorted by name, rebuilding the lookup structure first if they changed. */
  protected sorted(): readonly RingNode[] {
    if (this.#sorted === undefined) {
      const sorted = [...this.#members.values()].sort((a, b) =>
        a.name < b.name ? -1 : a.name > b.name ? 1 : 0
      );
      this.rebuild(sorted);
      this.#sorted = sorted;
    }
    return this.#sorted;
  }

  /**
   * The first `n` distinct owners met walking `length` entries from `start` (wrapping), where
   * `ownerAt(i)` is the member index of entry `i`; members met nowhere (a Maglev member too
   * light to own an entry) follow in name order, so exactly `n` come back.
   */
  protected walkOwners(
    start: number,
    length: number,
    n: number,
    ownerAt: (i: number) => number,
  ): number[] {
    const found: number[] = [];
    const seen = new Uint8Array(this.size);
    for (let step = 0; step < length && found.length < n; step++) {
      const owner = ownerAt((start + step) % length);
      if (!seen[owner]) {
        seen[owner] = 1;
        found.push(owner);
      }
    }
    for (let owner = 0; owner < seen.length && found.length < n; owner++) {
      if (!seen[owner]) found.push(owner);
    }
    return found;
  }

  /** Throws `RingFullError` if `size` members cannot fit. Default: any number fits. */
  protected checkRoom(_size: number, _node: RingNode): void {}

  /** Builds the lookup structure for `members`, sorted by name (possibly none). */
  protected abstract rebuild(members: readonly RingNode[]): void;

  /** Index in the sorted members of the owner of `key`; the ring is not empty. */
  protected abstract ownerIndex(key: RoutingKey): number;

  /** Indexes of the first `n` distinct members for `key`, 1 ≤ n ≤ size. */
  protected abstract ownerIndexes(key: RoutingKey, n: number): number[];
}
