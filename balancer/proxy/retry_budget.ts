/**
 * A retry budget (Envoy's and Finagle's model): retries may be at most a share of the
 * requests seen over a sliding window, so a sick cluster is not hammered with retries on
 * top of its load. A few retries are always allowed, so a quiet balancer still fails over.
 *
 * @module
 */

/** Options of a {@linkcode RetryBudget}. */
export interface RetryBudgetOptions {
  /** Retries allowed per request over the window, e.g. 0.2. */
  ratio: number;
  /** Retries always allowed per window, whatever the traffic. Default 10. */
  minRetries?: number;
  /** Window length, ms. Default 10 000. */
  windowMs?: number;
  /** Clock, ms. Default `performance.now`. */
  now?: () => number;
}

const BUCKETS = 10;

/** Counts requests and retries in a sliding window of ten buckets. */
export class RetryBudget {
  readonly #ratio: number;
  readonly #minRetries: number;
  readonly #bucketMs: number;
  readonly #now: () => number;
  readonly #requests = new Array<number>(BUCKETS).fill(0);
  readonly #retries = new Array<number>(BUCKETS).fill(0);
  #bucket = 0;
  #bucketStart: number;

  /** @param options Share, floor and window. */
  constructor(options: RetryBudgetOptions) {
    this.#ratio = options.ratio;
    this.#minRetries = options.minRetries ?? 10;
    this.#bucketMs = (options.windowMs ?? 10_000) / BUCKETS;
    this.#now = options.now ?? (() => performance.now());
    this.#bucketStart = this.#now();
  }

  /** Counts one request. */
  request(): void {
    this.#advance();
    this.#requests[this.#bucket]++;
  }

  /** Takes one retry from the budget; false when it is spent. */
  tryRetry(): boolean {
    this.#advance();
    const requests = this.#requests.reduce((a, b) => a + b, 0);
    const retries = this.#retries.reduce((a, b) => a + b, 0);
    if (retries >= Math.max(this.#minRetries, Math.floor(this.#ratio * requests))) return false;
    this.#retries[this.#bucket]++;
    return true;
  }

  /** Moves the window to now, clearing the buckets that fell out of it. */
  #advance(): void {
    const now = this.#now();
    let steps = Math.floor((now - this.#bucketStart) / this.#bucketMs);
    if (steps <= 0) return;
    this.#bucketStart += steps * this.#bucketMs;
    steps = Math.min(steps, BUCKETS);
    for (let i = 0; i < steps; i++) {
      this.#bucket = (this.#bucket + 1) % BUCKETS;
      this.#requests[this.#bucket] = 0;
      this.#retries[this.#bucket] = 0;
    }
  }
}
