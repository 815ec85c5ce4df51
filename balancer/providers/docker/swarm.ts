/**
 * Replicas as Docker Swarm services, through the Engine API of a swarm manager.
 *
 * A replica is a service with one task: named after its hostname, labelled like the Docker
 * provider's containers (the owner label on the service and on its task's containers), on an
 * attachable overlay network, reached by service name. Swarm's restart policy brings a failed
 * task back, so the balancer does not respawn anything: a task's death (its container's `die`
 * event) takes the replica out of the ring at once, and its first good heartbeat puts it back.
 * Meanwhile `/rep` keeps naming it — it is still one of the replicas, just not serving.
 *
 * Services are the membership, shared by every balancer with the same owner label: each one
 * adopts the services it finds at start, joins those another balancer creates later (`service
 * create` events) and lets go of those removed (`service remove`). Nothing needs a lease: the
 * swarm's manager is the one reconciler, and a name two balancers create at once is created
 * once (the second gets 409 and takes the existing service).
 *
 * @module
 */

import {
  type DockerClient,
  DockerError,
  type DockerEvent,
  type ServiceCreate,
  type ServiceInspect,
} from "./client.ts";
import {
  LABELS,
  ownContainerOn,
  ownerLabels,
  REPLICA_COMMAND,
  serverIdInEnv,
  weightFromLabels,
  weightLabel,
} from "./provider.ts";
import { delay, errorMessage, type Logger, SerialQueue, withDefaults } from "../../support/mod.ts";
import {
  type AdoptedReplica,
  HostnameConflictError,
  type Provider,
  type ReplicaExit,
  type ReplicaHandle,
  type ReplicaSpec,
  serverIdOf,
} from "../mod.ts";

/**
 * How a service's name resolves on the network: to its task's address (`dnsrr`) or to a
 * virtual IP the swarm balances (`vip`). With one task per service both reach the same task;
 * `dnsrr` is the default because the virtual-IP mode does not route on some hosts.
 */
export type EndpointMode = "dnsrr" | "vip";

/** The settings of the swarm provider (`--docker-*`, `--swarm-endpoint-mode`). */
export interface SwarmConfig {
  /** Image replicas run. Default `ringlb:latest`. */
  image: string;
  /** Attachable overlay network replicas join (created if absent). Default `net1`. */
  network: string;
  /** Owner label value: which balancers' replicas these are. Default `ringlb`. */
  owner: string;
  /** How service names resolve. Default `dnsrr`. */
  endpointMode: EndpointMode;
  /**
   * `auto` checks at start that this process runs in a container on the network (replicas
   * are only reachable there); `name` skips the check.
   */
  reach: "auto" | "name";
}

/** Options of a {@linkcode SwarmProvider}. */
export interface SwarmProviderOptions extends Partial<SwarmConfig> {
  /** Engine API client (of a swarm manager). */
  client: DockerClient;
  /** Logger. */
  logger: Logger;
  /** This machine's hostname (a container's is its short id). Default: read /etc/hostname. */
  hostname?: () => Promise<string>;
  /** Port replicas listen on. Default 5000. */
  port?: number;
  /** Arguments to the image's entrypoint. */
  command?: string[];
  /** User replicas run as. Default `deno`. */
  user?: string;
  /** Extra environment for replicas. */
  env?: Readonly<Record<string, string>>;
  /** Seconds between SIGTERM and SIGKILL when a replica is stopped. Default 5. */
  stopTimeoutSeconds?: number;
  /** Swarm's wait before it restarts a failed task, ms. Default 500 (Swarm's own is 5 s). */
  restartDelayMs?: number;
}

/**
 * The service name for a hostname. Swarm names services as DNS labels (letters, digits, `-`;
 * at most 63), so every other character becomes `-`: `Server 1` → `Server-1`, `server_1` →
 * `server-1`.
 */
export function serviceName(hostname: string): string {
  const name = hostname.replace(/[^a-zA-Z0-9-]/g, "-").replace(/^-+|-+$/g, "").slice(0, 63)
    .replace(/-+$/, "");
  return name || "replica";
}

/** The swarm labels Docker puts on a task's containers. */
const SWARM_SERVICE_ID = "com.docker.swarm.service.id";

class ServiceHandle implements ReplicaHandle {
  readonly exited: Promise<ReplicaExit>;
  /** Set when the service was found under its name, numbered by another balancer. */
  ordinal?: number;
  readonly #exit: (exit: ReplicaExit) => void;
  readonly #interrupted: ((reason: string) => void)[] = [];
  #stopping?: Promise<void>;

  constructor(
    readonly name: string,
    readonly id: string,
    readonly url: string,
    readonly service: string,
    readonly provider: SwarmProvider,
  ) {
    const { promise, resolve } = Promise.withResolvers<ReplicaExit>();
    this.exited = promise;
    this.#exit = resolve;
  }

  get describe(): Record<string, string> {
    return { service: this.service, id: this.id.slice(0, 12) };
  }

  onInterrupted(listener: (reason: string) => void): void {
    this.#interrupted.push(listener);
  }

  interrupted(reason: string): void {
    for (const listener of this.#interrupted) listener(reason);
  }

  ended(exit: ReplicaExit): void {
    this.#exit(exit);
  }

  stop(): Promise<void> {
    this.#stopping ??= this.provider.removeReplica(this);
    return this.#stopping;
  }
}

/** Runs replicas as swarm services through the Engine API. */
export class SwarmProvider implements Provider {
  /** Provider name for logs and config. */
  readonly kind = "swarm";
  /** Swarm restarts failed tasks itself. */
  readonly respawns = false;
  /** Every balancer with the owner label shares the services. */
  readonly shared = true;
  readonly #options: Required<SwarmProviderOptions>;
  /** Known services, by id. */
  readonly #handles = new Map<string, ServiceHandle>();
  readonly #events = new AbortController();
  #joins?: (found: AdoptedReplica) => boolean;
  /**
   * Event work, one piece at a time in the events' order (a promotion or a replacement must
   * not be joined before the death it follows has been handled).
   */
  readonly #queue = new SerialQueue((error) =>
    this.#options.logger.warn("swarm.event_failed", { reason: errorMessage(error) })
  );
  #ready?: Promise<void>;
  #watching?: Promise<void>;

  /** @param options Client, image, network, owner and endpoint mode. */
  constructor(options: SwarmProviderOptions) {
    this.#options = withDefaults({
      image: "ringlb:latest",
      network: "net1",
      owner: "ringlb",
      endpointMode: "dnsrr" as EndpointMode,
      reach: "auto" as const,
      hostname: async () => (await Deno.readTextFile("/etc/hostname")).trim(),
      port: 5000,
      command: REPLICA_COMMAND,
      user: "deno",
      env: {},
      stopTimeoutSeconds: 5,
      restartDelayMs: 500,
    }, options);
  }

  /** The label filters that select this owner's replicas. */
  get ownLabels(): string[] {
    return ownerLabels(this.#options.owner);
  }

  /**
   * Checks that the engine manages a swarm, that the image is there, creates the overlay
   * network if absent, checks that this process can reach replicas on it, and starts watching
   * events. Rejects with a one-line message naming what to do.
   */
  init(): Promise<void> {
    this.#ready ??= this.#init();
    return this.#ready;
  }

  async #init(): Promise<void> {
    const { client, network, owner, logger, image, reach, endpointMode } = this.#options;
    await client.ping();
    const version = await client.apiVersion();
    const swarm = (await client.info()).Swarm;
    if (swarm?.LocalNodeState !== "active") {
      throw new DockerError(
        503,
        `the Docker engine at ${client.socket} is not in a swarm ` +
          `(${swarm?.LocalNodeState || "no swarm state"}): run 'docker swarm init ` +
          `--advertise-addr 127.0.0.1', or use --provider docker`,
      );
    }
    if (!swarm.ControlAvailable) {
      throw new DockerError(
        503,
        `the Docker engine at ${client.socket} is a swarm worker: services are created on a ` +
          `manager (run the balancer on a manager node)`,
      );
    }
    await client.requireImage(image, `docker build -t ${image} .`);
    let found = await client.inspectNetwork(network);
    if (!found) {
      await client.createNetwork(network, { [LABELS.owner]: owner }, "overlay");
      logger.info("swarm.network_created", { network });
      found = await client.inspectNetwork(network);
    } else if (found.Driver !== "overlay" || !found.Attachable) {
      throw new DockerError(
        400,
        `network '${network}' is not an attachable overlay network (driver ${found.Driver}): ` +
          `pick another --docker-network, or create one with 'docker network create -d ` +
          `overlay --attachable ${network}'`,
      );
    }
    if (reach === "auto") {
      const mine = await ownContainerOn(this.#options.hostname, found?.Containers ?? {});
      if (!mine) {
        throw new DockerError(
          400,
          `the swarm provider reaches replicas by service name on overlay network ` +
            `'${network}', so the balancer must run in a container attached to it (docker run ` +
            `--network ${network} …, see docs/scaling.md); --docker-reach name skips this check`,
        );
      }
    }
    logger.info("swarm.ready", {
      socket: client.socket,
      api: version,
      network,
      owner,
      endpoint_mode: endpointMode,
    });
    this.#watching = this.#watchEvents();
  }

  /** Stops watching events and closes the client. Services are left as they are. */
  async close(): Promise<void> {
    this.#events.abort();
    await this.#watching;
    this.#options.client.close();
  }

  /**
   * Creates a service with one task for a replica; resolves once it exists (its task may not
   * run yet: heartbeats tell). A service of that name this owner already has (another
   * balancer created it at the same moment) is taken as it is.
   */
  async start(spec: ReplicaSpec): Promise<ReplicaHandle> {
    await this.init();
    const { client, image, network, owner, port, command, user, env, endpointMode } = this.#options;
    const name = serviceName(spec.name);
    const labels = {
      [LABELS.owner]: owner,
      [LABELS.role]: "replica",
      [LABELS.hostname]: spec.name,
      [LABELS.ordinal]: String(spec.ordinal),
      ...weightLabel(spec.weight),
    };
    const body: ServiceCreate = {
      Name: name,
      Labels: labels,
      TaskTemplate: {
        ContainerSpec: {
          Image: image,
          Args: command,
          User: user,
          Env: [
            ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
            `SERVER_ID=${serverIdOf(spec)}`,
            `PORT=${port}`,
          ],
          Labels: labels,
          StopGracePeriod: this.#options.stopTimeoutSeconds * 1e9,
        },
        RestartPolicy: { Condition: "any", Delay: this.#options.restartDelayMs * 1e6 },
        Networks: [{ Target: network, Aliases: [name] }],
      },
      Mode: { Replicated: { Replicas: 1 } },
      EndpointSpec: { Mode: endpointMode },
    };
    let id: string;
    try {
      id = await client.createService(body);
    } catch (error) {
      if (!(error instanceof DockerError && error.status === 409)) {
        throw new Error(`replica '${spec.name}' (service ${name}): ${errorMessage(error)}`);
      }
      // (Names clash case-insensitively; a lookup by name is exact.)
      const existing = await client.inspectService(name) ??
        (await client.listServices(ownerLabels(owner))).find((s) =>
          s.Spec.Name.toLowerCase() === name.toLowerCase()
        );
      const theirs = existing?.Spec.Labels ?? {};
      const other = theirs[LABELS.hostname];
      if (
        existing && theirs[LABELS.owner] === owner && other !== undefined && other !== spec.name
      ) {
        throw new HostnameConflictError(
          `service name '${name}' is already replica '${other}''s (a service name holds ` +
            `letters, digits and '-' only, whatever their case)`,
        );
      }
      if (
        !existing || theirs[LABELS.owner] !== owner || theirs[LABELS.hostname] !== spec.name ||
        this.#handles.has(existing.ID)
      ) {
        throw new HostnameConflictError(
          `service name '${name}' is already in use by a service this balancer does not own`,
        );
      }
      this.#options.logger.info("swarm.service_exists", { service: name });
      id = existing.ID;
      const handle = this.#handleOf(spec.name, id, name);
      handle.ordinal = Number(theirs[LABELS.ordinal]) || undefined;
      this.#handles.set(id, handle);
      return handle;
    }
    const handle = this.#handleOf(spec.name, id, name);
    this.#handles.set(id, handle);
    this.#options.logger.debug("swarm.created", { service: name, id: id.slice(0, 12) });
    return handle;
  }

  /** This owner's services, with hostnames and ordinals from their labels, oldest first. */
  async adopt(): Promise<AdoptedReplica[]> {
    await this.init();
    const services = await this.#options.client.listServices(this.ownLabels);
    services.sort((a, b) => Date.parse(a.CreatedAt) - Date.parse(b.CreatedAt));
    const adopted: AdoptedReplica[] = [];
    for (const service of services) {
      const found = this.#found(service);
      if (!found) continue;
      this.#handles.set(service.ID, found.handle as ServiceHandle);
      adopted.push(found);
    }
    return adopted;
  }

  /**
   * See {@linkcode Provider.watchJoins}. Services created between `adopt` and this call are
   * offered at once (their events found no listener).
   */
  watchJoins(listener: (found: AdoptedReplica) => boolean): void {
    this.#joins = listener;
    this.#queue.run(() => this.#sweep());
  }

  /**
   * Removes a replica's service, then waits (up to the stop grace and 10 s more) until its
   * task's container is gone, so a removal resolves when the replica has stopped.
   */
  async removeReplica(handle: ServiceHandle): Promise<void> {
    const { client, stopTimeoutSeconds, logger } = this.#options;
    try {
      await client.removeService(handle.id);
      const deadline = Date.now() + stopTimeoutSeconds * 1000 + 10_000;
      const tasks = [`${SWARM_SERVICE_ID}=${handle.id}`];
      while ((await client.listContainers(tasks)).some((c) => c.State === "running")) {
        if (Date.now() > deadline) {
          logger.warn("swarm.stop_slow", { service: handle.service });
          break;
        }
        await delay(100);
      }
    } catch (error) {
      logger.error("swarm.remove_failed", {
        service: handle.service,
        reason: errorMessage(error),
      });
    }
    this.#handles.delete(handle.id);
    handle.ended({ description: "removed" });
  }

  #handleOf(hostname: string, id: string, service: string): ServiceHandle {
    return new ServiceHandle(
      hostname,
      id,
      `http://${service}:${this.#options.port}`,
      service,
      this,
    );
  }

  /** A service as a replica, when it is one of this owner's. */
  #found(service: ServiceInspect): AdoptedReplica | undefined {
    const labels = service.Spec.Labels ?? {};
    const hostname = labels[LABELS.hostname];
    if (labels[LABELS.owner] !== this.#options.owner || labels[LABELS.role] !== "replica") {
      return undefined;
    }
    if (!hostname) return undefined;
    return {
      spec: {
        name: hostname,
        ordinal: Number(labels[LABELS.ordinal]) || 0,
        weight: weightFromLabels(labels),
        serverId: serverIdInEnv(service.Spec.TaskTemplate?.ContainerSpec?.Env),
      },
      handle: this.#handleOf(hostname, service.ID, service.Spec.Name),
    };
  }

  /** A service this provider does not know appeared: another balancer's, maybe ours to join. */
  async #appeared(id: string): Promise<void> {
    if (this.#handles.has(id)) return;
    const service = await this.#options.client.inspectService(id);
    if (!service || this.#handles.has(id)) return;
    const found = this.#found(service);
    if (found && this.#joins?.(found)) this.#handles.set(id, found.handle as ServiceHandle);
  }

  /** A known service is no more: removed (by another balancer, or by hand). */
  #gone(id: string, description: string, removed: boolean): void {
    const handle = this.#handles.get(id);
    if (!handle) return;
    this.#handles.delete(id);
    handle.ended({ description, removed });
  }

  /**
   * Follows container events (a task died) and service events (created or removed by another
   * balancer); after every reconnection the services are compared with what is known, so
   * nothing that happened meanwhile is missed.
   */
  #watchEvents(): Promise<void> {
    const { client, logger } = this.#options;
    // Service events carry no labels, so they cannot be filtered by owner on the engine's
    // side; container events can, but one stream for both keeps their order.
    const filters = { type: ["container", "service"] };
    return client.follow(filters, (event) => this.#onEvent(event), this.#events.signal, {
      reconnected: () => this.#queue.run(() => this.#sweep()),
      lost: (reason, failures) => logger.warn("swarm.events_lost", { reason, failures }),
    });
  }

  #onEvent(event: DockerEvent): void {
    if (event.Type === "service") {
      const id = event.Actor.ID;
      if (event.Action === "create") this.#queue.run(() => this.#appeared(id));
      else if (event.Action === "remove") {
        this.#queue.run(() => this.#gone(id, "service removed", true));
      }
      return;
    }
    if (event.Type !== "container" || (event.Action !== "die" && event.Action !== "oom")) return;
    const attributes = event.Actor.Attributes;
    if (attributes[LABELS.owner] !== this.#options.owner) return;
    const handle = this.#handles.get(attributes[SWARM_SERVICE_ID] ?? "");
    if (!handle) return;
    const code = Number(attributes.exitCode);
    // At once, not queued: what is in flight to the dead task fails over now.
    handle.interrupted(
      event.Action === "oom"
        ? "task killed: out of memory"
        : `task died${Number.isFinite(code) ? ` (exit code ${code})` : ""}; swarm restarts it`,
    );
  }

  /** After the event stream was down: services removed meanwhile end, new ones are joined. */
  async #sweep(): Promise<void> {
    const { client, logger } = this.#options;
    // Known before the list was asked for: one `start` adds meanwhile is not in the list.
    const known = [...this.#handles.keys()];
    const services = await client.listServices(this.ownLabels);
    const present = new Set(services.map((s) => s.ID));
    for (const id of known) {
      // Gone only if the engine says so for this very service.
      if (!present.has(id) && !(await client.inspectService(id))) {
        this.#gone(id, "service is gone", true);
      }
    }
    for (const service of services) {
      await this.#appeared(service.ID).catch((error) =>
        logger.warn("swarm.join_failed", {
          service: service.Spec.Name,
          reason: errorMessage(error),
        })
      );
    }
  }
}
