/**
 * A small typed client for the Docker Engine HTTP API over its unix socket: only the calls
 * the balancer needs. Deno's `fetch` with a unix-socket `HttpClient`; the API version is
 * negotiated from `/version`, so engines from 20.10 (API 1.41) to current ones work.
 *
 * @module
 */

import { delay, readLines, rootMessage } from "../../support/mod.ts";

/** Oldest API version this client speaks (Docker Engine 20.10). */
export const MIN_API_VERSION = "1.41";
/** Newest API version this client was written against; newer engines are asked for this one. */
export const MAX_API_VERSION = "1.51";

/** The engine answered with an error; `message` is the engine's own. */
export class DockerError extends Error {
  /**
   * @param status HTTP status of the engine's answer (404 no such container/image, 409 conflict…).
   * @param message The engine's message.
   */
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = "DockerError";
  }
}

/** No engine answers at the socket. */
export class DockerUnavailableError extends Error {
  /** @param socket The socket path that was tried. @param cause Why. */
  constructor(readonly socket: string, cause: string) {
    super(
      `Docker engine not reachable at ${socket} (${cause}): start dockerd, ` +
        `or run with --provider=process`,
    );
    this.name = "DockerUnavailableError";
  }
}

/** Compares dotted versions: negative, zero or positive. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** The API version to speak with an engine that offers `[engineMin, engineMax]`. */
export function negotiateVersion(engineMax: string, engineMin = "1.12"): string {
  if (compareVersions(engineMax, MIN_API_VERSION) < 0) {
    throw new DockerError(
      400,
      `Docker engine API ${engineMax} is too old: ${MIN_API_VERSION} (Docker 20.10) or newer is needed`,
    );
  }
  const chosen = compareVersions(engineMax, MAX_API_VERSION) < 0 ? engineMax : MAX_API_VERSION;
  return compareVersions(chosen, engineMin) < 0 ? engineMin : chosen;
}

/** The socket path from `DOCKER_HOST` (`unix:///path`), default `/var/run/docker.sock`. */
export function socketFromDockerHost(dockerHost: string | undefined): string {
  if (!dockerHost) return "/var/run/docker.sock";
  if (dockerHost.startsWith("unix://")) return dockerHost.slice("unix://".length);
  throw new DockerUnavailableError(
    dockerHost,
    "only unix:// sockets are supported, set DOCKER_HOST=unix:///var/run/docker.sock",
  );
}

/** Part of `GET /containers/{id}/json` that the balancer reads. */
export interface ContainerInspect {
  Id: string;
  /** Creation time, RFC 3339 with nanoseconds. */
  Created: string;
  Name: string;
  State: { Status: string; Running: boolean; ExitCode: number; OOMKilled: boolean; Pid: number };
  Config: { Labels: Record<string, string> | null; Env: string[] | null; Image: string };
  NetworkSettings: { Networks: Record<string, { IPAddress: string; Aliases: string[] | null }> };
}

/** Part of an entry of `GET /containers/json`. */
export interface ContainerSummary {
  Id: string;
  Names: string[];
  State: string;
  Labels: Record<string, string>;
}

/** Part of `GET /networks/{name}`. */
export interface NetworkInspect {
  Id: string;
  Name: string;
  /** `bridge`, `overlay`, … */
  Driver?: string;
  /** Whether plain containers may join (overlay networks). */
  Attachable?: boolean;
  /** Attached running containers, by id. */
  Containers?: Record<string, { Name: string; IPv4Address: string }>;
}

/** Part of an entry of `GET /volumes`. */
export interface VolumeSummary {
  Name: string;
  Labels: Record<string, string> | null;
}

/** `POST /containers/create` body (the fields the balancer uses). */
export interface ContainerCreate {
  Image: string;
  Cmd?: string[];
  User?: string;
  Env?: string[];
  Labels?: Record<string, string>;
  HostConfig?: { NetworkMode?: string };
  NetworkingConfig?: { EndpointsConfig: Record<string, { Aliases?: string[] }> };
}

/** `POST /containers/create` body of a lease holder's container (see `lease.ts`). */
export interface LeaseContainerCreate {
  Image: string;
  Cmd: string[];
  User?: string;
  Labels: Record<string, string>;
  OpenStdin: true;
  StdinOnce: true;
  AttachStdin: true;
  NetworkDisabled: true;
  HostConfig: { AutoRemove: true };
}

/** `POST /services/create` body (the fields the balancer uses). */
export interface ServiceCreate {
  Name: string;
  Labels: Record<string, string>;
  TaskTemplate: {
    ContainerSpec: {
      Image: string;
      /** Arguments to the image's entrypoint. */
      Args?: string[];
      Env?: string[];
      User?: string;
      /** On the task's containers, so their events can be filtered by owner. */
      Labels?: Record<string, string>;
      /** Nanoseconds between SIGTERM and SIGKILL. */
      StopGracePeriod?: number;
    };
    /** `Delay` in nanoseconds. */
    RestartPolicy: { Condition: "none" | "on-failure" | "any"; Delay?: number };
    Networks: { Target: string; Aliases?: string[] }[];
  };
  Mode: { Replicated: { Replicas: number } };
  EndpointSpec: { Mode: "vip" | "dnsrr" };
}

/** Part of `GET /services/{id}` and of an entry of `GET /services`. */
export interface ServiceInspect {
  ID: string;
  CreatedAt: string;
  Spec: {
    Name: string;
    Labels?: Record<string, string> | null;
    TaskTemplate?: { ContainerSpec?: { Env?: string[] | null } };
  };
}

/** Part of `GET /info` that says whether this engine manages a swarm. */
export interface EngineInfo {
  Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean; NodeID?: string };
}

/** One event of `GET /events`. */
export interface DockerEvent {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  time: number;
}

/** Options of a {@linkcode DockerClient}. */
export interface DockerClientOptions {
  /** Socket path. Default from `DOCKER_HOST`, else `/var/run/docker.sock`. */
  socket?: string;
}

/**
 * The Docker Engine API calls the balancer makes. Every failed call throws
 * {@linkcode DockerError} with the engine's message, or {@linkcode DockerUnavailableError}
 * when nothing answers at the socket.
 */
export class DockerClient {
  /** Socket path. */
  readonly socket: string;
  readonly #http: Deno.HttpClient;
  #version?: Promise<string>;

  /** Creates a client; no I/O until the first call. */
  constructor(options: DockerClientOptions = {}) {
    this.socket = options.socket ?? "/var/run/docker.sock";
    this.#http = Deno.createHttpClient({ proxy: { transport: "unix", path: this.socket } });
  }

  /** Releases the connection pool. */
  close(): void {
    this.#http.close();
  }

  /** `GET /_ping`: resolves when the engine answers. */
  async ping(): Promise<void> {
    await (await this.#raw("GET", "/_ping")).body?.cancel();
  }

  /** `GET /version`: the engine's version and API range. */
  async version(): Promise<{ Version: string; ApiVersion: string; MinAPIVersion?: string }> {
    return await (await this.#raw("GET", "/version")).json();
  }

  /** The negotiated API version (asked once). */
  apiVersion(): Promise<string> {
    this.#version ??= this.version().then((v) => negotiateVersion(v.ApiVersion, v.MinAPIVersion));
    this.#version.catch(() => this.#version = undefined); // ask again next time
    return this.#version;
  }

  /** Creates a container; returns its id. */
  async createContainer(
    name: string,
    body: ContainerCreate | LeaseContainerCreate,
  ): Promise<string> {
    const res = await this.#call(
      "POST",
      `/containers/create?name=${encodeURIComponent(name)}`,
      body,
    );
    return (await res.json()).Id;
  }

  /**
   * Attaches to a container's stdin (`POST /containers/{id}/attach`, upgraded to a raw
   * stream): the returned connection is the container's stdin until it is closed, or until
   * this process ends and the kernel closes it. Used for leases that die with their holder.
   */
  async attachStdin(id: string): Promise<Deno.Conn> {
    const version = await this.apiVersion();
    let conn: Deno.Conn;
    try {
      conn = await Deno.connect({ transport: "unix", path: this.socket });
    } catch (error) {
      throw new DockerUnavailableError(this.socket, describeCause(error));
    }
    try {
      const request = new TextEncoder().encode(
        `POST /v${version}/containers/${id}/attach?stream=1&stdin=1 HTTP/1.1\r\n` +
          `Host: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n`,
      );
      for (let sent = 0; sent < request.length;) {
        sent += await conn.write(request.subarray(sent));
      }
      // The answer's head, then the raw stream (nothing comes back: stdout is not attached).
      const buffer = new Uint8Array(4096);
      let head = "";
      while (!head.includes("\r\n\r\n")) {
        const n = await conn.read(buffer);
        if (n === null) throw new DockerError(502, "the engine closed the attach connection");
        head += new TextDecoder().decode(buffer.subarray(0, n));
        if (head.length > 16_384) throw new DockerError(502, "attach: answer head too long");
      }
      const status = Number(head.slice(9, 12));
      if (status !== 101 && status !== 200) {
        throw new DockerError(status, `attach: ${head.split("\r\n")[0]}`);
      }
      return conn;
    } catch (error) {
      conn.close();
      throw error;
    }
  }

  /** Starts a container. */
  async startContainer(id: string): Promise<void> {
    await this.#done(this.#call("POST", `/containers/${id}/start`));
  }

  /** Stops a container: SIGTERM, then SIGKILL after `timeoutSeconds`. */
  async stopContainer(id: string, timeoutSeconds: number): Promise<void> {
    await this.#done(this.#call("POST", `/containers/${id}/stop?t=${timeoutSeconds}`));
  }

  /** Sends a signal to a container. */
  async killContainer(id: string, signal = "SIGKILL"): Promise<void> {
    await this.#done(this.#call("POST", `/containers/${id}/kill?signal=${signal}`));
  }

  /** Removes a container (forcibly, with its anonymous volumes). */
  async removeContainer(id: string): Promise<void> {
    await this.#done(this.#call("DELETE", `/containers/${id}?force=true&v=true`));
  }

  /** Inspects a container. */
  async inspectContainer(id: string): Promise<ContainerInspect> {
    return await (await this.#call("GET", `/containers/${id}/json`)).json();
  }

  /** Lists containers, stopped ones too, carrying every `key=value` label given. */
  async listContainers(labels: readonly string[]): Promise<ContainerSummary[]> {
    const filters = encodeURIComponent(JSON.stringify({ label: labels }));
    return await (await this.#call("GET", `/containers/json?all=true&filters=${filters}`)).json();
  }

  /** Whether an image of that name or id exists in the engine. */
  async hasImage(name: string): Promise<boolean> {
    try {
      await this.#done(this.#call("GET", `/images/${encodeURIComponent(name)}/json`));
      return true;
    } catch (error) {
      if (error instanceof DockerError && error.status === 404) return false;
      throw error;
    }
  }

  /**
   * Rejects with a one-line `DockerError` (404) when the replica image is not in the engine;
   * `build` says how to build it.
   */
  async requireImage(name: string, build: string): Promise<void> {
    if (!(await this.hasImage(name))) {
      throw new DockerError(
        404,
        `replica image '${name}' is not in the engine: build it first (${build})`,
      );
    }
  }

  /** Inspects a network; `undefined` when there is none of that name. */
  async inspectNetwork(name: string): Promise<NetworkInspect | undefined> {
    try {
      return await (await this.#call("GET", `/networks/${encodeURIComponent(name)}`)).json();
    } catch (error) {
      if (error instanceof DockerError && error.status === 404) return undefined;
      throw error;
    }
  }

  /**
   * Creates a network with labels; returns its id. A bridge by default; an `overlay` one is
   * made attachable, so plain containers (a balancer run with `docker run`) can join it.
   */
  async createNetwork(
    name: string,
    labels: Record<string, string>,
    driver: "bridge" | "overlay" = "bridge",
  ): Promise<string> {
    const res = await this.#call("POST", "/networks/create", {
      Name: name,
      Driver: driver,
      CheckDuplicate: true,
      Labels: labels,
      ...(driver === "overlay" ? { Attachable: true } : {}),
    });
    return (await res.json()).Id;
  }

  /** `GET /info`: the engine's state, swarm membership included. */
  async info(): Promise<EngineInfo> {
    return await (await this.#call("GET", "/info")).json();
  }

  /** Creates a swarm service; returns its id. */
  async createService(body: ServiceCreate): Promise<string> {
    return (await (await this.#call("POST", "/services/create", body)).json()).ID;
  }

  /** Inspects a swarm service by id or name; `undefined` when there is none. */
  async inspectService(idOrName: string): Promise<ServiceInspect | undefined> {
    try {
      return await (await this.#call("GET", `/services/${encodeURIComponent(idOrName)}`)).json();
    } catch (error) {
      if (error instanceof DockerError && error.status === 404) return undefined;
      throw error;
    }
  }

  /** Swarm services carrying every `key=value` label given. */
  async listServices(labels: readonly string[]): Promise<ServiceInspect[]> {
    const filters = encodeURIComponent(JSON.stringify({ label: labels }));
    return await (await this.#call("GET", `/services?filters=${filters}`)).json();
  }

  /** Removes a swarm service (its tasks are stopped by the swarm); a missing one is no error. */
  async removeService(id: string): Promise<void> {
    try {
      await this.#done(this.#call("DELETE", `/services/${encodeURIComponent(id)}`));
    } catch (error) {
      if (!(error instanceof DockerError && error.status === 404)) throw error;
    }
  }

  /** Creates a named volume carrying labels (the balancer uses empty ones as notes). */
  async createVolume(name: string, labels: Record<string, string>): Promise<void> {
    await this.#done(this.#call("POST", "/volumes/create", { Name: name, Labels: labels }));
  }

  /** Volumes carrying every `key=value` label given. */
  async listVolumes(labels: readonly string[]): Promise<VolumeSummary[]> {
    const filters = encodeURIComponent(JSON.stringify({ label: labels }));
    const res = await this.#call("GET", `/volumes?filters=${filters}`);
    return (await res.json()).Volumes ?? [];
  }

  /** Removes a volume; one that does not exist is not an error. */
  async removeVolume(name: string): Promise<void> {
    try {
      await this.#done(this.#call("DELETE", `/volumes/${encodeURIComponent(name)}`));
    } catch (error) {
      if (!(error instanceof DockerError && error.status === 404)) throw error;
    }
  }

  /** Removes a network. */
  async removeNetwork(name: string): Promise<void> {
    await this.#done(this.#call("DELETE", `/networks/${encodeURIComponent(name)}`));
  }

  /**
   * Streams events matching `filters` (the engine's: `{type: ["container"], label: [...]}`),
   * until `signal` aborts or the engine closes the stream. Resolves then; rejects if the
   * stream cannot be opened. `onOpen` runs once the stream is open (events from then on will
   * be seen). Service events carry no labels: filter them by id on this side.
   */
  async events(
    filters: Readonly<Record<string, readonly string[]>>,
    onEvent: (event: DockerEvent) => void,
    signal: AbortSignal,
    onOpen?: () => void,
  ): Promise<void> {
    const query = encodeURIComponent(JSON.stringify(filters));
    const res = await this.#call("GET", `/events?filters=${query}`, undefined, signal);
    onOpen?.();
    try {
      for await (const line of readLines(res.body!)) {
        if (line.trim()) onEvent(JSON.parse(line));
      }
    } catch (error) {
      if (!signal.aborted) throw error;
    }
  }

  /**
   * Follows events matching `filters` until `signal` aborts: reconnects with a backoff (100 ms
   * doubling to 5 s) when the stream ends or breaks, tells `lost` why, and calls `reconnected`
   * each time a stream opens again after the first (what happened meanwhile was not seen).
   * Resolves once `signal` aborts.
   */
  async follow(
    filters: Readonly<Record<string, readonly string[]>>,
    onEvent: (event: DockerEvent) => void,
    signal: AbortSignal,
    hooks: { reconnected(): void; lost(reason: string, failures: number): void },
  ): Promise<void> {
    let failures = 0;
    let connections = 0;
    while (!signal.aborted) {
      try {
        await this.events(filters, onEvent, signal, () => {
          if (connections++ > 0) hooks.reconnected();
          failures = 0;
        });
      } catch (error) {
        if (signal.aborted) break;
        failures++;
        hooks.lost(rootMessage(error), failures);
      }
      await delay(Math.min(100 * 2 ** failures, 5_000), signal);
    }
  }

  /** A versioned API call that must succeed. */
  async #call(
    method: string,
    path: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<Response> {
    return await this.#raw(method, `/v${await this.apiVersion()}${path}`, body, signal);
  }

  async #done(response: Promise<Response>): Promise<void> {
    await (await response).body?.cancel();
  }

  async #raw(
    method: string,
    path: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(`http://docker${path}`, {
        method,
        client: this.#http,
        signal,
        headers: body === undefined ? {} : { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      if (signal?.aborted) throw error;
      throw new DockerUnavailableError(this.socket, describeCause(error));
    }
    if (res.ok) return res;
    const text = await res.text();
    let message = text.trim() || `HTTP ${res.status}`;
    try {
      message = JSON.parse(text).message ?? message;
    } catch {
      // not JSON: keep the text
    }
    throw new DockerError(res.status, message);
  }
}

function describeCause(error: unknown): string {
  const message = rootMessage(error);
  if (/No such file|not found|ENOENT/i.test(message)) return "no such socket";
  if (/refused/i.test(message)) return "connection refused";
  if (/permission|EACCES/i.test(message)) return "permission denied";
  return message;
}
