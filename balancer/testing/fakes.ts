/**
 * Test doubles: an in-memory cluster of replica apps that stands in for a provider and for
 * the network, so the balancer's app, manager and health checks can be tested with
 * `app.request()` and no processes. The failover suite (tests/) uses real processes.
 *
 * @module
 */

import type { Hono } from "hono";
import { type LogFields, type Logger, type LogLevel } from "../support/mod.ts";
import net from "node:net";
import { createServerApp, type Faults } from "../../server/mod.ts";
import {
  type AdoptedReplica,
  HostnameConflictError,
  type Provider,
  type ReplicaExit,
  type ReplicaHandle,
  type ReplicaSpec,
  serverIdOf,
} from "../providers/mod.ts";

/** One in-memory replica. */
export interface FakeReplica {
  /** Hostname. */
  readonly name: string;
  /** What it answers as (`SERVER_ID`). */
  readonly serverId: string;
  /** Its app; replace to change behaviour. */
  app: Hono;
  /** Its faults, live. */
  readonly faults: Faults;
  /** False once killed or stopped: connections are refused. */
  alive: boolean;
  /** When set, requests reach it and then fail with this network error (a reset). */
  dropAfterReceive?: string;
  /** Requests it received (method and path), in order. */
  readonly received: string[];
  /** Ends it as if killed; `removed`: as if another balancer removed it on purpose. */
  kill(description?: string, removed?: boolean): void;
  /** Stops it for now, as a swarm task that died and will be restarted: its handle says so. */
  interrupt(reason: string): void;
  /** Brings an interrupted replica back (the orchestrator restarted it). */
  resume(): void;
}

/**
 * A fake provider plus the `fetch` that reaches its replicas. `fetch` refuses connections to
 * dead or unknown replicas with the same TypeError shape Deno's fetch throws.
 */
export class FakeCluster implements Provider {
  /** Provider name. */
  readonly kind = "fake";
  /** Whether failed replicas are replaced (false: it plays servers it does not run). */
  respawns = true;
  /** Replicas by hostname, including dead ones until their name is reused. */
  readonly replicas = new Map<string, FakeReplica>();
  /** Names whose start should fail. */
  readonly failStarts = new Set<string>();
  /** While true, every start fails. */
  failAllStarts = false;
  /** Names another host already has: starting them is a HostnameConflictError. */
  readonly foreignNames = new Set<string>();
  /** Every start, in order. */
  readonly started: string[] = [];
  /** When each start was asked for (`performance.now()`), in order. */
  readonly startedAt: number[] = [];
  /** While true, replicas start with failing heartbeats (they never become ready). */
  startUnhealthy = false;
  #nextHost = 1;
  readonly #byHost = new Map<string, FakeReplica>();
  /** Replicas left running by an earlier balancer, for `adopt()` to report (oldest first). */
  readonly #leftovers: AdoptedReplica[] = [];

  /**
   * Starts a replica as if an earlier balancer had (its spec's ordinal 0 for a spare), for the
   * next `adopt()` to report.
   */
  async leave(spec: ReplicaSpec): Promise<void> {
    const handle = await this.start(spec);
    this.started.pop();
    this.startedAt.pop();
    this.#leftovers.push({ spec, handle });
  }

  /** Promotions the manager recorded (`promoted`), as `name=ordinal`. */
  readonly promotions: string[] = [];
  /** While true, recording a promotion fails. */
  failPromotions = false;

  /** Records a spare's promotion, as the Docker provider does with a volume. */
  promoted(handle: ReplicaHandle, ordinal: number): Promise<void> {
    if (this.failPromotions) return Promise.reject(new Error("cannot record (injected)"));
    this.promotions.push(`${handle.name}=${ordinal}`);
    return Promise.resolve();
  }

  #joins?: (found: AdoptedReplica) => boolean;
  #leading?: () => void;

  /** Keeps the manager's listener for taking the reconciler lease. */
  onLeading(listener: () => void): void {
    this.#leading = listener;
  }

  /** As if this balancer took the reconciler lease (set `respawns` first). */
  lead(): void {
    this.#leading?.();
  }

  /** Keeps the manager's listener for replicas that other balancers start. */
  watchJoins(listener: (found: AdoptedReplica) => boolean): void {
    this.#joins = listener;
  }

  /**
   * Starts a replica as if another balancer sharing this provider had, and offers it to the
   * manager (`watchJoins`); resolves to whether the manager took it.
   */
  async appear(spec: ReplicaSpec): Promise<boolean> {
    const handle = await this.start(spec);
    this.started.pop();
    this.startedAt.pop();
    return this.#joins?.({ spec, handle }) ?? false;
  }

  /** The replicas left by {@linkcode leave}, once. */
  adopt(): Promise<AdoptedReplica[]> {
    return Promise.resolve(this.#leftovers.splice(0));
  }

  /** Starts an in-memory replica. */
  start(spec: ReplicaSpec): Promise<ReplicaHandle> {
    this.started.push(spec.name);
    this.startedAt.push(performance.now());
    if (this.foreignNames.has(spec.name)) {
      return Promise.reject(new HostnameConflictError(`'${spec.name}' belongs to another host`));
    }
    if (this.failAllStarts || this.failStarts.has(spec.name)) {
      return Promise.reject(new Error(`cannot start '${spec.name}' (injected)`));
    }
    const host = `r${this.#nextHost++}.fake`;
    const exit = Promise.withResolvers<ReplicaExit>();
    const interrupted: ((reason: string) => void)[] = [];
    const faults: Faults = { heartbeatFail: this.startUnhealthy, delayMs: 0 };
    const replica: FakeReplica = {
      name: spec.name,
      serverId: serverIdOf(spec),
      app: createServerApp({ id: serverIdOf(spec), faults }),
      faults,
      alive: true,
      received: [],
      kill(description = "killed by SIGKILL", removed = false) {
        if (!this.alive) return;
        this.alive = false;
        exit.resolve({ description, removed });
      },
      interrupt(reason) {
        this.alive = false;
        for (const listener of interrupted) listener(reason);
      },
      resume() {
        this.alive = true;
      },
    };
    this.replicas.set(spec.name, replica);
    this.#byHost.set(host, replica);
    return Promise.resolve({
      name: spec.name,
      url: `http://${host}`,
      exited: exit.promise,
      describe: { host },
      onInterrupted(listener) {
        interrupted.push(listener);
      },
      stop() {
        replica.kill("exited with code 0");
        return Promise.resolve();
      },
    });
  }

  /** The replica called `name`; throws if there is none. */
  get(name: string): FakeReplica {
    const replica = this.replicas.get(name);
    if (!replica) throw new Error(`no fake replica '${name}'`);
    return replica;
  }

  /** Names of the live replicas. */
  alive(): string[] {
    return [...this.replicas.values()].filter((r) => r.alive).map((r) => r.name);
  }

  /** A `fetch` that delivers to the in-memory replicas and honours abort signals. */
  readonly fetch: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    const replica = this.#byHost.get(new URL(request.url).hostname);
    if (!replica?.alive) {
      throw new TypeError(
        `error sending request for url (${request.url}): client error (Connect): ` +
          `tcp connect error: Connection refused (os error 111)`,
      );
    }
    replica.received.push(`${request.method} ${new URL(request.url).pathname}`);
    if (replica.dropAfterReceive) {
      await request.arrayBuffer();
      throw new TypeError(`error sending request: ${replica.dropAfterReceive}`);
    }
    const signal = init?.signal;
    signal?.throwIfAborted();
    const aborted = new Promise<never>((_, reject) =>
      signal?.addEventListener("abort", () => reject(signal.reason), { once: true })
    );
    return await Promise.race([replica.app.fetch(request), aborted]);
  };
}

/** A logged event, as a {@linkcode recordingLogger} keeps it. */
export interface LoggedEvent {
  /** Its level. */
  readonly level: LogLevel;
  /** Its name, e.g. `replica.drain_timeout`. */
  readonly event: string;
  /** Its fields, as given. */
  readonly fields: LogFields;
}

/** A logger that keeps every event (debug and up) for the test to read. */
export function recordingLogger(): { logger: Logger; records: LoggedEvent[] } {
  const records: LoggedEvent[] = [];
  const at = (level: LogLevel) => (event: string, fields: LogFields = {}) => {
    records.push({ level, event, fields });
  };
  const logger: Logger = {
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
  };
  return { logger, records };
}

/** Waits until `condition()` is true, polling every `intervalMs`; throws after `timeoutMs`. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5_000,
  intervalMs = 5,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** The request line a {@linkcode CraftedReplica} decides on, before it reads the rest. */
export interface CraftedRequest {
  /** Method, e.g. `POST`. */
  readonly method: string;
  /** Path and query. */
  readonly target: string;
  /** Which connection it came on: 1 for the first the replica accepted. */
  readonly connection: number;
  /** Which request of its connection it is: 1 for the first. */
  readonly nth: number;
}

/**
 * What a {@linkcode CraftedReplica} does with a request:
 * - `ok`: reads it whole and answers 200 `{"message":"Hello from Server: <name>",…}`;
 * - `close`: reads it whole, then closes the connection without a word (a FIN);
 * - `reset`: resets the connection (a TCP RST) as soon as the request line is in: the
 *   request reached the replica, and the answer never comes;
 * - `stall`: reads it whole and never answers (the connection stays open until closed);
 * - `{ send }`: reads it whole and writes these bytes verbatim, one byte per character (garbage,
 *   odd framing, obs-text), then
 *   closes the connection when `close` is set, or resets it when `reset` is; a list is written
 *   part by part, 20 ms apart, so that the parts arrive in separate reads.
 */
export type CraftedAction =
  | "ok"
  | "close"
  | "reset"
  | "stall"
  | { send: string | string[]; close?: boolean; reset?: boolean };

/**
 * A replica on a raw loopback socket that misbehaves on cue, for tests of the real HTTP/1.1
 * client and the proxy's retry rules: it records every request line that reached it and
 * counts the connections it accepted; `decide` picks the action per request. Built on
 * `node:net` because only its `resetAndDestroy()` sends a real RST (Deno's `Conn.close()`
 * sends a FIN first, so the peer would see an orderly close).
 */
export class CraftedReplica {
  /** Base URL, `http://127.0.0.1:<port>`; set once `listening` resolves. */
  url = "";
  /** Resolves once it accepts connections. */
  readonly listening: Promise<void>;
  /** `METHOD target` of every request that reached it, in order. */
  readonly received: string[] = [];
  /** Bodies of the requests it read whole, in order. */
  readonly bodies: string[] = [];
  /** Header fields (`name: value` lines, as sent) of the requests it read whole, in order. */
  readonly heads: string[][] = [];
  /** Connections accepted so far. */
  connections = 0;
  /** Connections that have closed since (by either side). */
  closed = 0;
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();

  /**
   * @param name Its name in `ok` answers. @param decide What to do with each request.
   * @param host The loopback address it listens on (`::1` for IPv6).
   */
  constructor(
    readonly name: string,
    readonly decide: (request: CraftedRequest) => CraftedAction = () => "ok",
    host = "127.0.0.1",
  ) {
    this.#server = net.createServer((socket) => {
      socket.setNoDelay(true);
      this.#sockets.add(socket);
      socket.on("close", () => {
        this.#sockets.delete(socket);
        this.closed++;
      });
      socket.on("error", () => {});
      this.#serve(socket, ++this.connections).catch(() => socket.destroy());
    });
    this.listening = new Promise((resolve) => {
      this.#server.listen(0, host, () => {
        const { port } = this.#server.address() as net.AddressInfo;
        this.url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
        resolve();
      });
    });
  }

  /** A crafted replica that listens. */
  static async start(
    name: string,
    decide?: (request: CraftedRequest) => CraftedAction,
    host?: string,
  ): Promise<CraftedReplica> {
    const replica = new CraftedReplica(name, decide, host);
    await replica.listening;
    return replica;
  }

  /** Writes `bytes` on the connection accepted last, unasked (stray bytes on a kept one). */
  inject(bytes: string): void {
    [...this.#sockets].at(-1)?.write(bytes);
  }

  /** Resets (TCP RST) the connection accepted last, unasked (a kept one, say). */
  resetLast(): void {
    [...this.#sockets].at(-1)?.resetAndDestroy();
  }

  /** How many requests reached it whose line starts with `prefix` (e.g. `POST /echo`). */
  count(prefix: string): number {
    return this.received.filter((line) => line.startsWith(prefix)).length;
  }

  /** Stops listening and closes every connection; resolves once the listener is closed. */
  close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #serve(socket: net.Socket, connection: number): Promise<void> {
    const reader = new SocketReader(socket);
    for (let nth = 1;; nth++) {
      const line = await reader.line();
      if (line === undefined) return;
      const [method = "", target = ""] = line.split(" ");
      this.received.push(`${method} ${target}`);
      const action = this.decide({ method, target, connection, nth });
      if (action === "reset") {
        socket.resetAndDestroy();
        return;
      }
      const head: string[] = [];
      for (let field = await reader.line(); field; field = await reader.line()) head.push(field);
      this.heads.push(head);
      this.bodies.push(await reader.body(head));
      if (action === "close") {
        socket.destroy();
        return;
      }
      if (action === "stall") return; // the socket stays open until either side closes it
      const parts = action === "ok" ? [okAnswer(this.name)] : [action.send].flat();
      for (const [i, part] of parts.entries()) {
        if (i > 0) await new Promise((resolve) => setTimeout(resolve, 20));
        socket.write(part, "latin1"); // one byte per character: obs-text can be sent as it is
      }
      if (action !== "ok" && action.reset) {
        // A reset drops what the peer has not read yet: let it read first.
        await new Promise((resolve) => setTimeout(resolve, 20));
        socket.resetAndDestroy();
        return;
      }
      if (action !== "ok" && action.close) {
        socket.end();
        return;
      }
    }
  }
}

/** The replica app's `/home` answer as a whole HTTP/1.1 response. */
function okAnswer(name: string): string {
  const body = JSON.stringify({ message: `Hello from Server: ${name}`, status: "successful" });
  return `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`;
}

/** Lines and bodies off a `node:net` socket, read as they arrive. */
class SocketReader {
  #pending: Uint8Array = new Uint8Array(0);
  readonly #chunks: Uint8Array[] = [];
  #ended = false;
  #wake?: () => void;

  constructor(socket: net.Socket) {
    const wake = () => {
      this.#wake?.();
      this.#wake = undefined;
    };
    socket.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(chunk);
      wake();
    });
    socket.on("close", () => {
      this.#ended = true;
      wake();
    });
  }

  /** The next CRLF-terminated line, or undefined at the end of the stream. */
  async line(): Promise<string | undefined> {
    const bytes: number[] = [];
    for (;;) {
      const next = await this.#byte();
      if (next === undefined) return undefined;
      if (next === 0x0a && bytes.at(-1) === 0x0d) {
        return String.fromCharCode(...bytes.slice(0, -1));
      }
      bytes.push(next);
    }
  }

  /** The body the head announces (Content-Length or chunked), as text. */
  async body(head: string[]): Promise<string> {
    const field = (name: string) =>
      head.find((f) => f.toLowerCase().startsWith(`${name}:`))?.slice(name.length + 1).trim();
    const out: number[] = [];
    const take = async (n: number) => {
      for (let i = 0; i < n; i++) out.push((await this.#byte()) ?? 0);
    };
    if (field("transfer-encoding")?.toLowerCase() === "chunked") {
      for (let size; (size = parseInt((await this.line()) ?? "0", 16)) > 0;) {
        await take(size);
        await this.line();
      }
      while (await this.line()); // trailers, up to the blank line
    } else {
      await take(Number(field("content-length") ?? 0));
    }
    return new TextDecoder().decode(new Uint8Array(out));
  }

  async #byte(): Promise<number | undefined> {
    while (this.#pending.length === 0) {
      const chunk = this.#chunks.shift();
      if (chunk) {
        this.#pending = chunk;
        break;
      }
      if (this.#ended) return undefined;
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    const byte = this.#pending[0];
    this.#pending = this.#pending.subarray(1);
    return byte;
  }
}
