/**
 * Load-aware choice for traffic with no affinity (`--balance p2c-ewma|least-request`): the
 * power of two choices. Two serving replicas are drawn at random and the one with the lower cost
 * gets the request — nearly as good as asking every replica, at the cost of two (Mitzenmacher;
 * Envoy's `least_request`, Finagle's and Linkerd's balancers).
 *
 * - `least-request`: cost = requests in flight.
 * - `p2c-ewma`: cost = a "peak EWMA" of the replica's time to answer × (requests in flight + 1).
 *   A slower answer than the average replaces it at once (the peak), a faster one pulls it down
 *   with a 2 s time constant; and while no answer comes, the estimate decays with that constant,
 *   so a replica that was slow and got no traffic for it is tried again and gets its share back
 *   once it answers fast.
 *
 * @module
 */

/** How requests are spread: by the key's ring (`hash`), or by load. */
export type BalancePolicy = "hash" | "p2c-ewma" | "least-request";

/** The load-aware policies. */
export const BALANCE_POLICIES: readonly BalancePolicy[] = ["hash", "p2c-ewma", "least-request"];

/**
 * Decay time constant of the latency estimate, ms. Finagle and Linkerd use 10 s; 2 s here, so
 * that a replica that was slow, and got no requests for it, is tried again within seconds
 * (a 100 ms estimate against 2 ms neighbours decays below theirs in about 8 s).
 */
export const EWMA_DECAY_MS = 2_000;

/**
 * A replica's latency estimate (peak EWMA). `observe` and `cost` take the caller's clock so
 * that a request reads it once.
 */
export class PeakEwma {
  /** The estimate, ms; 0 until the first answer (a new replica looks fast: it gets tried). */
  #ewma = 0;
  #stamp = 0;

  /**
   * A try failed or timed out after `elapsedMs`: the estimate is at least that (a replica that
   * hangs or fails slowly must not look fast). A fast failure lowers nothing.
   */
  penalize(elapsedMs: number, now: number): void {
    if (elapsedMs > this.estimate(now)) {
      this.#ewma = elapsedMs;
      this.#stamp = now;
    }
  }

  /** An answer took `latencyMs`, seen at `now`. */
  observe(latencyMs: number, now: number): void {
    const latency = Math.max(latencyMs, 0);
    if (latency > this.#ewma) this.#ewma = latency;
    else {
      const w = Math.exp(-Math.max(now - this.#stamp, 0) / EWMA_DECAY_MS);
      this.#ewma = this.#ewma * w + latency * (1 - w);
    }
    this.#stamp = now;
  }

  /** The estimate at `now`: decayed for the time since the last answer. */
  estimate(now: number): number {
    return this.#ewma * Math.exp(-Math.max(now - this.#stamp, 0) / EWMA_DECAY_MS);
  }
}

/** What a load-aware choice reads of a replica. */
export interface Balanced {
  /** Requests in flight to it. */
  readonly inFlight: number;
  /** Its latency estimate. */
  readonly latency: PeakEwma;
  /** Slow start: the share of its traffic it may take now (0 < share ≤ 1); 1 when absent. */
  share?(now: number): number;
}

/**
 * Slow start's share at `sinceMs` after a replica began serving, over `slowStartMs`: from 10 %
 * (Envoy's default minimum) up to all of it, linearly. 1 when slow start is off.
 */
export function slowStartShare(sinceMs: number, slowStartMs: number): number {
  if (slowStartMs <= 0 || sinceMs >= slowStartMs) return 1;
  return Math.max(0.1, Math.max(sinceMs, 0) / slowStartMs);
}

/**
 * A floor under the latency estimate, ms: without it, a replica with no answers yet (an
 * estimate of 0) would cost nothing however many requests it holds.
 */
export const LATENCY_FLOOR_MS = 1;

/** The cost of sending one more request to `replica` under `policy`, at `now`. */
export function costOf(policy: BalancePolicy, replica: Balanced, now: number): number {
  if (policy === "least-request") return replica.inFlight;
  return (replica.latency.estimate(now) + LATENCY_FLOOR_MS) * (replica.inFlight + 1);
}

/**
 * Chooses among `serving` by the power of two choices: the cheaper of two drawn at random
 * (ties to the first). With `n > 1`, the rest follow from the cheapest up (fail-overs).
 */
export function pickTwo<T extends Balanced>(
  serving: readonly T[],
  n: number,
  policy: BalancePolicy,
  random: () => number,
  now: number,
): T[] {
  if (serving.length <= 1 || n < 1) return serving.slice(0, Math.max(n, 0));
  const i = Math.floor(random() * serving.length);
  let j = Math.floor(random() * (serving.length - 1));
  if (j >= i) j++;
  const [a, b] = [serving[i], serving[j]];
  // A replica in slow start stays in the draw only with its share's probability (a new one
  // looks idle and fast: without this it would win every draw at once).
  const shareA = a.share?.(now) ?? 1;
  const shareB = b.share?.(now) ?? 1;
  let first: T;
  if (shareA < 1 && shareB < 1) {
    // Both ramping (replicas that started together): costs weighed by shares, not chance.
    const costA = (costOf(policy, a, now) + 1) / shareA;
    first = (costOf(policy, b, now) + 1) / shareB < costA ? b : a;
  } else if (shareA < 1 && random() >= shareA) first = b;
  else if (shareB < 1 && random() >= shareB) first = a;
  else first = costOf(policy, b, now) < costOf(policy, a, now) ? b : a;
  if (n === 1) return [first];
  const rest = serving.filter((r) => r !== first)
    .map((r) => ({ r, cost: costOf(policy, r, now) }))
    .sort((x, y) => x.cost - y.cost)
    .map((x) => x.r);
  return [first, ...rest].slice(0, n);
}
