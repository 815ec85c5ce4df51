/**
 * A data plane's copy of the replica set: a worker routes with its own ring and long-lived
 * targets, built from the membership its control plane sends, and sends every try's outcome
 * back (outlier detection, like health checks and the provider, lives in the control plane).
 *
 * @module
 */

import { isLoadAware, type LoadAwareRing, type Ring, type RoutingKey } from "../../ring/mod.ts";
import type { Abort } from "../support/mod.ts";
import type { TryOutcome } from "./outlier.ts";
import { Ejection, type RouteTarget } from "./replica.ts";

/** A ring member as the control plane sends it. */
export interface Member {
  name: string;
  ordinal: number;
  url: string;
}

/** One membership message: the ring's members, numbered so that workers can acknowledge. */
export interface MembershipUpdate {
  version: number;
  members: Member[];
}

/** A replica as a worker knows it. */
class MirroredReplica implements RouteTarget {
  readonly name: string;
  url: string;
  readonly #ejection = new Ejection();
  readonly #mirror: MirroredCluster;

  constructor(member: Member, mirror: MirroredCluster) {
    this.name = member.name;
    this.url = member.url;
    this.#mirror = mirror;
  }

  get ejected(): AbortSignal {
    return this.#ejection.signal;
  }

  /** It left the ring: tries in flight to it give up, as on the control plane. */
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
    this.#mirror.load?.acquire(this.name);
  }

  leave(): void {
    this.#mirror.load?.release(this.name);
  }

  report(outcome: TryOutcome): void {
    this.#mirror.report(this.name, outcome);
  }
}

/** The replica set as a worker mirrors it. */
export class MirroredCluster {
  readonly #ring: Ring;
  readonly #replicas = new Map<string, MirroredReplica>();
  /** Where try outcomes go (the control plane). */
  readonly report: (name: string, outcome: TryOutcome) => void;
  /** The ring, when it counts loads (bounded load). */
  readonly load: LoadAwareRing | undefined;
  /** The version applied last (0: none yet). */
  version = 0;

  /** @param ring An empty ring of the configured kind. @param report Sends an outcome on. */
  constructor(ring: Ring, report: (name: string, outcome: TryOutcome) => void) {
    this.#ring = ring;
    this.report = report;
    this.load = isLoadAware(ring) ? ring : undefined;
  }

  /** Makes the ring hold exactly `update.members` (an older version than the last is ignored). */
  apply(update: MembershipUpdate): void {
    if (update.version <= this.version) return;
    this.version = update.version;
    const wanted = new Map(update.members.map((m) => [m.name, m]));
    for (const [name, replica] of this.#replicas) {
      const member = wanted.get(name);
      if (member && member.url === replica.url) continue;
      this.#ring.remove(name);
      this.#replicas.delete(name);
      replica.end();
    }
    for (const member of update.members) {
      if (this.#replicas.has(member.name)) continue;
      this.#ring.add({ name: member.name, ordinal: member.ordinal });
      this.#replicas.set(member.name, new MirroredReplica(member, this));
    }
  }

  /** The replicas to try for `key`, owner first (as `ReplicaManager.route`). */
  route(key: RoutingKey, n: number): RouteTarget[] {
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

  /** The members it routes to now. */
  members(): Member[] {
    return [...this.#replicas.values()].map((r) => ({
      name: r.name,
      ordinal: this.#ring.nodes().find((n) => n.name === r.name)!.ordinal,
      url: r.url,
    }));
  }
}
