/**
 * A replica as the balancer knows it, from spawn to stop: one long-lived object per replica,
 * and the very object the proxy routes to. A request counts itself in and out of it
 * (`enter`/`leave`) and reports how its try went (`report`); nothing is allocated per request.
 *
 * @module
 */

import type { LoadAwareRing } from "../../ring/mod.ts";
import type { Abort, Timer } from "../support/mod.ts";
import type { ReplicaHandle } from "../providers/mod.ts";
import { OutlierState, type TryOutcome } from "./outlier.ts";
import { PeakEwma, slowStartShare } from "./balance.ts";

/** What the proxy needs of a replica it sends a request to. */
export interface RouteTarget {
  /** Hostname. */
  readonly name: string;
  /** Base URL, no trailing slash. */
  readonly url: string;
  /**
   * Aborted when the replica has ended (died, or was stopped after failing): requests in
   * flight to it will get no answer (a dead container does not even reset connections).
   */
  readonly ejected: AbortSignal;
  /** Aborts `attempt` if the replica ends before {@linkcode RouteTarget.unwatch}. */
  watch(attempt: Abort): void;
  /** Stops watching `attempt` (its try is over). */
  unwatch(attempt: Abort): void;
  /**
   * Counts a request as in flight to this replica until {@linkcode RouteTarget.leave} (when
   * its answer has been passed on). A replica being removed waits for these.
   */
  enter(): void;
  /** Ends what one `enter()` began; called exactly once per `enter()`. */
  leave(): void;
  /** How a try on this replica went (outlier detection counts the failures). */
  report(outcome: TryOutcome): void;
  /** Whether the proxy should time its answers (`--balance p2c-ewma`): then `answered`. */
  readonly timed: boolean;
  /** Its answer's head came `latencyMs` after the request went out, at `now`. */
  answered(latencyMs: number, now: number): void;
  /** A try on it failed or timed out `elapsedMs` after it went out, at `now`. */
  failed(elapsedMs: number, now: number): void;
}

/**
 * Where a replica is in its life: `starting` until its first good heartbeat (and again while
 * a static backend is down), `ready` while it may serve, `stopping` once it is being removed.
 */
export type ReplicaState = "starting" | "ready" | "stopping";

/** What a replica reports to: set once by its manager. */
export interface ReplicaLinks {
  /** A bounded-load ring, told of every request in flight; none for other rings. */
  load?: LoadAwareRing;
  /** The outlier detector, told how every try went. */
  report(replica: Replica, outcome: TryOutcome): void;
  /** Whether answers are timed for a latency-aware policy. */
  timed?: boolean;
  /** Slow start: how long a replica's share ramps up after it begins serving, ms; 0: off. */
  slowStartMs?: number;
}

/**
 * A replica's end, as what is in flight to it sees it: a signal (for streamed answers and
 * tunnels) and the tries it aborts. The tries are a set, not listeners on the signal: an
 * EventTarget listener per try costs more.
 */
export class Ejection {
  #controller = new AbortController();
  readonly #attempts = new Set<Abort>();

  /** Aborted when the replica has ended. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** The replica has ended: the signal aborts, and so does every try still watched. */
  end(reason: Error): void {
    this.#controller.abort(reason);
    for (const attempt of this.#attempts) attempt.abort(reason);
    this.#attempts.clear();
  }

  /**
   * The replica stopped for a while (a swarm task died; the swarm restarts it): what is in
   * flight to it is given up, as at its end, but later tries are not: it may serve again.
   */
  interrupt(reason: Error): void {
    this.end(reason);
    this.#controller = new AbortController();
  }

  /** Aborts `attempt` when the replica ends (at once if it has). */
  watch(attempt: Abort): void {
    if (this.#controller.signal.aborted) attempt.abort(this.#controller.signal.reason);
    else this.#attempts.add(attempt);
  }

  /** Its try is over. */
  unwatch(attempt: Abort): void {
    this.#attempts.delete(attempt);
  }
}

/** One replica (or warm spare) of a balancer. */
export class Replica implements RouteTarget {
  /** Hostname; never changes. */
  readonly name: string;
  /** Server number on the ring. A spare's is the one it will serve under (`--replica-id
   * number`), or 0 until it is promoted. */
  ordinal: number;
  /** Relative share of keys on a weighted ring (`/add`'s `weights`, `--backends`' `weight=`). */
  weight = 1;
  /** Its time to answer, for `--balance p2c-ewma`. */
  readonly latency: PeakEwma = new PeakEwma();
  /** Whether the proxy times its answers. */
  readonly timed: boolean;
  /** When it last began serving (joined or rejoined the ring), `performance.now()`. */
  servingSince = Number.NEGATIVE_INFINITY;
  /** A spare is started and health-checked but outside the ring and `/rep`. */
  spare: boolean;
  /** See {@linkcode ReplicaState}. */
  state: ReplicaState = "starting";
  /** Base URL; "" until the provider has started it. */
  url = "";
  /** The provider's handle; set once started. */
  handle?: ReplicaHandle;
  /** Settles when the provider's start has settled (with the handle, or none on failure). */
  started: Promise<ReplicaHandle | undefined> = Promise.resolve(undefined);
  /** Replaces it when it has no good heartbeat in time. */
  startTimer?: Timer;
  /** Its standing with the outlier detector. */
  readonly outlier: OutlierState = new OutlierState();
  /** Requests in flight to it. */
  inFlight = 0;
  /** Resolves on the first good heartbeat; rejects when the replica fails first. */
  readonly ready: Promise<void>;

  readonly #links: ReplicaLinks;
  readonly #ejection = new Ejection();
  readonly #markReady: () => void;
  readonly #markFailed: (error: Error) => void;
  /** Called when `inFlight` drops to 0 (a drain waits on it). */
  #onIdle?: () => void;

  /**
   * @param name Hostname.
   * @param ordinal Server number (a spare: the one it will serve under, or 0 when not yet known).
   * @param spare Whether it starts as a warm spare.
   * @param links The ring's load counting and the outlier detector.
   */
  constructor(name: string, ordinal: number, spare: boolean, links: ReplicaLinks) {
    this.name = name;
    this.ordinal = ordinal;
    this.spare = spare;
    this.#links = links;
    this.timed = links.timed === true;
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    promise.catch(() => {}); // a background respawn has no one awaiting it
    this.ready = promise;
    this.#markReady = resolve;
    this.#markFailed = reject;
  }

  /** Aborted when the replica has ended. */
  get ejected(): AbortSignal {
    return this.#ejection.signal;
  }

  /** The provider has started it. */
  attach(handle: ReplicaHandle): void {
    this.handle = handle;
    this.url = handle.url;
  }

  /** It has ended: requests in flight to it are given up. */
  end(reason: Error): void {
    this.#ejection.end(reason);
  }

  /** It stopped for now (its orchestrator restarts it): requests in flight to it are given up. */
  interrupt(reason: Error): void {
    this.#ejection.interrupt(reason);
  }

  watch(attempt: Abort): void {
    this.#ejection.watch(attempt);
  }

  unwatch(attempt: Abort): void {
    this.#ejection.unwatch(attempt);
  }

  /** Its first good heartbeat: whoever awaits `ready` goes on. */
  markReady(): void {
    this.#markReady();
  }

  /** It failed before its first good heartbeat (no effect once `ready` has settled). */
  markFailed(error: Error): void {
    this.#markFailed(error);
  }

  enter(): void {
    this.inFlight++;
    this.#links.load?.acquire(this.name);
  }

  leave(): void {
    this.#links.load?.release(this.name);
    if (--this.inFlight === 0) this.#onIdle?.();
  }

  report(outcome: TryOutcome): void {
    this.#links.report(this, outcome);
  }

  answered(latencyMs: number, now: number): void {
    this.latency.observe(latencyMs, now);
  }

  failed(elapsedMs: number, now: number): void {
    this.latency.penalize(elapsedMs, now);
  }

  /** Slow start: the share of its traffic it may take at `now` (1 once ramped up, or off). */
  share(now: number): number {
    return slowStartShare(now - this.servingSince, this.#links.slowStartMs ?? 0);
  }

  /**
   * Resolves `true` once no request is in flight to it, or `false` after `timeoutMs` with
   * some still in flight.
   */
  idle(timeoutMs: number): Promise<boolean> {
    if (this.inFlight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.#onIdle = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  }
}
