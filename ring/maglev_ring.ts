/**
 * Maglev hashing (Eisenbud et al., "Maglev: A Fast and Reliable Software Network Load
 * Balancer", NSDI 2016, §3.4): a lookup table of prime size filled from per-member
 * permutations, so every member owns almost exactly `M / N` entries.
 *
 * @module
 */

import { hashKey, hashText } from "./hash32.ts";
import { MemberRing, weightOf } from "./member_ring.ts";
import { RingFullError, type RingNode, type RoutingKey } from "./types.ts";

/** Options of a {@linkcode MaglevRing}. */
export interface MaglevRingOptions {
  /** Lookup table size `M`, a prime; at most that many members. Default 65537. */
  tableSize?: number;
}

/** The paper's example size, and Envoy's default: a prime. */
export const MAGLEV_DEFAULT_TABLE_SIZE = 65537;

const OFFSET_SEED = 0x6d61676c; // "magl"
const SKIP_SEED = 0x65763136; // "ev16"

/** Whether `n` is prime (trial division; table sizes are small). */
export function isPrime(n: number): boolean {
  if (!Number.isSafeInteger(n) || n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

/**
 * Maglev: member `m` has the permutation `(offset + j·skip) mod M` of the table's entries,
 * with `offset = xxh32(name) mod M` and `skip = xxh32'(name) mod (M−1) + 1`; members take
 * turns claiming their next free entry until the table is full. A key belongs to the owner of
 * entry `xxh32(key) mod M`; lookup is one array read.
 *
 * Weights: each turn a member earns `weight / maxWeight` of a claim, and claims when it has
 * earned a whole one. Balance: each member owns within a few entries of `M·w/Σw`.
 * Disruption is near-minimal but not zero: a membership change can move a small share of
 * keys between members that stayed (the paper's trade-off for the even table).
 *
 * `lookupN` walks the table from the key's entry and lists owners in the order met. Unlike
 * ketama's and rendezvous', this fail-over order is not where the owner's keys go once it
 * is removed (the refilled table decides that): a retried request may land on one replica,
 * and move again after the rebuild.
 */
export class MaglevRing extends MemberRing {
  /**
   * Most members a table of `tableSize` entries balances well: M ÷ 100 (Eisenbud et al. want
   * M ≫ N; past that, some members own visibly more entries than others).
   */
  static capacity(tableSize: number = MAGLEV_DEFAULT_TABLE_SIZE): number {
    return Math.max(1, Math.floor(tableSize / 100));
  }

  /** Lookup table size `M`. */
  readonly tableSize: number;
  #table = new Uint32Array(0);

  /** Builds an empty ring. Throws `RangeError` unless `tableSize` is a prime ≤ 2²⁴. */
  constructor(options: MaglevRingOptions = {}) {
    super();
    const size = options.tableSize ?? MAGLEV_DEFAULT_TABLE_SIZE;
    if (!isPrime(size) || size > 2 ** 24) {
      throw new RangeError(`tableSize must be a prime up to 16777216, got ${size}`);
    }
    this.tableSize = size;
  }

  /** Entries owned per member name (for analysis and tests). */
  entryCounts(): Map<string, number> {
    const members = this.sorted();
    const counts = new Map<string, number>(members.map((m) => [m.name, 0]));
    if (members.length === 0) return counts;
    for (const owner of this.#table) {
      const name = members[owner].name;
      counts.set(name, counts.get(name)! + 1);
    }
    return counts;
  }

  protected override checkRoom(size: number, node: RingNode): void {
    if (size > this.tableSize) {
      throw new RingFullError(
        `no room for '${node.name}': the table has ${this.tableSize} entries`,
      );
    }
  }

  protected rebuild(members: readonly RingNode[]): void {
    const m = this.tableSize;
    const n = members.length;
    const table = new Uint32Array(m);
    this.#table = table;
    if (n === 0) return;
    const taken = new Uint8Array(m);
    const position = new Float64Array(n);
    const skip = new Float64Array(n);
    const share = new Float64Array(n);
    const credit = new Float64Array(n);
    const weights = members.map(weightOf);
    const maxWeight = Math.max(...weights);
    members.forEach((member, i) => {
      position[i] = hashText(member.name, OFFSET_SEED) % m;
      skip[i] = (hashText(member.name, SKIP_SEED) % (m - 1)) + 1;
      share[i] = weights[i] / maxWeight;
    });
    let filled = 0;
    while (filled < m) {
      for (let i = 0; i < n && filled < m; i++) {
        credit[i] += share[i];
        while (credit[i] >= 1 && filled < m) {
          credit[i] -= 1;
          let c = position[i];
          while (taken[c]) c = (c + skip[i]) % m;
          taken[c] = 1;
          table[c] = i;
          position[i] = (c + skip[i]) % m;
          filled++;
        }
      }
    }
  }

  protected ownerIndex(key: RoutingKey): number {
    return this.#table[hashKey(key) % this.tableSize];
  }

  protected ownerIndexes(key: RoutingKey, n: number): number[] {
    const table = this.#table;
    return this.walkOwners(hashKey(key) % this.tableSize, table.length, n, (i) => table[i]);
  }
}
