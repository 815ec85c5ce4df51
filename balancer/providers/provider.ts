/**
 * What the replica manager needs from whatever runs replicas: local processes today,
 * Docker containers next. A provider only starts and stops; health and membership are the
 * manager's.
 *
 * @module
 */

/**
 * A replica cannot be started under its hostname because something else already has that
 * name (a container the balancer does not own, another host on the network). Retrying
 * under the same name cannot help.
 */
export class HostnameConflictError extends Error {
  /** @param message Which name and what holds it. */
  constructor(message: string) {
    super(message);
    this.name = "HostnameConflictError";
  }
}

/** What to start. */
export interface ReplicaSpec {
  /** The replica's hostname. */
  readonly name: string;
  /** The replica's stable server number (for rings that use one); 0 for a spare. */
  readonly ordinal: number;
  /** Its relative share of keys (weighted rings); 1 when absent. */
  readonly weight?: number;
  /**
   * What it answers as, its `SERVER_ID` (see {@linkcode serverIdOf}): its server number
   * (`--replica-id number`; a spare's is the number it will serve under) or its hostname.
   * On a replica found running, what it was started with, when the provider can tell.
   */
  readonly serverId?: string;
}

/** A replica's `SERVER_ID`: the spec's `serverId`, or its hostname when that is absent. */
export function serverIdOf(spec: ReplicaSpec): string {
  return spec.serverId ?? spec.name;
}

/** How a replica ended. */
export interface ReplicaExit {
  /** Exit code, when known. */
  readonly code?: number;
  /** Signal that ended it, when known. */
  readonly signal?: string;
  /** A short human description, e.g. `killed by SIGKILL`. */
  readonly description: string;
  /**
   * It was removed on purpose, by another balancer sharing the replicas (its `/rm`): not a
   * failure, and not to be replaced.
   */
  readonly removed?: boolean;
}

/** A started replica. */
export interface ReplicaHandle {
  /** The replica's hostname. */
  readonly name: string;
  /** Base URL the balancer reaches it at, without a trailing slash: `http://127.0.0.1:41234`. */
  readonly url: string;
  /** Resolves once the replica has ended, for whatever reason (never rejects). */
  readonly exited: Promise<ReplicaExit>;
  /**
   * The ordinal on the replica's label, when it is not the one `start` was asked for: a shared
   * replica another balancer started under the same name at the same moment. The manager
   * takes it, so every balancer places it alike. Usually absent.
   */
  readonly ordinal?: number;
  /** Provider-specific identity for logs (`pid=…`, `container=…`). */
  readonly describe: Readonly<Record<string, string | number>>;
  /**
   * For replicas an orchestrator restarts by itself (a swarm task): `listener` is told when the
   * replica stopped for now, so it leaves the ring at once instead of after failed heartbeats,
   * and rejoins when they pass again. It has not ended: `exited` stays pending. Optional.
   */
  onInterrupted?(listener: (reason: string) => void): void;
  /**
   * Stops the replica: politely first (SIGTERM), forcibly after the grace period.
   * Resolves when it has ended. Safe to call more than once. Should not reject (the
   * manager logs it if it does). `planned` is true for a deliberate removal (`/rm`, shutdown)
   * and false when a failed replica is cleaned up, which a provider that is not the reconciler
   * of shared replicas leaves to the one that is.
   */
  stop(planned?: boolean): Promise<void>;
}

/** A replica found running when the balancer started, with what it was started as. */
export interface AdoptedReplica {
  /** Its hostname and ordinal. */
  readonly spec: ReplicaSpec;
  /** Its handle, as if `start` had returned it. */
  readonly handle: ReplicaHandle;
}

/** Starts replicas. */
export interface Provider {
  /** Short name for logs and config: `process`, `docker`, `swarm`, `static`. */
  readonly kind: string;
  /**
   * Whether a failed replica is replaced by a new one (default true). A provider of servers it
   * does not run (`static`), or whose orchestrator restarts them (`swarm`), says false: a failed
   * replica leaves the ring and rejoins when its heartbeats pass again, and one whose handle
   * ends (removed by someone else) is no longer managed.
   */
  readonly respawns?: boolean;
  /**
   * Whether other balancers share these replicas (swarm services; Docker containers with
   * `--docker-shared`): a replica's ordinal is the one on its label even when another has it
   * (every ring places both alike), and one this balancer declines to manage is left running.
   */
  readonly shared?: boolean;
  /**
   * Prepares the provider (checks the engine, creates networks). Rejects with a clear
   * message when it cannot work at all. Optional; `start` must work without it.
   */
  init?(): Promise<void>;
  /**
   * Replicas of this balancer that are already running (it was restarted and they were
   * not), to manage instead of starting new ones. Optional: providers whose replicas
   * cannot outlive the balancer have none.
   */
  adopt?(): Promise<AdoptedReplica[]>; // oldest first
  /**
   * For replicas that several balancers share (swarm services with one owner label): `listener`
   * is told of each replica of this owner that appears and this balancer did not start (another
   * balancer's `/add`), and answers whether it manages it now. One that disappears ends its
   * handle (`exited`). Optional; called once, after `init`.
   */
  watchJoins?(listener: (found: AdoptedReplica) => boolean): void;
  /**
   * For providers whose `respawns` changes (several balancers sharing Docker replicas, where
   * one holds the reconciler lease): `listener` runs when this balancer becomes the one that
   * replaces failed replicas and keeps spares. Optional.
   */
  onLeading?(listener: () => void): void;
  /**
   * A started spare became a replica with this ordinal. Providers that can should record
   * it with the replica, for `adopt` to report after a restart. Optional.
   */
  promoted?(handle: ReplicaHandle, ordinal: number, weight?: number): Promise<void>;
  /** Releases the provider's own resources; replicas are left as they are. Optional. */
  close?(): Promise<void>;
  /**
   * Starts a replica and resolves once its address is known (it may not answer yet).
   * Rejects with a clear message when it cannot be started.
   */
  start(spec: ReplicaSpec): Promise<ReplicaHandle>;
}
