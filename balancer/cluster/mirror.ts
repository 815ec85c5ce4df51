/**
 * A data plane's copy of the replica set: a worker routes with its own ring and long-lived
 * targets, built from the membership its control plane sends, and sends every try's outcome
 * back (outlier detection, like health checks and the provider, lives in the control plane).
 * With a load-aware policy (`--balance p2c-ewma|least-request`) a worker weighs the replicas by
 * what it sees itself, its own requests in flight and answer times, as each of Envoy's worker
 * threads does: every process draws its two choices from its own load.
 *
 * @module
 */

import {
  BoundedLoadRing,
  isLoadAware,
  type LoadAwareRing,
  type Ring,
  type RoutingKey,
} from "../../ring/mod.ts";
import type { Abort } from "../support/mod.ts";
import type { TryOutcome } from "./outlier.ts";
import { Ejection, type RouteTarget } from "./replica.ts";
import { type Balanced, type BalancePolicy, PeakEwma, pickTwo, slowStartShare } from "./balance.ts";

/** A ring member as the control plane sends it. */
export interface Member {
  name: string;
  ordinal: number;
  url: string;
  /** Its weight on a weighted ring; 1 when absent. */
  weight?: number;
}

/** One membership message: the ring's members, numbered so that workers can acknowledge. */
export interface MembershipUpdate {
  version: number;
  members: Member[];
}

/** A replica as a worker knows it. */
class MirroredReplica implements RouteTarget, Balanced {
  readonly name: string;
  url: string;
  /** This worker's requests in flight to it. */
  inFlight = 0;
  /** Its answer times as this worker saw them (`--balance p2c-ewma`). */
  readonly latency = new PeakEwma();
  readonly timed: boolean;
  /** When this worker began routing to it (slow start ramps from here). */
  readonly servingSince: number;
  readonly #ejection = new Ejection();
  readonly #mirror: MirroredCluster;

  constructor(member: Member, mirror: MirroredCluster) {
    this.name = member.name;
    this.url = member.url;
    this.#mirror = mirror;
    this.timed = mirror.balance === "p2c-ewma";
    this.servingSince = mirror.now();
  }

  /** Slow start's share of its traffic at `now` (1 when off). */
  share(now: number): number {
    return slowStartShare(now - this.servingSince, this.#mirror.slowStartMs);
  }

  get ejected(): AbortSignal {
    return this.#ejection.signal;
  }

  /** It ended (its process or container exited): tries in flight to it give up. */
  end(): void {
    this.#ejection.end(new Error(`replica '${this.name}' left the ring`));
  }

  watch(attempt: Abort): void {
    this.#ejection.watch(attempt);
  }

  unwatch(attempt: Abort): void {
    this.#ejection.unwatch(attempt);
  }

  enter(): void {
    this.inFlight++;
    this.#mirror.load?.acquire(this.name);
  }

  leave(): void {
    this.inFlight--;
    this.#mirror.load?.release(this.name);
  }

  answered(latencyMs: number, now: number): void {
    this.latency.observe(latencyMs, now);
  }

  failed(elapsedMs: number, now: number): void {
    this.latency.penalize(elapsedMs, now);
  }

  report(outcome: TryOutcome): void {
    this.#mirror.report(this.name, outcome);
  }
}

/** The replica set as a worker mirrors it. */
export class MirroredCluster {
  readonly #ring: Ring;
  readonly #replicas = new Map<string, MirroredReplica>();
  /**
   * Replicas that left the ring, still answering what is in flight to them (a drain, an outlier
   * ejection), until the control plane says they ended or they come back.
   */
  readonly #leaving = new Map<string, MirroredReplica>();
  /** Where try outcomes go (the control plane). */
  readonly report: (name: string, outcome: TryOutcome) => void;
  /** The ring, when it counts loads (bounded load). */
  readonly load: LoadAwareRing | undefined;
  /** The version applied last (0: none yet). */
  version = 0;
  /** How requests are spread: by the key's ring, or by this worker's view of the load. */
  readonly balance: BalancePolicy;
  /** Slow start, ms (0: off): a member new to this worker ramps up over it, as there. */
  readonly slowStartMs: number;
  /** The clock, ms. */
  readonly now: () => number;
  readonly #random: () => number;
  /** The ring's members, for the load-aware draw (rebuilt on change). */
  #serving: MirroredReplica[] = [];

  /**
   * @param ring An empty ring of the configured kind. @param report Sends an outcome on.
   * @param options `--balance` (default `hash`), `--slow-start` (default 0), the draw's random
   * source and the clock.
   */
  constructor(
    ring: Ring,
    report: (name: string, outcome: TryOutcome) => void,
    options: {
      balance?: BalancePolicy;
      slowStartMs?: number;
      random?: () => number;
      now?: () => number;
    } = {},
  ) {
    this.#ring = ring;
    this.report = report;
    this.load = isLoadAware(ring) ? ring : undefined;
    this.balance = options.balance ?? "hash";
    this.slowStartMs = options.slowStartMs ?? 0;
    this.#random = options.random ?? Math.random;
    this.now = options.now ?? (() => performance.now());
    // A bounded-load ring holds a member in slow start to its share of the cap.
    if (this.slowStartMs > 0 && ring instanceof BoundedLoadRing) {
      ring.capShare = (name) => this.#replicas.get(name)?.share(this.now()) ?? 1;
    }
  }

  /** Makes the ring hold exactly `update.members` (an older version than the last is ignored). */
  apply(update: MembershipUpdate): void {
    if (update.version <= this.version) return;
    this.version = update.version;
    const wanted = new Map(update.members.map((m) => [m.name, m]));
    for (const [name, replica] of this.#replicas) {
      const member = wanted.get(name);
      if (member && member.url === replica.url) continue;
      // Out of the ring, as on the control plane: what is in flight to it may finish.
      this.#ring.remove(name);
      this.#replicas.delete(name);
      if (member) replica.end(); // (the same name at another address: the old one is gone)
      else if (!replica.ejected.aborted) this.#leaving.set(name, replica); // (not if it ended)
    }
    for (const member of update.members) {
      if (this.#replicas.has(member.name)) continue;
      this.#leaving.delete(member.name);
      this.#ring.add(
        member.weight === undefined
          ? { name: member.name, ordinal: member.ordinal }
          : { name: member.name, ordinal: member.ordinal, weight: member.weight },
      );
      this.#replicas.set(member.name, new MirroredReplica(member, this));
    }
    this.#serving = [...this.#replicas.values()];
  }

  /** The control plane says `name` ended: its tries in flight give up, as there. */
  ended(name: string): void {
    this.#leaving.get(name)?.end();
    this.#leaving.delete(name);
    this.#replicas.get(name)?.end(); // (an end can come before the ring change)
  }

  /** The replicas to try for `key`, owner first (as `ReplicaManager.route`). */
  route(key: RoutingKey, n: number): RouteTarget[] {
    if (this.balance !== "hash") {
      return pickTwo(this.#serving, n, this.balance, this.#random, this.now());
    }
    const targets: RouteTarget[] = [];
    if (n === 1) {
      const name = this.#ring.lookup(key);
      const replica = name === undefined ? undefined : this.#replicas.get(name);
      if (replica) targets.push(replica);
      return targets;
    }
    for (const name of this.#ring.lookupN(key, n)) {
      const replica = this.#replicas.get(name);
      if (replica) targets.push(replica);
    }
    return targets;
  }
}
