/**
 * Replicas as Docker containers, through the Docker Engine API over its unix socket.
 *
 * A replica is a container named after its hostname, on the balancer's network with that
 * name as its alias, `SERVER_ID` set, and labels that say which balancer owns it. Labels
 * are the source of truth: a restarted balancer adopts the live replicas it owns and
 * removes its dead ones; containers it did not create are never touched. Deaths are seen
 * on the engine's event stream the moment they happen (heartbeats catch replicas that
 * hang without dying).
 *
 * @module
 */

import { lookup } from "node:dns/promises";
import {
  type ContainerCreate,
  type DockerClient,
  DockerError,
  type DockerEvent,
} from "./client.ts";
import { delay, errorMessage, type Logger, SerialQueue, withDefaults } from "../../support/mod.ts";
import { DockerLease } from "./lease.ts";
import {
  type AdoptedReplica,
  HostnameConflictError,
  type Provider,
  type ReplicaExit,
  type ReplicaHandle,
  type ReplicaSpec,
  serverIdOf,
} from "../mod.ts";

/** Label keys on every container the balancer creates. */
export const LABELS = {
  /** Which balancer owns it (`--docker-owner`). */
  owner: "ringlb.owner",
  /** Always `replica`. */
  role: "ringlb.role",
  /** The replica's hostname (`/rep`'s name for it; its `SERVER_ID` with `--replica-id name`). */
  hostname: "ringlb.hostname",
  /** The replica's ordinal on the ring. */
  ordinal: "ringlb.ordinal",
  /** The replica's weight, when not 1 (`/add`'s `weights`). */
  weight: "ringlb.weight",
  /** On a promotion note (a volume): the promoted container's id. */
  container: "ringlb.container",
  /** On a removal note (a volume, shared replicas): the id of the container removed on purpose. */
  removed: "ringlb.removed",
} as const;

/**
 * How the balancer reaches a replica: by its name on the network (the balancer runs in a
 * container on it), or by its address (the balancer runs on the host). `auto` asks the
 * engine whether the balancer's own container is on the network.
 */
export type DockerReach = "auto" | "name" | "address";

/** The settings of the Docker provider (`--docker-*`). */
export interface DockerConfig {
  /** Image replicas run. Default `ringlb:latest`. */
  image: string;
  /** Network replicas join (created if absent). Default `net1`. */
  network: string;
  /** Owner label value: which balancer's replicas these are. Default `ringlb`. */
  owner: string;
  /** How replicas are reached; see {@linkcode DockerReach}. Default `auto`. */
  reach: DockerReach;
  /**
   * Several balancers share this owner's replicas (`--docker-shared`): each builds its ring
   * from the engine's containers, one at a time reconciles (holds the lease). Default false.
   */
  shared: boolean;
}

/** Options of a {@linkcode DockerProvider}. */
export interface DockerProviderOptions extends Partial<DockerConfig> {
  /** Engine API client. */
  client: DockerClient;
  /** Logger. */
  logger: Logger;
  /** This machine's hostname (a container's is its short id). Default: read /etc/hostname. */
  hostname?: () => Promise<string>;
  /**
   * IPv4 addresses of a name, for the `name` reach. Default: the system resolver
   * (`getaddrinfo`, as connections resolve it). Not `Deno.resolveDns`, which refuses names
   * Docker's resolver answers, such as `server_1`.
   */
  resolve?: (name: string) => Promise<string[]>;
  /** Port replicas listen on. Default 5000. */
  port?: number;
  /** Command replicas run (after the image's entrypoint). */
  command?: string[];
  /** User replicas run as. Default `deno`. */
  user?: string;
  /** Extra environment for replicas. */
  env?: Readonly<Record<string, string>>;
  /** Seconds between SIGTERM and SIGKILL when a replica is stopped. Default 5. */
  stopTimeoutSeconds?: number;
  /** Who this balancer is on the lease, for `docker ps`. Default `hostname:pid`. */
  holder?: string;
}

/** The replica command in the project's image. */
export const REPLICA_COMMAND = [
  "run",
  "--cached-only",
  "--allow-net",
  "--allow-env",
  "server/main.ts",
];

/**
 * The container name for a hostname: the hostname itself when Docker accepts it
 * (`[a-zA-Z0-9][a-zA-Z0-9_.-]+`), else with every other character replaced by `-`
 * (`Server 1` → `Server-1`).
 */
export function containerName(hostname: string): string {
  let name = hostname.replace(/[^a-zA-Z0-9_.-]/g, "-").replace(/^[^a-zA-Z0-9]+/, "");
  if (name.length < 2) name = `${name || "replica"}-0`;
  return name;
}

/** The `SERVER_ID` in a container's environment (`KEY=value` entries), if set. */
export function serverIdInEnv(env: readonly string[] | null | undefined): string | undefined {
  return env?.find((entry) => entry.startsWith("SERVER_ID="))?.slice("SERVER_ID=".length);
}

/** The label filters that select an owner's replicas (containers or swarm services). */
export function ownerLabels(owner: string): string[] {
  return [`${LABELS.owner}=${owner}`, `${LABELS.role}=replica`];
}

/** The weight label of a replica whose weight is not 1 (none otherwise). */
export function weightLabel(weight: number | undefined): Record<string, string> {
  return weight === undefined || weight === 1 ? {} : { [LABELS.weight]: String(weight) };
}

/** A replica's weight from its labels: 1 when absent or not a usable number. */
export function weightFromLabels(labels: Readonly<Record<string, string>>): number {
  const weight = Number(labels[LABELS.weight] ?? 1);
  return Number.isFinite(weight) && weight > 0 && weight <= 100 ? weight : 1;
}

/**
 * Whether this process runs in one of a network's containers (`containers`, by id): a
 * container's hostname is the start of its id.
 */
export async function ownContainerOn(
  hostname: () => Promise<string>,
  containers: Readonly<Record<string, unknown>>,
): Promise<boolean> {
  let name = "";
  try {
    name = await hostname();
  } catch {
    return false;
  }
  return name.length >= 12 && Object.keys(containers).some((id) => id.startsWith(name));
}

class ContainerHandle implements ReplicaHandle {
  readonly exited: Promise<ReplicaExit>;
  /** Set when the container was found under its name, numbered by another balancer. */
  ordinal?: number;
  readonly #exit: (exit: ReplicaExit) => void;
  #stopping?: Promise<void>;

  constructor(
    readonly name: string,
    readonly id: string,
    readonly url: string,
    readonly container: string,
    readonly provider: DockerProvider,
  ) {
    const { promise, resolve } = Promise.withResolvers<ReplicaExit>();
    this.exited = promise;
    this.#exit = resolve;
  }

  get describe(): Record<string, string> {
    return { container: this.container, id: this.id.slice(0, 12) };
  }

  ended(exit: ReplicaExit): void {
    if (exit.removed) this.removedElsewhere = true;
    this.#exit(exit);
  }

  /** Another balancer removed it on purpose (shared replicas): its cleanup is theirs. */
  removedElsewhere = false;

  stop(planned = true): Promise<void> {
    this.#stopping ??= this.provider.removeReplica(this, planned);
    return this.#stopping;
  }
}

/** Starts replicas as containers through the Docker Engine API. */
export class DockerProvider implements Provider {
  /** Provider name for logs and config. */
  readonly kind = "docker";
  readonly #options: Required<DockerProviderOptions>;
  readonly #handles = new Map<string, ContainerHandle>();
  readonly #events = new AbortController();
  #reach: "name" | "address" = "address";
  #ready?: Promise<void>;
  #watching?: Promise<void>;
  /** Shared replicas: the reconciler lease. */
  #lease?: DockerLease;
  /** Whether this balancer reconciles (always, unless the replicas are shared). */
  #leading = true;
  #joins?: (found: AdoptedReplica) => boolean;
  #onLeading?: () => void;
  /**
   * Event work, one piece at a time in the events' order (a promotion or a replacement must
   * not be joined before the death it follows has been handled).
   */
  readonly #queue = new SerialQueue((error) =>
    this.#options.logger.warn("docker.event_failed", { reason: errorMessage(error) })
  );
  /** Shared replicas, following: the periodic lease attempt. */
  #retrying?: Promise<void>;

  /** @param options Client, image, network, owner and how to reach replicas. */
  constructor(options: DockerProviderOptions) {
    this.#options = withDefaults({
      image: "ringlb:latest",
      network: "net1",
      owner: "ringlb",
      reach: "auto" as DockerReach,
      hostname: async () => (await Deno.readTextFile("/etc/hostname")).trim(),
      resolve: async (name: string) =>
        (await lookup(name, { all: true, family: 4 })).map((found) => found.address),
      port: 5000,
      command: REPLICA_COMMAND,
      user: "deno",
      env: {},
      stopTimeoutSeconds: 5,
      shared: false,
      holder: `${Deno.env.get("HOSTNAME") || "host"}:${Deno.pid}`,
    }, options);
  }

  /** Whether other balancers share the replicas (`--docker-shared`). */
  get shared(): boolean {
    return this.#options.shared;
  }

  /**
   * Whether this balancer replaces failed replicas and keeps spares: always, unless the
   * replicas are shared (`shared`), then only while it holds the lease.
   */
  get respawns(): boolean {
    return this.#leading;
  }

  /** See {@linkcode Provider.watchJoins}: containers another balancer started (shared only). */
  watchJoins(listener: (found: AdoptedReplica) => boolean): void {
    this.#joins = listener;
    // Replicas started between `adopt` and now found no listener at their events.
    if (this.#options.shared) this.#queue.run(() => this.#joinRunning());
  }

  /** See {@linkcode Provider.onLeading}. */
  onLeading(listener: () => void): void {
    this.#onLeading = listener;
  }

  /** The label filters that select this balancer's replicas. */
  get ownLabels(): string[] {
    return ownerLabels(this.#options.owner);
  }

  /**
   * Checks the engine and the replica image, creates the network if absent, decides how
   * replicas are reached, and starts watching events. Rejects with a one-line message when
   * no engine answers (`DockerUnavailableError`) or the image is missing.
   */
  init(): Promise<void> {
    this.#ready ??= this.#init();
    return this.#ready;
  }

  async #init(): Promise<void> {
    const { client, network, owner, logger, image } = this.#options;
    await client.ping();
    const version = await client.apiVersion();
    await client.requireImage(image, `docker compose build, or docker build -t ${image} .`);
    const found = await client.inspectNetwork(network);
    if (!found) {
      await client.createNetwork(network, { [LABELS.owner]: owner });
      logger.info("docker.network_created", { network });
    }
    this.#reach = this.#options.reach === "auto"
      ? (await ownContainerOn(this.#options.hostname, found?.Containers ?? {}) ? "name" : "address")
      : this.#options.reach;
    if (this.#options.shared) {
      this.#lease = new DockerLease({
        client,
        owner,
        image,
        holder: this.#options.holder,
        logger,
      });
      this.#leading = await this.#lease.acquire();
      if (this.#leading) this.#holdLease(this.#lease);
      // The destroy event of the lease is the cue to try; this is the fallback for a lease
      // left stale without one (its holder died before starting it).
      this.#retrying = (async () => {
        const signal = this.#events.signal;
        while (!signal.aborted) {
          await delay(15_000, signal).catch(() => {});
          if (!signal.aborted && !this.#leading) this.#queue.run(() => this.#tryLead());
        }
      })();
    }
    logger.info("docker.ready", {
      socket: client.socket,
      api: version,
      network,
      owner,
      reach: this.#reach,
      ...(this.#lease ? { role: this.#leading ? "reconciler" : "follower" } : {}),
    });
    this.#watching = this.#watchEvents();
  }

  /** While the lease is held: when it is lost, try to take it again, else follow. */
  #holdLease(lease: DockerLease): void {
    lease.lost?.then(async () => {
      if (this.#events.signal.aborted) return;
      this.#leading = false;
      // Another balancer may take it first (its destroy event); if not, this one again.
      await delay(200, this.#events.signal).catch(() => {});
      await this.#tryLead();
    });
  }

  /** Shared replicas: takes the lease if it is free, and starts reconciling. */
  async #tryLead(): Promise<void> {
    const lease = this.#lease;
    if (!lease || lease.held || this.#events.signal.aborted) return;
    try {
      if (!(await lease.acquire())) return;
    } catch (error) {
      this.#options.logger.warn("lease.failed", { reason: errorMessage(error) });
      return;
    }
    this.#holdLease(lease);
    // From now on, failures are this balancer's to replace.
    this.#leading = true;
    await this.#removeLeftovers().catch((error) =>
      this.#options.logger.warn("docker.cleanup_failed", { reason: errorMessage(error) })
    );
    this.#onLeading?.();
  }

  /**
   * A new reconciler's cleanup: dead containers of the owner, spares it never knew (the last
   * reconciler's; new ones are started), and removal notes of containers that are gone.
   */
  async #removeLeftovers(): Promise<void> {
    const { client, owner, logger } = this.#options;
    const noted = new Set<string>();
    for (const volume of await client.listVolumes([`${LABELS.owner}=${owner}`])) {
      const id = volume.Labels?.[LABELS.container];
      if (id) noted.add(id);
    }
    const present = new Set<string>();
    for (const summary of await client.listContainers(this.ownLabels)) {
      present.add(summary.Id);
      const unnumbered = !(Number(summary.Labels[LABELS.ordinal]) > 0) && !noted.has(summary.Id);
      // A container just created (another balancer's start in progress) is left alone.
      if (summary.State === "created") continue;
      if (summary.State === "running" && !(unnumbered && !this.#handles.has(summary.Id))) continue;
      await client.removeContainer(summary.Id).catch(() => {});
      logger.info("docker.removed_leftover", { id: summary.Id.slice(0, 12), state: summary.State });
    }
    for (const volume of await client.listVolumes([`${LABELS.owner}=${owner}`])) {
      const id = volume.Labels?.[LABELS.removed] ?? volume.Labels?.[LABELS.container];
      if (id && !present.has(id)) await client.removeVolume(volume.Name).catch(() => {});
    }
  }

  /** Stops watching events, gives up the lease, closes the client. Replicas are left as they are. */
  async close(): Promise<void> {
    this.#events.abort();
    this.#lease?.release();
    await Promise.all([this.#watching, this.#retrying, this.#queue.idle]);
    this.#options.client.close();
  }

  /** Creates and starts a replica container; resolves once it runs and its address is known. */
  async start(spec: ReplicaSpec): Promise<ReplicaHandle> {
    await this.init();
    const { client, image, network, owner, port, command, user, env } = this.#options;
    const name = containerName(spec.name);
    const body: ContainerCreate = {
      Image: image,
      Cmd: command,
      User: user,
      Env: [
        ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
        `SERVER_ID=${serverIdOf(spec)}`,
        `PORT=${port}`,
      ],
      Labels: {
        [LABELS.owner]: owner,
        [LABELS.role]: "replica",
        [LABELS.hostname]: spec.name,
        [LABELS.ordinal]: String(spec.ordinal),
        ...weightLabel(spec.weight),
      },
      HostConfig: { NetworkMode: network },
      NetworkingConfig: { EndpointsConfig: { [network]: { Aliases: [name] } } },
    };
    let id: string;
    try {
      id = await client.createContainer(name, body);
    } catch (error) {
      if (!(error instanceof DockerError && error.status === 409)) throw error;
      // Shared replicas: another balancer started this very replica at the same moment.
      const same = this.#options.shared ? await this.#sharedNamesake(name, spec.name) : undefined;
      if (same) return same;
      // The name is taken. Ours and dead: remove it and try once more. Anyone else's: leave it.
      await this.#removeStaleNamesake(name);
      id = await client.createContainer(name, body);
    }
    this.#options.logger.debug("docker.created", { container: name, id: id.slice(0, 12) });
    try {
      await client.startContainer(id);
      this.#options.logger.debug("docker.started", { container: name });
      const info = await client.inspectContainer(id);
      if (!info.State.Running) throw new Error(`container exited at once (${info.State.Status})`);
      const address = info.NetworkSettings.Networks[network]?.IPAddress;
      if (!address) throw new Error(`container has no address on network '${network}'`);
      if (this.#reach === "name") await this.#assertUniqueName(name, address);
      const handle = new ContainerHandle(spec.name, id, this.#urlOf(name, address), name, this);
      this.#handles.set(id, handle);
      return handle;
    } catch (error) {
      await client.removeContainer(id).catch(() => {});
      if (error instanceof HostnameConflictError) throw error;
      throw new Error(`replica '${spec.name}' (container ${name}): ${errorMessage(error)}`);
    }
  }

  /**
   * This balancer's replicas that are already running (after a restart), with their
   * hostnames and ordinals from their labels, oldest first; its stopped ones are removed.
   */
  async adopt(): Promise<AdoptedReplica[]> {
    await this.init();
    const { client, network, logger } = this.#options;
    const adopted: (AdoptedReplica & { created: string })[] = [];
    // Promotion notes: container id → ordinal.
    const notes = new Map<string, { volume: string; ordinal: number; weight: number }>();
    for (const volume of await client.listVolumes([`${LABELS.owner}=${this.#options.owner}`])) {
      const id = volume.Labels?.[LABELS.container];
      if (id) {
        notes.set(id, {
          volume: volume.Name,
          ordinal: Number(volume.Labels?.[LABELS.ordinal]),
          weight: weightFromLabels(volume.Labels ?? {}),
        });
      }
    }
    for (const summary of await client.listContainers(this.ownLabels)) {
      const labels = summary.Labels;
      const hostname = labels[LABELS.hostname];
      const container = summary.Names[0]?.replace(/^\//, "") ?? summary.Id;
      if (summary.State !== "running" || !hostname) {
        // A follower leaves the dead to the reconciler.
        if (!this.#leading) continue;
        await client.removeContainer(summary.Id).catch(() => {});
        logger.info("docker.removed_dead", { container, state: summary.State });
        continue;
      }
      const ordinal = Number(labels[LABELS.ordinal]) || notes.get(summary.Id)?.ordinal || 0;
      // A follower takes replicas only: spares are the reconciler's until it promotes one.
      if (!this.#leading && !(ordinal > 0)) continue;
      const info = await client.inspectContainer(summary.Id);
      const address = info.NetworkSettings.Networks[network]?.IPAddress;
      if (!address) {
        await client.removeContainer(summary.Id).catch(() => {});
        continue;
      }
      const url = this.#urlOf(container, address);
      const handle = new ContainerHandle(hostname, summary.Id, url, container, this);
      this.#handles.set(summary.Id, handle);
      const note = notes.get(summary.Id);
      notes.delete(summary.Id);
      adopted.push({
        spec: {
          name: hostname,
          ordinal: Number(labels[LABELS.ordinal]) || note?.ordinal || 0,
          // A promoted spare's weight is on its note (container labels cannot change).
          weight: note ? note.weight : weightFromLabels(labels),
          serverId: serverIdInEnv(info.Config.Env),
        },
        handle,
        created: info.Created,
      });
    }
    // Notes of containers that are gone.
    if (this.#leading) {
      for (const { volume } of notes.values()) await client.removeVolume(volume).catch(() => {});
    }
    return adopted.sort((a, b) => Date.parse(a.created) - Date.parse(b.created));
  }

  /**
   * Records a spare's promotion. Container labels cannot change, so the note is an empty
   * volume whose labels name the container and its ordinal; `adopt` reads it back.
   */
  async promoted(handle: ReplicaHandle, ordinal: number, weight?: number): Promise<void> {
    const { client, owner } = this.#options;
    const id = (handle as ContainerHandle).id;
    await client.createVolume(this.#noteName(id), {
      [LABELS.owner]: owner,
      [LABELS.container]: id,
      [LABELS.ordinal]: String(ordinal),
      ...weightLabel(weight),
    });
  }

  #noteName(containerId: string): string {
    return `${this.#options.owner}-promoted-${containerId.slice(0, 12)}`;
  }

  /**
   * Stops (SIGTERM, then SIGKILL) and removes a replica's container. With shared replicas, a
   * planned removal leaves a note first (so the reconciler does not replace it), and a follower
   * leaves a failed replica's container to the reconciler.
   */
  async removeReplica(handle: ContainerHandle, planned = true): Promise<void> {
    const { client, stopTimeoutSeconds, owner } = this.#options;
    this.#handles.delete(handle.id);
    if (this.#options.shared && !planned && (!this.#leading || handle.removedElsewhere)) {
      handle.ended({ description: "left to the reconciler, or to the balancer removing it" });
      return;
    }
    const note = this.#removalNote(handle.id);
    if (this.#options.shared && planned) {
      await client.createVolume(note, {
        [LABELS.owner]: owner,
        [LABELS.removed]: handle.id,
      }).catch((error) =>
        this.#options.logger.warn("docker.note_failed", { reason: errorMessage(error) })
      );
    }
    try {
      await client.stopContainer(handle.id, stopTimeoutSeconds);
    } catch (error) {
      if (!(error instanceof DockerError && (error.status === 404 || error.status === 304))) {
        this.#options.logger.warn("docker.stop_failed", {
          container: handle.container,
          reason: errorMessage(error),
        });
      }
    }
    await client.removeContainer(handle.id).catch((error) => {
      if (error instanceof DockerError && error.status === 404) return;
      this.#options.logger.error("docker.remove_failed", {
        container: handle.container,
        reason: errorMessage(error),
      });
    });
    await client.removeVolume(this.#noteName(handle.id)).catch(() => {});
    if (this.#options.shared && planned) {
      // Every balancer reads the note at the container's `die` event; a few seconds later it
      // has served. (One left behind, say by a crash, goes when a balancer takes the lease.)
      delay(5_000, this.#events.signal).then(
        () => client.removeVolume(note),
        () => {},
      ).catch(() => {});
    }
    handle.ended({ description: "removed" });
  }

  #removalNote(containerId: string): string {
    return `${this.#options.owner}-removed-${containerId.slice(0, 12)}`;
  }

  /** Where a replica is reached: by container name or by its address on the network. */
  #urlOf(container: string, address: string): string {
    return `http://${this.#reach === "name" ? container : address}:${this.#options.port}`;
  }

  /**
   * By name, the balancer must reach this container and no other: Docker's DNS answers a
   * name with every container that has it as name or alias (case-insensitively), so a
   * hostname like `balancer` would send traffic back into the balancer.
   */
  async #assertUniqueName(name: string, address: string): Promise<void> {
    let found: string[] = [];
    try {
      found = await (this.#options.resolve)(name);
    } catch (error) {
      throw new Error(`cannot resolve '${name}' on the network: ${errorMessage(error)}`);
    }
    if (found.length !== 1 || found[0] !== address) {
      throw new HostnameConflictError(
        `hostname '${name}' is ambiguous on network '${this.#options.network}': it resolves to ` +
          `${found.join(", ") || "nothing"}, not only to its container (${address})`,
      );
    }
  }

  /** A running replica of this owner under this container name and hostname, taken as it is. */
  async #sharedNamesake(name: string, hostname: string): Promise<ReplicaHandle | undefined> {
    const { client, network, logger } = this.#options;
    const info = await client.inspectContainer(name);
    const labels = info.Config.Labels ?? {};
    const address = info.NetworkSettings.Networks[network]?.IPAddress;
    if (
      labels[LABELS.owner] !== this.#options.owner || labels[LABELS.hostname] !== hostname ||
      !info.State.Running || !address || this.#handles.has(info.Id)
    ) return undefined;
    logger.info("docker.container_exists", { container: name });
    const handle = new ContainerHandle(hostname, info.Id, this.#urlOf(name, address), name, this);
    handle.ordinal = Number(labels[LABELS.ordinal]) || undefined;
    this.#handles.set(info.Id, handle);
    return handle;
  }

  async #removeStaleNamesake(name: string): Promise<void> {
    const { client } = this.#options;
    const info = await client.inspectContainer(name);
    const labels = info.Config.Labels ?? {};
    const ours = labels[LABELS.owner] === this.#options.owner && labels[LABELS.role] === "replica";
    // Shared replicas: one not running yet may be another balancer's, being started.
    const starting = this.#options.shared && info.State.Status === "created";
    if (!ours || info.State.Running || starting) {
      throw new HostnameConflictError(
        `container name '${name}' is already in use by a container this balancer does not own`,
      );
    }
    await client.removeContainer(info.Id);
  }

  /**
   * Follows the events of this owner's containers (deaths; with shared replicas also starts,
   * the lease, and notes) for as long as the provider is open; after every reconnection the
   * known containers are checked, so a death while the stream was down is not missed.
   */
  #watchEvents(): Promise<void> {
    const { client, logger, shared } = this.#options;
    // Shared replicas: the lease container and promotion notes (volumes) matter too, and they
    // carry other labels (volume events none), so the owner is checked on this side.
    const filters: Record<string, string[]> = shared
      ? { type: ["container", "volume"] }
      : { type: ["container"], label: this.ownLabels };
    return client.follow(filters, (event) => this.#onEvent(event), this.#events.signal, {
      reconnected: () => this.#queue.run(() => this.#sweep()),
      lost: (reason, failures) => logger.warn("docker.events_lost", { reason, failures }),
    });
  }

  #onEvent(event: DockerEvent): void {
    const { owner } = this.#options;
    const attributes = event.Actor.Attributes;
    if (event.Type === "volume") {
      if (event.Action !== "create") return;
      // A promotion note: the reconciler made a spare a replica, which followers now take.
      if (event.Actor.ID.startsWith(`${owner}-promoted-`)) {
        this.#queue.run(() => this.#promotionNoted(event.Actor.ID));
      }
      // A removal note: another balancer's /rm is about to stop that replica. Let it go now,
      // before its heartbeats fail, so that it is not taken for a failure and replaced.
      if (event.Actor.ID.startsWith(`${owner}-removed-`)) {
        const prefix = event.Actor.ID.slice(`${owner}-removed-`.length);
        this.#queue.run(() => Promise.resolve(this.#removedElsewhere(prefix)));
      }
      return;
    }
    if (attributes.name === this.#lease?.name && event.Action === "destroy") {
      this.#queue.run(() => this.#tryLead());
      return;
    }
    if (attributes[LABELS.owner] !== owner || attributes[LABELS.role] !== "replica") return;
    if (event.Action === "start") {
      if (this.#options.shared && !this.#handles.has(event.Actor.ID)) {
        this.#queue.run(() => this.#appeared(event.Actor.ID));
      }
      return;
    }
    if (event.Action !== "die" && event.Action !== "oom" && event.Action !== "destroy") return;
    const handle = this.#handles.get(event.Actor.ID);
    if (!handle) return;
    const code = Number(attributes.exitCode);
    const exit = {
      code: Number.isFinite(code) ? code : undefined,
      description: event.Action === "oom"
        ? "killed: out of memory"
        : `container died${Number.isFinite(code) ? ` (exit code ${code})` : ""}`,
    };
    if (!this.#options.shared) {
      handle.ended(exit);
      return;
    }
    // Removed on purpose by another balancer (a note says so: one fewer wanted), or failed.
    this.#queue.run(async () => {
      const removed = await this.#removedOnPurpose(handle.id).catch(() => false);
      handle.ended(
        removed ? { ...exit, description: "removed by another balancer", removed } : exit,
      );
    });
  }

  /** The replica whose container id starts with `prefix` is being removed by another balancer. */
  #removedElsewhere(prefix: string): void {
    for (const [id, handle] of this.#handles) {
      if (!id.startsWith(prefix)) continue;
      this.#handles.delete(id);
      handle.ended({ description: "removed by another balancer", removed: true });
    }
  }

  /** Shared replicas: offers every running replica container this balancer does not know. */
  async #joinRunning(): Promise<void> {
    for (const summary of await this.#options.client.listContainers(this.ownLabels)) {
      if (summary.State === "running" && !this.#handles.has(summary.Id)) {
        await this.#appeared(summary.Id).catch(() => {});
      }
    }
  }

  /** Whether a removal note names the container. */
  async #removedOnPurpose(id: string): Promise<boolean> {
    return (await this.#options.client.listVolumes([`${LABELS.removed}=${id}`])).length > 0;
  }

  /** A promotion note appeared: the container it names joins, under the note's ordinal. */
  async #promotionNoted(volume: string): Promise<void> {
    const notes = await this.#options.client.listVolumes([
      `${LABELS.owner}=${this.#options.owner}`,
    ]);
    const note = notes.find((v) => v.Name === volume);
    const id = note?.Labels?.[LABELS.container];
    const ordinal = Number(note?.Labels?.[LABELS.ordinal]);
    if (id && !this.#handles.has(id) && ordinal > 0) {
      await this.#appeared(id, ordinal, weightFromLabels(note?.Labels ?? {}));
    }
  }

  /**
   * Shared replicas: a running replica container this balancer did not start (another one's
   * `/add`, the reconciler's replacement) is offered to the manager, with its ordinal.
   */
  async #appeared(id: string, ordinal?: number, weight?: number): Promise<void> {
    const { client, network } = this.#options;
    const info = await client.inspectContainer(id);
    const labels = info.Config.Labels ?? {};
    const hostname = labels[LABELS.hostname];
    const address = info.NetworkSettings.Networks[network]?.IPAddress;
    ordinal ??= Number(labels[LABELS.ordinal]);
    if (!info.State.Running || !hostname || !address || !(ordinal > 0)) return;
    if (this.#handles.has(id)) return;
    const container = info.Name.replace(/^\//, "");
    const handle = new ContainerHandle(
      hostname,
      id,
      this.#urlOf(container, address),
      container,
      this,
    );
    const spec = { name: hostname, ordinal, weight: weight ?? weightFromLabels(labels) };
    if (this.#joins?.({ spec, handle })) this.#handles.set(id, handle);
  }

  async #sweep(): Promise<void> {
    if (this.#options.shared) {
      await this.#joinRunning();
      await this.#tryLead();
    }
    for (const handle of this.#handles.values()) {
      try {
        const info = await this.#options.client.inspectContainer(handle.id);
        if (!info.State.Running) {
          handle.ended({
            code: info.State.ExitCode,
            description: `container ${info.State.Status}`,
          });
        }
      } catch (error) {
        if (error instanceof DockerError && error.status === 404) {
          handle.ended({ description: "container is gone" });
        }
      }
    }
  }
}
