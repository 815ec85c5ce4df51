/**
 * Active health checks: each watched replica's `/heartbeat` is polled on its own timer.
 *
 * @module
 */

import { errorMessage, type Logger, type Timer, withDefaults } from "../support/mod.ts";

/** The settings of heartbeats (`--heartbeat-interval`, `--heartbeat-timeout`, `--fail-threshold`). */
export interface HealthConfig {
  /** Time between heartbeats of a healthy replica, ±10 % jitter, ms. */
  intervalMs: number;
  /** A heartbeat not answered within this is a failure, ms. */
  timeoutMs: number;
  /** Consecutive failures that mark a healthy replica down. */
  failThreshold: number;
}

/** Options of a {@linkcode HealthMonitor}. */
export interface HealthOptions extends HealthConfig {
  /** Logger for individual failures (debug level). */
  logger: Logger;
  /** HTTP client. Default the global `fetch`. */
  fetch?: typeof fetch;
  /** Random source for jitter, in [0, 1). Default `Math.random`. */
  random?: () => number;
}

/** Options of {@linkcode HealthMonitor.watch}. */
export interface WatchOptions {
  /**
   * Poll period until the first good heartbeat, ms (at most the interval). Default 50: a new
   * replica joins fast. A backend known to be down is polled at the normal interval.
   */
  downIntervalMs?: number;
}

/** What a watcher is told. Each callback fires at most once per watch. */
export interface HealthCallbacks {
  /** The first successful heartbeat. */
  onUp(): void;
  /** `failThreshold` consecutive failures after being up; polling stops. */
  onDown(reason: string): void;
}

interface Watch {
  readonly name: string;
  readonly url: string;
  readonly callbacks: HealthCallbacks;
  readonly abort: AbortController;
  up: boolean;
  failures: number;
  /** Poll period until the first good heartbeat. */
  readonly downIntervalMs: number;
  timer?: Timer;
}

/** Before its first good heartbeat a replica is polled this often at most (fast joins). */
const STARTUP_INTERVAL_MS = 50;

/**
 * `ms` ± 10 %, uniformly: the wait between two heartbeats of a healthy replica. The jitter
 * keeps the heartbeats of replicas started together from all landing at the same moment.
 */
export function jittered(ms: number, random: () => number): number {
  return ms * (0.9 + 0.2 * random());
}

/**
 * Polls `GET <url>/heartbeat` for every watched replica. A 2xx within the timeout is a
 * success; anything else (error status, refused connection, timeout) is a failure.
 * Before a replica's first success it is polled quickly and failures are not counted:
 * start-up deadlines belong to the caller.
 */
export class HealthMonitor {
  /** Failed heartbeats of serving replicas so far (for metrics). */
  failures = 0;
  readonly #options: Required<HealthOptions>;
  readonly #watches = new Map<string, Watch>();
  #closed = false;

  /** @param options Intervals, thresholds and the HTTP client. */
  constructor(options: HealthOptions) {
    this.#options = withDefaults({ fetch: globalThis.fetch, random: Math.random }, options);
  }

  /** Starts polling `url` (a base URL) under `name`, replacing any earlier watch of that name. */
  watch(
    name: string,
    url: string,
    callbacks: HealthCallbacks,
    options: WatchOptions = {},
  ): void {
    this.unwatch(name);
    if (this.#closed) return;
    const watch: Watch = {
      name,
      url,
      callbacks,
      abort: new AbortController(),
      up: false,
      failures: 0,
      downIntervalMs: options.downIntervalMs ?? STARTUP_INTERVAL_MS,
    };
    this.#watches.set(name, watch);
    this.#check(watch);
  }

  /** Stops polling `name`; an answer still in flight is ignored. */
  unwatch(name: string): void {
    const watch = this.#watches.get(name);
    if (!watch) return;
    this.#watches.delete(name);
    clearTimeout(watch.timer);
    watch.abort.abort();
  }

  /** Stops every watch; later `watch` calls do nothing. */
  close(): void {
    this.#closed = true;
    for (const name of [...this.#watches.keys()]) this.unwatch(name);
  }

  /** One round; anything it throws is logged, never an unhandled rejection. */
  #check(watch: Watch): void {
    this.#round(watch).catch((error) => this.#callbackFailed(watch, error));
  }

  async #round(watch: Watch): Promise<void> {
    const failure = await this.#probe(watch);
    if (watch.abort.signal.aborted) return;
    if (failure === undefined) {
      watch.failures = 0;
      if (!watch.up) {
        watch.up = true;
        this.#notify(watch, () => watch.callbacks.onUp());
      }
    } else if (watch.up) {
      watch.failures++;
      this.failures++;
      this.#options.logger.debug("heartbeat.failed", {
        name: watch.name,
        failures: watch.failures,
        reason: failure,
      });
      if (watch.failures >= this.#options.failThreshold) {
        this.unwatch(watch.name);
        const reason = `${watch.failures} heartbeats failed, last: ${failure}`;
        this.#notify(watch, () => watch.callbacks.onDown(reason));
        return;
      }
    }
    if (watch.abort.signal.aborted) return; // a callback unwatched it
    const { intervalMs, random } = this.#options;
    const wait = watch.up
      ? jittered(intervalMs, random)
      : Math.min(intervalMs, watch.downIntervalMs);
    watch.timer = setTimeout(() => this.#check(watch), wait);
  }

  /** Calls a watcher back; one that throws is logged, and the watch goes on. */
  #notify(watch: Watch, callback: () => void): void {
    try {
      callback();
    } catch (error) {
      this.#callbackFailed(watch, error);
    }
  }

  #callbackFailed(watch: Watch, error: unknown): void {
    this.#options.logger.error("heartbeat.callback_failed", {
      name: watch.name,
      reason: errorMessage(error),
    });
  }

  /** One heartbeat: `undefined` on success, else why it failed. */
  async #probe(watch: Watch): Promise<string | undefined> {
    const { timeoutMs } = this.#options;
    const signal = AbortSignal.any([watch.abort.signal, AbortSignal.timeout(timeoutMs)]);
    try {
      const res = await this.#options.fetch(`${watch.url}/heartbeat`, { signal });
      await res.body?.cancel();
      return res.ok ? undefined : `status ${res.status}`;
    } catch (error) {
      if (error instanceof DOMException && error.name === "TimeoutError") {
        return `no answer within ${timeoutMs} ms`;
      }
      return errorMessage(error);
    }
  }
}
