/**
 * Rendezvous or highest-random-weight hashing (Thaler and Ravishankar, 1996): every member
 * scores every key, and the highest score wins. No table, perfect monotonicity, O(N) lookup.
 *
 * @module
 */

import { fmix32, hashKey, hashText } from "./hash32.ts";
import { MemberRing, weightOf } from "./member_ring.ts";
import type { RingNode, RoutingKey } from "./types.ts";

const NAME_SEED = 0x68727721; // "hrw!"
const TWO_32 = 2 ** 32;

/**
 * Rendezvous hashing: the score of member `m` for a key is `fmix32(xxh32(key) ⊕ xxh32(name))`;
 * the owner is the highest scorer, and `lookupN` lists the top `n` in score order (each key
 * has its own fail-over order, so a dead member's keys spread over all the others).
 *
 * Weights use the logarithmic method (Schindelhauer and Schomaker, 2005): score
 * `−w / ln(u)` with `u` the score scaled into (0, 1), which gives each member a share of keys
 * proportional to its weight. With equal weights the raw scores are compared (no logarithm).
 *
 * Adding a member moves keys only to it; removing one moves only its keys. Lookup costs one
 * hash and `N` integer mixes, allocation-free.
 */
export class RendezvousRing extends MemberRing {
  #seeds = new Uint32Array(0);
  #weights = new Float64Array(0);
  #weighted = false;
  #scores = new Float64Array(0);

  protected rebuild(members: readonly RingNode[]): void {
    this.#seeds = Uint32Array.from(members, (m) => hashText(m.name, NAME_SEED));
    this.#weights = Float64Array.from(members, weightOf);
    this.#weighted = members.some((m) => weightOf(m) !== 1);
    this.#scores = new Float64Array(members.length);
  }

  protected ownerIndex(key: RoutingKey): number {
    const h = hashKey(key);
    let best = 0;
    let bestScore = -Infinity;
    for (let i = 0; i < this.#seeds.length; i++) {
      const score = this.#score(h, i);
      if (score > bestScore) {
        bestScore = score;
        best = i;
      }
    }
    return best;
  }

  protected ownerIndexes(key: RoutingKey, n: number): number[] {
    const h = hashKey(key);
    const scores = this.#scores;
    for (let i = 0; i < scores.length; i++) scores[i] = this.#score(h, i);
    const found: number[] = [];
    for (let k = 0; k < n; k++) {
      let best = -1;
      for (let i = 0; i < scores.length; i++) {
        if (scores[i] !== -Infinity && (best < 0 || scores[i] > scores[best])) best = i;
      }
      found.push(best);
      scores[best] = -Infinity;
    }
    return found;
  }

  #score(h: number, i: number): number {
    const x = fmix32((h ^ this.#seeds[i]) >>> 0);
    if (!this.#weighted) return x;
    return -this.#weights[i] / Math.log((x + 0.5) / TWO_32);
  }
}
