/**
 * Test doubles: an in-memory cluster of replica apps that stands in for a provider and for
 * the network, so the balancer's app, manager and health checks can be tested with
 * `app.request()` and no processes. The failover suite (tests/) uses real processes.
 *
 * @module
 */

import type { Hono } from "hono";
import { createServerApp, type Faults } from "../server/mod.ts";
import {
  HostnameConflictError,
  type Provider,
  type ReplicaExit,
  type ReplicaHandle,
  type ReplicaSpec,
} from "./provider.ts";

/** One in-memory replica. */
export interface FakeReplica {
  /** Hostname. */
  readonly name: string;
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
  /** Ends it as if killed. */
  kill(description?: string): void;
}

/**
 * A fake provider plus the `fetch` that reaches its replicas. `fetch` refuses connections to
 * dead or unknown replicas with the same TypeError shape Deno's fetch throws.
 */
export class FakeCluster implements Provider {
  /** Provider name. */
  readonly kind = "fake";
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
  #nextHost = 1;
  readonly #byHost = new Map<string, FakeReplica>();

  /** Starts an in-memory replica. */
  start(spec: ReplicaSpec): Promise<ReplicaHandle> {
    this.started.push(spec.name);
    if (this.foreignNames.has(spec.name)) {
      return Promise.reject(new HostnameConflictError(`'${spec.name}' belongs to another host`));
    }
    if (this.failAllStarts || this.failStarts.has(spec.name)) {
      return Promise.reject(new Error(`cannot start '${spec.name}' (injected)`));
    }
    const host = `r${this.#nextHost++}.fake`;
    const exit = Promise.withResolvers<ReplicaExit>();
    const faults: Faults = { heartbeatFail: false, delayMs: 0 };
    const replica: FakeReplica = {
      name: spec.name,
      app: createServerApp({ id: spec.name, faults }),
      faults,
      alive: true,
      received: [],
      kill(description = "killed by SIGKILL") {
        if (!this.alive) return;
        this.alive = false;
        exit.resolve({ description });
      },
    };
    this.replicas.set(spec.name, replica);
    this.#byHost.set(host, replica);
    return Promise.resolve({
      name: spec.name,
      url: `http://${host}`,
      exited: exit.promise,
      describe: { host },
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
