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

import {
  type ContainerCreate,
  type DockerClient,
  DockerError,
  type DockerEvent,
} from "./client.ts";
import { delay, errorMessage, type Logger, withDefaults } from "../../support/mod.ts";
import {
  type AdoptedReplica,
  HostnameConflictError,
  type Provider,
  type ReplicaExit,
  type ReplicaHandle,
  type ReplicaSpec,
} from "../mod.ts";

/** Label keys on every container the balancer creates. */
export const LABELS = {
  /** Which balancer owns it (`--docker-owner`). */
  owner: "ringlb.owner",
  /** Always `replica`. */
  role: "ringlb.role",
  /** The replica's hostname (its `SERVER_ID`). */
  hostname: "ringlb.hostname",
  /** The replica's ordinal on the ring. */
  ordinal: "ringlb.ordinal",
  /** On a promotion note (a volume): the promoted container's id. */
  container: "ringlb.container",
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
}

/** Options of a {@linkcode DockerProvider}. */
export interface DockerProviderOptions extends Partial<DockerConfig> {
  /** Engine API client. */
  client: DockerClient;
  /** Logger. */
  logger: Logger;
  /** This machine's hostname (a container's is its short id). Default: read /etc/hostname. */
  hostname?: () => Promise<string>;
  /** IPv4 addresses of a name, for the `name` reach. Default `Deno.resolveDns(name, "A")`. */
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

class ContainerHandle implements ReplicaHandle {
  readonly exited: Promise<ReplicaExit>;
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
    this.#exit(exit);
  }

  stop(): Promise<void> {
    this.#stopping ??= this.provider.removeReplica(this);
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

  /** @param options Client, image, network, owner and how to reach replicas. */
  constructor(options: DockerProviderOptions) {
    this.#options = withDefaults({
      image: "ringlb:latest",
      network: "net1",
      owner: "ringlb",
      reach: "auto" as DockerReach,
      hostname: async () => (await Deno.readTextFile("/etc/hostname")).trim(),
      resolve: (name: string) => Deno.resolveDns(name, "A"),
      port: 5000,
      command: REPLICA_COMMAND,
      user: "deno",
      env: {},
      stopTimeoutSeconds: 5,
    }, options);
  }

  /** The label filters that select this balancer's replicas. */
  get ownLabels(): string[] {
    return [`${LABELS.owner}=${this.#options.owner}`, `${LABELS.role}=replica`];
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
    if (!(await client.hasImage(image))) {
      throw new DockerError(
        404,
        `replica image '${image}' is not in the engine: build it first ` +
          `(docker compose build, or docker build -t ${image} .)`,
      );
    }
    const found = await client.inspectNetwork(network);
    if (!found) {
      await client.createNetwork(network, { [LABELS.owner]: owner });
      logger.info("docker.network_created", { network });
    }
    this.#reach = this.#options.reach === "auto"
      ? await this.#onNetwork(Object.keys(found?.Containers ?? {}))
      : this.#options.reach;
    logger.info("docker.ready", {
      socket: client.socket,
      api: version,
      network,
      owner,
      reach: this.#reach,
    });
    this.#watching = this.#watchEvents();
  }

  /** `name` when this process runs in one of the containers on the network, else `address`. */
  async #onNetwork(containerIds: string[]): Promise<"name" | "address"> {
    let hostname = "";
    try {
      hostname = await this.#options.hostname();
    } catch {
      return "address";
    }
    const mine = hostname.length >= 12 && containerIds.some((id) => id.startsWith(hostname));
    return mine ? "name" : "address";
  }

  /** Stops watching events and closes the client. Replicas are left as they are. */
  async close(): Promise<void> {
    this.#events.abort();
    await this.#watching;
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
        `SERVER_ID=${spec.name}`,
        `PORT=${port}`,
      ],
      Labels: {
        [LABELS.owner]: owner,
        [LABELS.role]: "replica",
        [LABELS.hostname]: spec.name,
        [LABELS.ordinal]: String(spec.ordinal),
      },
      HostConfig: { NetworkMode: network },
      NetworkingConfig: { EndpointsConfig: { [network]: { Aliases: [name] } } },
    };
    let id: string;
    try {
      id = await client.createContainer(name, body);
    } catch (error) {
      if (!(error instanceof DockerError && error.status === 409)) throw error;
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
    const notes = new Map<string, { volume: string; ordinal: number }>();
    for (const volume of await client.listVolumes([`${LABELS.owner}=${this.#options.owner}`])) {
      const id = volume.Labels?.[LABELS.container];
      if (id) {
        notes.set(id, { volume: volume.Name, ordinal: Number(volume.Labels?.[LABELS.ordinal]) });
      }
    }
    for (const summary of await client.listContainers(this.ownLabels)) {
      const labels = summary.Labels;
      const hostname = labels[LABELS.hostname];
      const container = summary.Names[0]?.replace(/^\//, "") ?? summary.Id;
      if (summary.State !== "running" || !hostname) {
        await client.removeContainer(summary.Id).catch(() => {});
        logger.info("docker.removed_dead", { container, state: summary.State });
        continue;
      }
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
        spec: { name: hostname, ordinal: Number(labels[LABELS.ordinal]) || note?.ordinal || 0 },
        handle,
        created: info.Created,
      });
    }
    // Notes of containers that are gone.
    for (const { volume } of notes.values()) await client.removeVolume(volume).catch(() => {});
    return adopted.sort((a, b) => Date.parse(a.created) - Date.parse(b.created));
  }

  /**
   * Records a spare's promotion. Container labels cannot change, so the note is an empty
   * volume whose labels name the container and its ordinal; `adopt` reads it back.
   */
  async promoted(handle: ReplicaHandle, ordinal: number): Promise<void> {
    const { client, owner } = this.#options;
    const id = (handle as ContainerHandle).id;
    await client.createVolume(this.#noteName(id), {
      [LABELS.owner]: owner,
      [LABELS.container]: id,
      [LABELS.ordinal]: String(ordinal),
    });
  }

  #noteName(containerId: string): string {
    return `${this.#options.owner}-promoted-${containerId.slice(0, 12)}`;
  }

  /** Stops (SIGTERM, then SIGKILL) and removes a replica's container. */
  async removeReplica(handle: ContainerHandle): Promise<void> {
    const { client, stopTimeoutSeconds } = this.#options;
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
    this.#handles.delete(handle.id);
    await client.removeVolume(this.#noteName(handle.id)).catch(() => {});
    handle.ended({ description: "removed" });
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

  async #removeStaleNamesake(name: string): Promise<void> {
    const { client } = this.#options;
    const info = await client.inspectContainer(name);
    const labels = info.Config.Labels ?? {};
    const ours = labels[LABELS.owner] === this.#options.owner && labels[LABELS.role] === "replica";
    if (!ours || info.State.Running) {
      throw new HostnameConflictError(
        `container name '${name}' is already in use by a container this balancer does not own`,
      );
    }
    await client.removeContainer(info.Id);
  }

  /**
   * Follows `die` events of our containers; reconnects with a backoff when the stream ends
   * or breaks, and after every reconnection checks the containers it knows, so a death
   * while the stream was down is not missed.
   */
  async #watchEvents(): Promise<void> {
    const { client, logger } = this.#options;
    const signal = this.#events.signal;
    let failures = 0;
    let connections = 0;
    while (!signal.aborted) {
      try {
        await client.events(this.ownLabels, (event) => this.#onEvent(event), signal, () => {
          if (connections++ > 0) this.#sweep().catch(() => {});
          failures = 0;
        });
      } catch (error) {
        if (signal.aborted) break;
        failures++;
        logger.warn("docker.events_lost", { reason: errorMessage(error), failures });
      }
      await delay(Math.min(100 * 2 ** failures, 5_000), signal);
    }
  }

  #onEvent(event: DockerEvent): void {
    if (event.Action !== "die" && event.Action !== "oom" && event.Action !== "destroy") return;
    const handle = this.#handles.get(event.Actor.ID);
    if (!handle) return;
    const code = Number(event.Actor.Attributes.exitCode);
    const description = event.Action === "oom"
      ? "killed: out of memory"
      : `container died${Number.isFinite(code) ? ` (exit code ${code})` : ""}`;
    handle.ended({ code: Number.isFinite(code) ? code : undefined, description });
  }

  async #sweep(): Promise<void> {
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
