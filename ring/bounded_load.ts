/**
 * Consistent hashing with bounded loads (Mirrokni, Thorup and Zadimoghaddam, SODA 2018; used
 * by Google Cloud Pub/Sub and HAProxy's `hash-balance-factor`): on top of any ring, a member
 * takes a new request only while it has fewer than `⌈(1+ε)·average⌉` in flight; otherwise the
 * request goes to the next member in the key's ring order that does.
 *
 * @module
 */

import type { LoadAwareRing, Ring, RingNode, RoutingKey } from "./types.ts";

/** The default ε: no member above 125 % of the average load. */
export const DEFAULT_BALANCE_FACTOR = 0.25;

/**
 * Wraps a ring with a load cap. The balancer calls {@linkcode BoundedLoadRing.acquire} when a
 * request to a member starts and {@linkcode BoundedLoadRing.release} when it ends; lookups
 * then skip members at the cap `⌈(1+ε)·(inFlight + 1)/N⌉` (the `+ 1` is the request being
 * placed), so no member ever exceeds it and the average always fits under it.
 *
 * Keys stay on their ring owner while it is under the cap, so the wrapper costs nothing at
 * light load; under a hot key or a hot member it trades affinity for balance. Membership
 * changes go to the inner ring.
 */
export class BoundedLoadRing implements LoadAwareRing {
  /** The ring keys are placed by. */
  readonly inner: Ring;
  /** ε: how far above the average a member may go. */
  readonly epsilon: number;
  readonly #load = new Map<string, number>();
  #total = 0;
  #spillovers = 0;

  /** Wraps `inner`. Throws `RangeError` unless `epsilon` is a finite number > 0. */
  constructor(inner: Ring, epsilon = DEFAULT_BALANCE_FACTOR) {
    if (!Number.isFinite(epsilon) || epsilon <= 0) {
      throw new RangeError(`bounded-load ε must be a number > 0, got ${epsilon}`);
    }
    this.inner = inner;
    this.epsilon = epsilon;
  }

  /** Whether the inner ring uses weights. */
  get weighted(): boolean {
    return this.inner.weighted === true;
  }

  /** Number of members. */
  get size(): number {
    return this.inner.size;
  }

  /** Requests in flight to current members (a member that left stops counting at once). */
  get inFlight(): number {
    return this.#total;
  }

  /** The most requests a member may have in flight when one more is placed. */
  get cap(): number {
    const n = this.inner.size;
    return n === 0 ? 0 : Math.ceil(((1 + this.epsilon) * (this.#total + 1)) / n);
  }

  /** Adds a member to the inner ring. */
  add(node: RingNode): void {
    this.inner.add(node);
  }

  /**
   * Removes a member from the inner ring. Its requests still in flight no longer count
   * towards the average (they would raise everyone's cap); their releases are ignored.
   */
  remove(name: string): boolean {
    const removed = this.inner.remove(name);
    if (removed) {
      this.#total -= this.load(name);
      this.#load.delete(name);
    }
    return removed;
  }

  /** Whether a member with this name is present. */
  has(name: string): boolean {
    return this.inner.has(name);
  }

  /** The members, in the order they were added. */
  nodes(): readonly RingNode[] {
    return this.inner.nodes();
  }

  /** Lookups that did not go to the key's owner because it was at the cap (for metrics). */
  get spillovers(): number {
    return this.#spillovers;
  }

  /**
   * Slow start: the share of the cap a member may use now (0 < share ≤ 1), or none (all of
   * it). A member that just joined gets a small share that grows, so it is not flooded.
   */
  capShare?: (name: string) => number;

  /** Whether `name` may take one more request now: under its cap, slow start included. */
  underCap(name: string): boolean {
    return this.#under(name, this.cap);
  }

  /** Whether `name` is under its cap (the ring's, scaled by its slow-start share). */
  #under(name: string, cap: number): boolean {
    const share = this.capShare?.(name) ?? 1;
    return this.load(name) < (share >= 1 ? cap : Math.max(1, Math.ceil(cap * share)));
  }

  /** The first member in the key's ring order that is under the cap. */
  lookup(key: RoutingKey): string | undefined {
    const owner = this.inner.lookup(key);
    if (owner === undefined || this.#under(owner, this.cap)) return owner;
    const chosen = this.lookupN(key, 1)[0];
    if (chosen !== owner) this.#spillovers++;
    return chosen;
  }

  /**
   * The member {@linkcode lookup} picks, then the others in the key's ring order: the order
   * to try them in. Fewer than `n` when the ring has fewer members.
   */
  lookupN(key: RoutingKey, n: number): string[] {
    const size = this.inner.size;
    const cap = this.cap;
    // Ask the inner ring for a little more than needed, and for all only when every member
    // in that prefix is at the cap (rare: the average fits under the cap by definition).
    let order = this.inner.lookupN(key, Math.min(size, Math.max(n, 1) + 2));
    let chosen = order.findIndex((name) => this.#under(name, cap));
    if (chosen < 0 && order.length < size) {
      order = this.inner.lookupN(key, size);
      chosen = order.findIndex((name) => this.#under(name, cap));
    }
    if (chosen > 0) order.unshift(...order.splice(chosen, 1));
    return order.slice(0, Math.max(0, n));
  }

  /** A request to `name` has started. Requests to a name not in the ring are not counted. */
  acquire(name: string): void {
    if (!this.inner.has(name)) return;
    this.#load.set(name, this.load(name) + 1);
    this.#total++;
  }

  /** A request to `name` has ended. Extra releases are ignored. */
  release(name: string): void {
    const load = this.load(name);
    if (load === 0) return;
    if (load === 1) this.#load.delete(name);
    else this.#load.set(name, load - 1);
    this.#total--;
  }

  /** Requests in flight to `name`. */
  load(name: string): number {
    return this.#load.get(name) ?? 0;
  }
}
