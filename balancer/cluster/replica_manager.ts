/**
 * The replica manager: keeps the desired number of replicas alive and is the one source of
 * truth for the ring's membership. A replica joins the ring on its first good heartbeat and
 * leaves it the moment it exits, fails its heartbeats or is removed; a replica lost to a
 * failure is replaced by a new one with a new random hostname.
 *
 * Optionally it keeps warm spares: replicas started and health-checked ahead of need, outside
 * the ring and `/rep`. A failed replica is then replaced by promoting a spare, in the time it
 * takes to notice the failure, instead of the time it takes to start a replica (a container
 * needs about a second); a new spare is started in the background.
 *
 * The manager only reconciles membership. A replica's own state (in flight, ejection, its
 * readiness) is its {@linkcode Replica} object; the decision to eject an outlier is the
 * {@linkcode OutlierDetector}'s; heartbeats are the {@linkcode HealthMonitor}'s.
 *
 * @module
 */

import {
  BoundedLoadRing,
  isLoadAware,
  type Ring,
  type RingNode,
  type RoutingKey,
} from "../../ring/mod.ts";
import type { HealthMonitor } from "./health.ts";
import { type OutlierConfig, OutlierDetector, type TryOutcome } from "./outlier.ts";
import { Replica, type ReplicaLinks, type ReplicaState, type RouteTarget } from "./replica.ts";
import { type BalancePolicy, pickTwo } from "./balance.ts";
import { errorMessage, type Logger, type Timer, withDefaults } from "../support/mod.ts";
import {
  type AdoptedReplica,
  HostnameConflictError,
  type Provider,
  type ReplicaHandle,
  type ReplicaSpec,
} from "../providers/mod.ts";

/** The `/rep` message: how many replicas are managed, and their hostnames. */
export interface ReplicaSnapshot {
  /** Number of managed replicas. */
  N: number;
  /** Hostnames, ordered by the replica's ordinal (a replacement takes its predecessor's place). */
  replicas: string[];
  /**
   * Weights other than 1, by hostname; absent when every weight is 1. Not part of the spec's
   * `/rep` message: the admin API shows it beside it.
   */
  weights?: Record<string, number>;
}

/**
 * What a started replica answers as, its `SERVER_ID` (`--replica-id`): its server number (the
 * seed's `Hello from Server: 1`, and the spec ring's `i`), or its hostname.
 */
export type ReplicaIdentity = "number" | "name";

/** The settings of the replica set the manager keeps (`--max-replicas`, `--spares`, …). */
export interface ReplicaSetConfig {
  /** Most replicas `add` may bring the total to. */
  maxReplicas: number;
  /** A replica with no good heartbeat this long after it was spawned is replaced, ms. */
  startTimeoutMs: number;
  /** A replica being removed gets this long for its requests in flight, ms. Default 10 000. */
  drainTimeoutMs?: number;
  /** Warm spares to keep. Default 0. */
  spares?: number;
  /**
   * What replicas answer as (`SERVER_ID`); default `number`. A replica's `SERVER_ID` cannot
   * change once it runs, so with `number` a spare is numbered when it starts and is promoted
   * under that number.
   */
  replicaId?: ReplicaIdentity;
  /** How requests are spread: by the key's ring (`hash`, default) or by load. */
  balance?: BalancePolicy;
  /**
   * Slow start, ms (0: off): a replica that begins serving (new, or back in the ring) takes a
   * share of its traffic that ramps from 10 % to all of it over this time — through the
   * two-choice draw (`--balance p2c-ewma|least-request`) or its bounded-load cap.
   */
  slowStartMs?: number;
}

/** Options of a {@linkcode ReplicaManager}. */
export interface ReplicaManagerOptions extends ReplicaSetConfig {
  /** Starts and stops replicas. */
  provider: Provider;
  /** The ring requests are routed by; the manager owns its membership. */
  ring: Ring;
  /** Heartbeat polling. */
  health: HealthMonitor;
  /** Where lifecycle events go. */
  logger: Logger;
  /** Outlier detection; each field defaults to 5 errors, 10 000 ms, 50 %. */
  outliers?: Partial<OutlierConfig>;
  /** Heartbeat period, ms: how often a static backend that is down is polled. Default 500. */
  heartbeatIntervalMs?: number;
  /** Random source for hostnames and `/rm`'s choice, in [0, 1). Default `Math.random`. */
  random?: () => number;
  /** Called after every change of the ring's members (a control plane tells its workers). */
  onRingChange?: () => void;
  /** Called when a replica has ended (its process or container exited): its tries give up. */
  onReplicaEnded?: (name: string) => void;
}

/** A request that conflicts with the current replicas (a name in use, too many to remove). */
export class ReplicaRequestError extends Error {
  /** @param message What is wrong, for the client. */
  constructor(message: string) {
    super(message);
    this.name = "ReplicaRequestError";
  }
}

/** Why a replica did not become ready. */
export class ReplicaStartError extends Error {
  /** @param message Which replica and why. */
  constructor(message: string) {
    super(message);
    this.name = "ReplicaStartError";
  }
}

/**
 * What makes two hostnames the same host: case, and characters a container name cannot hold
 * (`Server 1` and `Server-1` make the same container name). (Swarm service names are stricter:
 * `server_1` and `server-1` make the same one, which the swarm provider refuses to share.)
 */
export function hostKey(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9_.-]/g, "-");
}

/** Longest pause between retries when replicas keep failing to start. */
const MAX_RESPAWN_BACKOFF_MS = 5_000;

/**
 * How long to wait before spawning again after `failures` failed starts in a row, ms: none
 * after a success, then 100 ms doubling up to 5 s, so a replica that cannot start (a bad
 * image, a full disk) is not respawned in a hot loop.
 */
export function respawnBackoffMs(failures: number): number {
  return failures === 0 ? 0 : Math.min(100 * 2 ** (failures - 1), MAX_RESPAWN_BACKOFF_MS);
}

/** What happened to a balancer's replicas since it started (for metrics). */
export interface ReplicaCounts {
  /** Replicas (and spares) the provider was asked to start. */
  started: number;
  /** Starts that failed (no good heartbeat in time, the process or container ended). */
  startFailures: number;
  /** Serving replicas taken out after failing heartbeats or ending (then replaced, or rejoining). */
  ejected: number;
  /** Serving replicas ejected by outlier detection (failed tries in a row). */
  outlierEjected: number;
  /** Outlier-ejected replicas that rejoined after their cool-down. */
  readmitted: number;
  /** Replicas drained on their way out (`/rm`, shutdown). */
  drained: number;
}

/** A replica as a ring member: its name, ordinal and (when not 1) weight. */
function nodeOf(replica: Replica): RingNode {
  return replica.weight === 1
    ? { name: replica.name, ordinal: replica.ordinal }
    : { name: replica.name, ordinal: replica.ordinal, weight: replica.weight };
}

/**
 * Reconciles the replicas that run with the number wanted. All state changes happen
 * synchronously between awaits, so the admin API, health callbacks and process exits can
 * interleave freely without double-spawning or losing a replica.
 */
export class ReplicaManager {
  readonly #options: Required<Omit<ReplicaManagerOptions, "outliers">>;
  readonly #replicas = new Map<string, Replica>();
  readonly #outliers: OutlierDetector;
  /** How every replica reports its load and its tries. */
  readonly #links: ReplicaLinks;
  /** Stops in progress, awaited on shutdown. */
  readonly #stopping = new Set<Promise<void>>();
  #desired = 0;
  #closed = false;
  #startFailures = 0;
  /** What happened to replicas so far, for metrics. */
  readonly counts: ReplicaCounts = {
    started: 0,
    startFailures: 0,
    ejected: 0,
    outlierEjected: 0,
    readmitted: 0,
    drained: 0,
  };
  #respawnTimer?: Timer;
  #admin: Promise<unknown> = Promise.resolve();
  /** Weights of failed replicas, for their replacements, in order. */
  readonly #pendingWeights: number[] = [];

  /**
   * False for providers whose replicas are not ours to replace (static backends, swarm
   * services, Docker replicas another balancer reconciles). Read live: it can change.
   */
  get #respawns(): boolean {
    return this.#options.provider.respawns !== false;
  }

  /** @param options The provider, ring, health monitor and timings. */
  constructor(options: ReplicaManagerOptions) {
    this.#options = withDefaults(
      {
        random: Math.random,
        spares: 0,
        replicaId: "number" as ReplicaIdentity,
        balance: "hash" as BalancePolicy,
        slowStartMs: 0,
        drainTimeoutMs: 10_000,
        heartbeatIntervalMs: 500,
        onRingChange: () => {},
        onReplicaEnded: () => {},
      },
      options,
    );
    const { ring, logger } = this.#options;
    this.#outliers = new OutlierDetector(
      withDefaults({ errors: 5, coolDownMs: 10_000, maxEjectionPercent: 50 }, {
        ...options.outliers,
        logger,
      }),
      {
        serving: () => this.#live(false).filter((r) => r.state === "ready"),
        eject: (replica) => {
          this.counts.outlierEjected++;
          const removed = ring.remove(replica.name);
          this.#ringChanged();
          return removed;
        },
        readmit: (replica) => {
          if (replica.state !== "ready" || this.#closed) return;
          try {
            ring.add(nodeOf(replica));
            replica.servingSince = performance.now();
            this.#ringChanged();
            this.counts.readmitted++;
            logger.info("replica.readmitted", { name: replica.name });
          } catch (error) {
            this.#fail(replica, `cannot rejoin the ring: ${errorMessage(error)}`);
          }
        },
      },
    );
    const outliers = this.#outliers;
    this.#links = {
      load: isLoadAware(ring) ? ring : undefined,
      report: (replica, outcome) => outliers.report(replica, outcome),
      timed: this.#options.balance === "p2c-ewma",
      slowStartMs: this.#options.slowStartMs,
    };
    if (this.#options.slowStartMs > 0 && ring instanceof BoundedLoadRing) {
      ring.capShare = (name) => this.#replicas.get(name)?.share(performance.now()) ?? 1;
    }
  }

  /** Number of replicas wanted. */
  get desired(): number {
    return this.#desired;
  }

  /** Whether a reconcile (spawning what is missing) is scheduled and has not run yet. */
  get reconcilePending(): boolean {
    return this.#respawnTimer !== undefined;
  }

  /** The managed replicas (starting or serving), ordered by ordinal. Spares are not listed. */
  snapshot(): ReplicaSnapshot {
    const live = this.#live(false)
      .sort((a, b) => a.ordinal - b.ordinal || (a.name < b.name ? -1 : 1)); // (shared: ties)
    const replicas = live.map((r) => r.name);
    const weighted = live.filter((r) => r.weight !== 1);
    if (weighted.length === 0) return { N: replicas.length, replicas };
    return {
      N: replicas.length,
      replicas,
      weights: Object.fromEntries(weighted.map((r) => [r.name, r.weight])),
    };
  }

  /** The ring's members with their URLs: what a data plane needs to route as this one does. */
  members(): { name: string; ordinal: number; url: string; weight?: number }[] {
    return this.#options.ring.nodes().map((node) => ({
      name: node.name,
      ordinal: node.ordinal,
      url: this.#replicas.get(node.name)?.url ?? "",
      ...(node.weight !== undefined && node.weight !== 1 ? { weight: node.weight } : {}),
    }));
  }

  /** Tells the outlier detector how a try on `name` went (a worker's report). */
  report(name: string, outcome: TryOutcome): void {
    this.#replicas.get(name)?.report(outcome);
  }

  /** Every managed replica and spare, as metrics show them. */
  states(): {
    name: string;
    state: ReplicaState;
    spare: boolean;
    inRing: boolean;
    inFlight: number;
  }[] {
    const { ring } = this.#options;
    return [...this.#live(false), ...this.#live(true)].map((r) => ({
      name: r.name,
      state: r.state,
      spare: r.spare,
      inRing: ring.has(r.name),
      inFlight: r.inFlight,
    }));
  }

  /** Names of the spares (starting or warm). */
  spares(): string[] {
    return this.#live(true).map((r) => r.name);
  }

  /** Whether `name` is a managed replica (starting or serving; not a spare). */
  has(name: string): boolean {
    const replica = this.#replicas.get(name);
    return replica !== undefined && !replica.spare;
  }

  /**
   * The replicas (or the spares) being started or serving. (One being stopped has already left
   * `#replicas`: `#retire` takes it out at once.)
   */
  #live(spare: boolean): Replica[] {
    return [...this.#replicas.values()].filter((r) => r.spare === spare);
  }

  /** The ring's members as replica objects, for the load-aware policies (rebuilt on change). */
  #serving?: Replica[];

  #servingNow(): Replica[] {
    this.#serving ??= this.#options.ring.nodes()
      .map((node) => this.#replicas.get(node.name))
      .filter((r): r is Replica => r?.handle !== undefined);
    return this.#serving;
  }

  /** The ring's members changed: the serving list is stale; whoever listens is told. */
  #ringChanged(): void {
    this.#serving = undefined;
    this.#options.onRingChange();
  }

  /** Number of replicas in the ring (serving). */
  get serving(): number {
    return this.#options.ring.size;
  }

  /**
   * The replicas to try for `key`: the ring's owner first, then up to `n - 1` fail-overs.
   * They are the long-lived replica objects themselves, not wrappers made per request.
   */
  route(key: RoutingKey, n: number): RouteTarget[] {
    const { balance } = this.#options;
    if (balance !== "hash") {
      return pickTwo(this.#servingNow(), n, balance, this.#options.random, performance.now());
    }
    const targets: RouteTarget[] = [];
    if (n === 1) {
      // (The common case, without the ring's list: `lookup` is `lookupN(key, 1)[0]`.)
      const name = this.#options.ring.lookup(key);
      const replica = name === undefined ? undefined : this.#replicas.get(name);
      if (replica?.handle) targets.push(replica);
      return targets;
    }
    for (const name of this.#options.ring.lookupN(key, n)) {
      const replica = this.#replicas.get(name);
      if (replica?.handle) targets.push(replica);
    }
    return targets;
  }

  /**
   * Starts `names` and `n - names.length` replicas with random names, and resolves once all
   * serve. Rejects with {@linkcode ReplicaStartError} if one fails first (it is then replaced
   * by a random-named one, so the desired count holds). Rejects with
   * {@linkcode ReplicaRequestError}, changing nothing, when a name is in use or the total
   * would pass `maxReplicas`. Callers check the input's shape (see `admin_input.ts`).
   */
  add(
    n: number,
    names: readonly string[] = [],
    weights: readonly number[] = [],
  ): Promise<ReplicaSnapshot> {
    return this.#serial(async () => {
      this.#assertOpen();
      if (weights.some((w) => w !== 1) && this.#options.ring.weighted !== true) {
        throw new ReplicaRequestError(
          `Weights need a ring that uses them (--ring ketama, maglev or rendezvous); ` +
            `this ring places every replica alike`,
        );
      }
      // Host names are case-insensitive, and `Server 1` and `Server-1` make the same
      // container name: either would be a clash.
      const inUse = new Set([...this.#replicas.keys()].map(hostKey));
      const taken = names.find((name) => inUse.has(hostKey(name)));
      if (taken !== undefined) {
        throw new ReplicaRequestError(`Hostname '${taken}' is already in use`);
      }
      const { maxReplicas } = this.#options;
      // Pending replacements count: they will run.
      if (this.#desired + n > maxReplicas) {
        throw new ReplicaRequestError(
          `Adding ${n} instances would exceed the limit of ${maxReplicas} replicas ` +
            `(${this.#desired} running)`,
        );
      }
      const desiredBefore = this.#desired;
      this.#desired += n;
      const started = names.map((name, i) => this.#spawn(name, false, true, weights[i] ?? 1));
      for (let i = names.length; i < n; i++) started.push(this.#spawn(this.#randomName()));
      const results = await Promise.allSettled(started.map((r) => r.ready));
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      const conflict = failed.find((r) => r.reason instanceof HostnameConflictError);
      if (conflict) {
        // A name the client chose is taken: the request is refused as a whole, so the
        // replicas it started are removed again.
        this.#desired = desiredBefore;
        await Promise.all(
          started.map((r) => this.#retire(r, "its /add was refused", "info", false, true)),
        );
        throw new ReplicaRequestError(conflict.reason.message);
      }
      if (failed.length > 0) throw failed[0].reason;
      return this.snapshot();
    });
  }

  /**
   * Removes `names` and `n - names.length` other replicas chosen at random: they leave the
   * ring at once and are stopped. Resolves once they have ended. Rejects with
   * {@linkcode ReplicaRequestError}, changing nothing, when a name is not managed or `n`
   * is more than are running.
   */
  remove(n: number, names: readonly string[]): Promise<ReplicaSnapshot> {
    return this.#serial(async () => {
      this.#assertOpen();
      const missing = names.find((name) => !this.has(name));
      if (missing !== undefined) {
        throw new ReplicaRequestError(`Hostname '${missing}' is not a replica of this balancer`);
      }
      const running = this.#desired; // pending replacements included
      if (n > running) {
        throw new ReplicaRequestError(
          `Cannot remove ${n} instances: only ${running} ${running === 1 ? "is" : "are"} running`,
        );
      }
      const victims = names.map((name) => this.#replicas.get(name)!);
      const others = this.#live(false).filter((r) => !names.includes(r.name));
      while (victims.length < n && others.length > 0) {
        victims.push(others.splice(Math.floor(this.#options.random() * others.length), 1)[0]);
      }
      // Count pending replacements too: removing n means n fewer, respawns included.
      this.#desired = Math.max(0, this.#desired - n);
      await Promise.all(victims.map((r) => this.#retire(r, "removed", "info", true)));
      return this.snapshot();
    });
  }

  /**
   * Takes over replicas the provider found running (a restarted balancer's): they are
   * managed as if this balancer had started them, join the ring on their first good
   * heartbeat, and count towards the desired number. Returns how many were adopted.
   */
  async adopt(): Promise<number> {
    const { provider, logger, spares } = this.#options;
    const byNumber = this.#options.replicaId === "number";
    const found = (await provider.adopt?.()) ?? [];
    // Replicas started as such carry their ordinal, and so do promoted spares whose
    // provider recorded the promotion. Unnumbered ones were spares: should a promotion have
    // gone unrecorded, the newest are taken as still spares (a new spare is started after
    // every promotion) and the older ones get the missing ordinals, oldest first.
    const numbered = found.filter((f) => f.spec.ordinal > 0);
    const unnumbered = found.filter((f) => !(f.spec.ordinal > 0));
    const keptSpares = Math.min(spares, unnumbered.length);
    const asReplicas = [...numbered, ...unnumbered.slice(0, unnumbered.length - keptSpares)];
    const asSpares = unnumbered.slice(unnumbered.length - keptSpares);
    let adopted = 0;
    for (
      const [{ spec, handle }, spare] of [
        ...asReplicas.map((f) => [f, false] as const),
        ...asSpares.map((f) => [f, true] as const),
      ]
    ) {
      const duplicate = this.#replicas.has(spec.name);
      if (duplicate || this.#replicas.size >= this.#options.maxReplicas + spares) {
        // Two containers claim one hostname (keep the first), or more than the limit. Shared
        // replicas are others' too: left running, only not managed here.
        logger.warn("replica.not_adopted", {
          name: spec.name,
          why: duplicate ? "duplicate hostname" : "over --max-replicas",
          ...handle.describe,
        });
        if (!provider.shared) await handle.stop();
        continue;
      }
      // Shared replicas keep their labels' ordinals, so every balancer's ring agrees.
      const taken = !provider.shared && this.#ordinalTaken(spec.ordinal);
      // A spare, or a promotion that went unrecorded: the number it answers as, if free.
      const itsNumber = byNumber ? this.#freeNumberOf(spec) : 0;
      const ordinal = spare
        ? itsNumber
        : spec.ordinal > 0 && !taken
        ? spec.ordinal
        : itsNumber || this.#freeOrdinal();
      // A SERVER_ID cannot change: one that is not what this balancer would give (another
      // --replica-id before, a number now taken) is kept by a replica, which serves; a spare
      // is cheaper to start again.
      const serverId = byNumber ? String(ordinal) : spec.name;
      if (spec.serverId !== undefined && spec.serverId !== serverId) {
        const fields = { name: spec.name, has: spec.serverId, wants: serverId, ...handle.describe };
        if (spare) {
          logger.warn("spare.not_adopted", { ...fields, why: "its SERVER_ID" });
          await handle.stop();
          continue;
        }
        logger.warn("replica.server_id_kept", fields);
      }
      const event = spare ? "spare.adopted" : "replica.adopted";
      this.#take(spec.name, ordinal, spare, handle, event, spec.weight);
      if (!spare) adopted++;
    }
    this.#desired += adopted;
    this.#scheduleReconcile(); // top up the spares
    provider.watchJoins?.((found) => this.#join(found));
    provider.onLeading?.(() => {
      logger.info("balancer.reconciling", { replicas: this.#desired });
      this.#scheduleReconcile();
    });
    return adopted;
  }

  /**
   * Manages a replica another balancer started on a shared engine (swarm): under its own
   * hostname and ordinal, so every balancer's ring is built from the same members. Returns
   * false when it is already managed here (this balancer started it) or the manager closed.
   */
  #join({ spec, handle }: AdoptedReplica): boolean {
    if (this.#closed || this.#replicas.has(spec.name) || spec.ordinal <= 0) return false;
    // A replacement of one that failed fills its place; anything else is one more.
    if (this.#live(false).length >= this.#desired) this.#desired++;
    this.#take(spec.name, spec.ordinal, false, handle, "replica.joined", spec.weight);
    // Another balancer numbered it without seeing this one's spares (they are the
    // reconciler's alone): a spare started under that number could only serve under another,
    // answering as a number it does not have. It is replaced by one with a free number.
    for (const spare of this.#live(true)) {
      if (spare.ordinal !== spec.ordinal) continue;
      this.#retire(spare, `its number went to '${spec.name}'`, "info", false, true);
      this.#scheduleReconcile();
    }
    return true;
  }

  /** Manages a replica that already runs: registered, watched, in the ring once it answers. */
  #take(
    name: string,
    ordinal: number,
    spare: boolean,
    handle: ReplicaHandle,
    event: string,
    weight = 1,
  ) {
    const replica = this.#register(name, ordinal, spare);
    // (A ring that ignores weights shows none: /rep would claim shares it does not give.)
    replica.weight = this.#options.ring.weighted === true ? weight : 1;
    replica.started = Promise.resolve(handle);
    this.#attach(replica, handle);
    this.#options.logger.info(event, { name, ordinal, ...handle.describe });
  }

  /**
   * Stops every replica and waits until all have ended, then closes the provider. With
   * `keepReplicas`, replicas are left running instead (a provider whose replicas can
   * outlive the balancer lets the next one adopt them). The manager spawns nothing after
   * this; `add`/`remove` reject.
   */
  async close(options: { keepReplicas?: boolean } = {}): Promise<void> {
    this.#closed = true;
    this.#desired = 0;
    clearTimeout(this.#respawnTimer);
    this.#options.health.close();
    if (options.keepReplicas) {
      for (const replica of this.#replicas.values()) {
        clearTimeout(replica.startTimer);
        replica.markFailed(new ReplicaStartError("the balancer is shutting down"));
      }
      this.#options.logger.info("replica.kept", { count: this.#replicas.size });
    } else {
      const all = [...this.#replicas.values()].map((r) =>
        this.#retire(r, "shutdown", "info", true)
      );
      await Promise.all(all);
    }
    while (this.#stopping.size > 0) await Promise.all([...this.#stopping]);
    await this.#options.provider.close?.();
  }

  /** Runs admin operations one at a time, in arrival order. */
  #serial<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.#admin.then(operation);
    this.#admin = result.catch(() => {});
    return result;
  }

  #assertOpen(): void {
    if (this.#closed) throw new ReplicaStartError("the balancer is shutting down");
  }

  /**
   * Registers a replica (or spare) synchronously, then starts it in the background. A name
   * the client chose that turns out to be taken is given up (and the desired count with it);
   * a random one is replaced as any failed start.
   */
  #spawn(name: string, spare = false, chosen = false, weight = 1): Replica {
    const { provider, logger } = this.#options;
    const numbered = this.#options.replicaId === "number";
    // A numbered spare holds its number from the start: its SERVER_ID cannot change later.
    const replica = this.#register(name, spare && !numbered ? 0 : this.#freeOrdinal(), spare);
    replica.weight = weight;
    logger.info(spare ? "spare.spawning" : "replica.spawning", {
      name,
      ordinal: replica.ordinal,
      provider: provider.kind,
    });
    this.counts.started++;
    const spec = {
      name,
      ordinal: spare ? 0 : replica.ordinal, // (a spare is not numbered in the ring yet)
      serverId: numbered ? String(replica.ordinal) : name,
      ...(weight === 1 ? {} : { weight }),
    };
    replica.started = provider.start(spec).then(
      (handle) => {
        this.#attach(replica, handle);
        return handle;
      },
      (error) => {
        const given = chosen && error instanceof HostnameConflictError;
        if ((given || !this.#respawns) && replica.state !== "stopping") {
          // A name taken elsewhere, or a provider that has nothing else to start: give up
          // this replica (and the desired count with it) instead of retrying.
          this.#desired = Math.max(0, this.#desired - 1);
          replica.markFailed(error);
          this.#retire(replica, `not started: ${error.message}`, "warn");
          return undefined;
        }
        this.#fail(replica, errorMessage(error));
        return undefined;
      },
    );
    return replica;
  }

  /** A new replica in state `starting`, with its start deadline running. */
  #register(name: string, ordinal: number, spare: boolean): Replica {
    const { startTimeoutMs } = this.#options;
    const replica = new Replica(name, ordinal, spare, this.#links);
    this.#replicas.set(name, replica);
    replica.startTimer = setTimeout(
      () => this.#fail(replica, `no good heartbeat within ${startTimeoutMs} ms`),
      startTimeoutMs,
    );
    return replica;
  }

  /** Watches a started replica: its exit and its heartbeats. */
  #attach(replica: Replica, handle: ReplicaHandle): void {
    replica.attach(handle);
    // A shared replica another balancer numbered first: its label's number, as theirs.
    if (handle.ordinal !== undefined && handle.ordinal > 0 && !replica.spare) {
      replica.ordinal = handle.ordinal;
    }
    // Removed while starting (#retire stops it), or the manager closed while keeping replicas.
    if (replica.state === "stopping" || this.#closed) return;
    handle.exited.then((exit) => {
      // Whatever was in flight to it gets no answer now; after a planned, graceful stop
      // nothing is left in flight.
      replica.end(new Error(`replica '${replica.name}' ended: ${exit.description}`));
      this.#options.onReplicaEnded(replica.name);
      if (this.#respawns && !exit.removed) {
        this.#fail(replica, exit.description);
      } else if (replica.state !== "stopping") {
        // Removed by another balancer (one fewer wanted), or failed where another one
        // replaces it (as many wanted: the replacement joins in its place): gone from the set.
        if (exit.removed) this.#desired = Math.max(0, this.#desired - 1);
        this.#retire(replica, `gone: ${exit.description}`, "info");
      }
    });
    // Its orchestrator restarts it (a swarm task died): out of the ring now, back on a good
    // heartbeat (#fail sidelines replicas of providers that do not respawn).
    handle.onInterrupted?.((reason) => {
      // Nothing in flight to the dead task will be answered (its address is gone: no reset
      // either): give it up now, so it fails over instead of waiting for the response timeout.
      replica.interrupt(new Error(`replica '${replica.name}' stopped: ${reason}`));
      this.#fail(replica, reason);
    });
    this.#options.health.watch(replica.name, handle.url, {
      onUp: () => this.#onReady(replica),
      onDown: (reason) => this.#fail(replica, reason),
    });
  }

  #onReady(replica: Replica): void {
    if (replica.state !== "starting") return;
    clearTimeout(replica.startTimer);
    this.#outliers.reset(replica);
    if (replica.spare) {
      replica.state = "ready";
      this.#startFailures = 0;
      this.#options.logger.info("spare.ready", { name: replica.name, ...replica.handle?.describe });
      replica.markReady();
      this.#scheduleReconcile(); // a replica may be waiting for it
      return;
    }
    try {
      this.#options.ring.add(nodeOf(replica));
      replica.servingSince = performance.now();
      this.#ringChanged();
    } catch (error) {
      // The ring refused it (full): it cannot serve, so it must not count as serving.
      this.#fail(replica, `cannot join the ring: ${errorMessage(error)}`);
      return;
    }
    replica.state = "ready";
    this.#startFailures = 0;
    this.#options.logger.info("replica.ready", {
      name: replica.name,
      ordinal: replica.ordinal,
      url: replica.handle?.url,
      ...replica.handle?.describe,
    });
    replica.markReady();
  }

  /** A replica exited, failed its heartbeats or never started: eject it and replace it. */
  #fail(replica: Replica, reason: string): void {
    if (replica.state === "stopping") return;
    if (!this.#respawns && replica.handle && !this.#closed) {
      this.#sideline(replica, reason);
      return;
    }
    const wasReady = replica.state === "ready";
    if (!wasReady) this.#startFailures++;
    if (wasReady) this.counts.ejected++;
    else this.counts.startFailures++;
    replica.markFailed(
      new ReplicaStartError(`replica '${replica.name}' failed to start: ${reason}`),
    );
    this.#retire(replica, wasReady ? `ejected: ${reason}` : `failed to start: ${reason}`, "warn");
    // Its replacement (a promoted spare, or a new replica) gets its weight.
    if (!replica.spare) this.#pendingWeights.push(replica.weight);
    this.#promoteSpares(); // at once: a warm spare does not wait for any spawn backoff
    this.#scheduleReconcile();
  }

  /**
   * A replica of a provider that does not respawn (static backends) failed: it leaves the ring
   * but stays managed, and rejoins on its first good heartbeat, polled at the normal interval.
   */
  #sideline(replica: Replica, reason: string): void {
    const { ring, health, logger, heartbeatIntervalMs } = this.#options;
    clearTimeout(replica.startTimer);
    this.#outliers.forget(replica);
    if (replica.state === "ready") {
      ring.remove(replica.name);
      this.#ringChanged();
      replica.state = "starting";
      logger.warn("replica.down", { name: replica.name, reason });
      this.counts.ejected++;
    } else {
      replica.markFailed(
        new ReplicaStartError(`replica '${replica.name}' is not answering: ${reason}`),
      );
      logger.warn("replica.not_answering", { name: replica.name, reason });
    }
    health.watch(replica.name, replica.handle!.url, {
      onUp: () => this.#onReady(replica),
      onDown: (why) => this.#fail(replica, why),
    }, { downIntervalMs: heartbeatIntervalMs });
  }

  /** Resolves when `replica` has no request in flight, or after the drain timeout. */
  async #drained(replica: Replica): Promise<void> {
    if (replica.inFlight === 0) return;
    const { drainTimeoutMs, logger } = this.#options;
    logger.info("replica.draining", { name: replica.name, in_flight: replica.inFlight });
    this.counts.drained++;
    if (!(await replica.idle(drainTimeoutMs))) {
      logger.warn("replica.drain_timeout", { name: replica.name, in_flight: replica.inFlight });
    }
  }

  /**
   * Takes a replica out of the ring and the managed set at once, then (with `drain`, for
   * planned removals) waits for its requests in flight, then stops it. Resolves when it
   * has ended. `planned` (a deliberate removal; `drain` by default) tells a provider of shared
   * replicas that it is not the cleanup of a failed one.
   */
  #retire(
    replica: Replica,
    why: string,
    level: "info" | "warn",
    drain = false,
    planned = drain,
  ): Promise<void> {
    if (replica.state === "stopping") return Promise.resolve();
    replica.state = "stopping";
    clearTimeout(replica.startTimer);
    this.#outliers.forget(replica);
    replica.markFailed(new ReplicaStartError(`replica '${replica.name}' was stopped`));
    if (this.#options.ring.remove(replica.name)) this.#ringChanged();
    this.#options.health.unwatch(replica.name);
    this.#replicas.delete(replica.name);
    this.#options.logger[level]("replica.stopping", { name: replica.name, why });
    const stopped = replica.started
      .then(async (handle) => {
        if (drain) await this.#drained(replica);
        await handle?.stop(planned);
      })
      .then(
        () => this.#options.logger.info("replica.stopped", { name: replica.name }),
        (error) =>
          this.#options.logger.error("replica.stop_failed", {
            name: replica.name,
            reason: errorMessage(error),
          }),
      );
    this.#stopping.add(stopped);
    return stopped.finally(() => this.#stopping.delete(stopped));
  }

  /** Spawns replacements now, or after a backoff when starts keep failing. */
  #scheduleReconcile(): void {
    if (this.#closed || this.#respawnTimer !== undefined || !this.#respawns) return;
    const failures = this.#startFailures;
    const wait = respawnBackoffMs(failures);
    if (wait > 0) {
      this.#options.logger.warn("replica.respawn_backoff", { wait_ms: wait, failures });
    }
    this.#respawnTimer = setTimeout(() => {
      this.#respawnTimer = undefined;
      this.#reconcile();
    }, wait);
  }

  /** Promotes warm spares while replicas are missing. */
  #promoteSpares(): void {
    if (this.#closed || !this.#respawns) return;
    const target = Math.min(this.#desired, this.#options.maxReplicas);
    for (let live = this.#live(false).length; live < target; live++) {
      const warm = this.#live(true).find((r) => r.state === "ready");
      if (!warm) return;
      this.#promote(warm);
    }
  }

  #reconcile(): void {
    if (this.#closed || !this.#respawns) return;
    this.#promoteSpares();
    let live = this.#live(false).length;
    const target = Math.min(this.#desired, this.#options.maxReplicas);
    // A spare still starting is further along than a replica not yet spawned: wait for it
    // (its first good heartbeat reconciles again and promotes it).
    let startingSpares = this.#live(true).filter((r) => r.state === "starting").length;
    for (; live < target; live++) {
      if (startingSpares > 0) startingSpares--;
      else this.#spawn(this.#randomName(), false, false, this.#pendingWeights.shift() ?? 1);
    }
    // Replacements no longer wanted (an /rm meanwhile) leave no weight behind.
    if (live >= target && startingSpares === 0) this.#pendingWeights.length = 0;
    for (let spares = this.#live(true).length; spares < this.#options.spares; spares++) {
      this.#spawn(this.#randomName(), true);
    }
  }

  /**
   * A warm spare becomes a replica and joins the ring: under the number it was started with
   * (`--replica-id number`), else the lowest free ordinal.
   */
  #promote(spare: Replica): void {
    spare.spare = false;
    if (!(spare.ordinal > 0) || this.#ordinalTaken(spare.ordinal, spare)) {
      const started = spare.ordinal;
      spare.ordinal = 0; // (so its own number does not count as taken)
      spare.ordinal = this.#freeOrdinal();
      // Its number was taken meanwhile (a shared replica numbered elsewhere): it still answers
      // as the number it was started with.
      if (started > 0) {
        this.#options.logger.warn("replica.server_id_kept", {
          name: spare.name,
          has: String(started),
          wants: String(spare.ordinal),
        });
      }
    }
    spare.weight = this.#pendingWeights.shift() ?? 1;
    try {
      this.#options.ring.add(nodeOf(spare));
      spare.servingSince = performance.now();
      this.#ringChanged();
    } catch (error) {
      this.#fail(spare, `cannot join the ring: ${errorMessage(error)}`);
      return;
    }
    this.#options.logger.info("replica.promoted", {
      name: spare.name,
      ordinal: spare.ordinal,
      url: spare.handle?.url,
      ...spare.handle?.describe,
    });
    const { provider, logger } = this.#options;
    if (spare.handle && provider.promoted) {
      provider.promoted(spare.handle, spare.ordinal, spare.weight).catch((error) =>
        logger.warn("replica.promotion_not_recorded", {
          name: spare.name,
          reason: errorMessage(error),
        })
      );
    }
  }

  /** The lowest ordinal (1, 2, …) no managed replica holds, nor a numbered spare. */
  #freeOrdinal(): number {
    const taken = new Set([...this.#replicas.values()].map((r) => r.ordinal));
    let ordinal = 1;
    while (taken.has(ordinal)) ordinal++;
    return ordinal;
  }

  /**
   * The number a found replica answers as (its `SERVER_ID`) when no one holds it, else 0 (it
   * cannot serve under it).
   */
  #freeNumberOf(spec: ReplicaSpec): number {
    const number = Number(spec.serverId);
    const held = [...this.#replicas.values()].some((r) => r.ordinal === number);
    return Number.isSafeInteger(number) && number > 0 && !held ? number : 0;
  }

  /** Whether a serving or starting replica other than `except` holds `ordinal`. */
  #ordinalTaken(ordinal: number, except?: Replica): boolean {
    return this.#live(false).some((r) => r !== except && r.ordinal === ordinal);
  }

  /** A fresh hostname: `replica-` and six base-36 characters (then `-2`, `-3`… if taken). */
  #randomName(): string {
    let suffix = "";
    for (let i = 0; i < 6; i++) suffix += Math.floor(this.#options.random() * 36).toString(36);
    let name = `replica-${suffix}`;
    for (let n = 2; this.#replicas.has(name); n++) name = `replica-${suffix}-${n}`;
    return name;
  }
}
