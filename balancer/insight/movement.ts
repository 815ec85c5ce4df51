/**
 * How many keys a membership change moved: on every change of the ring's members, the owners
 * of a fixed sample of keys are looked up again and compared with the last time. Consistent
 * hashing promises about `changed / N` of the keys (one replica of four leaving: a quarter);
 * this measures what the configured ring actually did.
 *
 * @module
 */

import { BoundedLoadRing, type Ring, type RoutingKey } from "../../ring/mod.ts";

/** What one membership change did. */
export interface Movement {
  /** Members before and after. */
  before: number;
  after: number;
  /** Share of the sampled keys whose owner changed (0 to 1). */
  moved: number;
  /** What consistent hashing promises: members that changed ÷ the larger membership. */
  ideal: number;
}

/** Keys sampled: the assignment's 6-digit request ids, spread evenly. */
export const SAMPLE_SIZE = 10_000;

/** Measures key movement across membership changes; see the module's documentation. */
export class KeyMovement {
  readonly #ring: Ring;
  readonly #keys: RoutingKey[];
  #owners: (string | undefined)[];
  #members: Set<string>;
  /** The last change measured. */
  last?: Movement;
  /** Changes measured. */
  changes = 0;

  /** @param ring The live ring (its owners, load not considered, are compared). */
  constructor(ring: Ring) {
    this.#ring = ring instanceof BoundedLoadRing ? ring.inner : ring;
    this.#keys = Array.from({ length: SAMPLE_SIZE }, (_, i) => 100_000 + i * 89);
    this.#members = this.#names();
    this.#owners = this.#lookups();
  }

  /**
   * Compares the owners now with the last measurement; undefined when the members did not
   * change (the ring was told of something else).
   */
  measure(): Movement | undefined {
    const members = this.#names();
    const before = this.#members;
    if (members.size === before.size && [...members].every((m) => before.has(m))) return;
    const owners = this.#lookups();
    let moved = 0;
    for (let i = 0; i < owners.length; i++) if (owners[i] !== this.#owners[i]) moved++;
    let changed = 0;
    for (const m of members) if (!before.has(m)) changed++;
    for (const m of before) if (!members.has(m)) changed++;
    const larger = Math.max(members.size, before.size);
    this.#owners = owners;
    this.#members = members;
    this.changes++;
    this.last = {
      before: before.size,
      after: members.size,
      moved: moved / owners.length,
      ideal: larger === 0 ? 0 : Math.min(1, changed / larger),
    };
    return this.last;
  }

  #names(): Set<string> {
    return new Set(this.#ring.nodes().map((n) => n.name));
  }

  #lookups(): (string | undefined)[] {
    return this.#keys.map((key) => this.#ring.lookup(key));
  }
}
