/**
 * Wires one balancer from its config: ring, health monitor, replica manager and app.
 *
 * @module
 */

import type { Hono } from "hono";
import { createRing, type Ring } from "../ring/mod.ts";
import { createBalancerApp } from "./app.ts";
import type { BalancerConfig } from "./config.ts";
import { HealthMonitor } from "./health.ts";
import type { Logger } from "./logger.ts";
import type { Provider } from "./provider.ts";
import { ReplicaManager } from "./replica_manager.ts";

/** What a balancer is built from besides its config. */
export interface BalancerDeps {
  /** Runs replicas. */
  provider: Provider;
  /** Logger. */
  logger: Logger;
  /** HTTP client for heartbeats and proxying. Default the global `fetch`. */
  fetch?: typeof fetch;
  /** Random source (hostnames, key-less requests, jitter). Default `Math.random`. */
  random?: () => number;
}

/** A wired balancer. Nothing runs until `start()`. */
export interface Balancer {
  /** The Hono app: serve it with `Deno.serve(balancer.app.fetch)`. */
  readonly app: Hono;
  /** The replica manager. */
  readonly manager: ReplicaManager;
  /** The ring requests are routed by (the manager owns its membership). */
  readonly ring: Ring;
  /**
   * Adopts the replicas of a previous run that still live (Docker), then starts as many
   * of the configured ones as are missing; resolves once they serve (rejects if one fails
   * first). Rejects at once when the provider cannot work (no Docker engine).
   */
  start(): Promise<void>;
  /** Stops every replica (unless `keepReplicas` is configured) and waits for them to end. */
  close(): Promise<void>;
}

/** Builds a balancer from a config and its dependencies. */
export function createBalancer(config: BalancerConfig, deps: BalancerDeps): Balancer {
  const { logger } = deps;
  const health = new HealthMonitor({
    intervalMs: config.heartbeatIntervalMs,
    timeoutMs: config.heartbeatTimeoutMs,
    failThreshold: config.failThreshold,
    logger,
    fetch: deps.fetch,
    random: deps.random,
  });
  const ring = createRing(config.ring);
  const manager = new ReplicaManager({
    provider: deps.provider,
    ring,
    health,
    logger,
    startTimeoutMs: config.startTimeoutMs,
    maxReplicas: config.maxReplicas,
    spares: config.spares,
    drainTimeoutMs: config.drainTimeoutMs,
    outlierErrors: config.outlierErrors,
    outlierCoolDownMs: config.outlierCoolDownMs,
    maxEjectionPercent: config.maxEjectionPercent,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    random: deps.random,
  });
  const app = createBalancerApp(manager, {
    maxBatch: config.maxReplicas,
    maxAdminBodyBytes: config.maxAdminBodyBytes,
    responseTimeoutMs: config.responseTimeoutMs,
    retryBodyBytes: config.retryBodyBytes,
    keyParam: config.keyParam,
    keyHeader: config.keyHeader,
    logger,
    fetch: deps.fetch,
    random: deps.random,
    maxInFlight: config.maxInFlight,
    requestDeadlineMs: config.requestDeadlineMs,
    bodyTimeoutMs: config.bodyTimeoutMs,
    retryBudget: config.retryBudget,
  });
  return {
    app,
    manager,
    ring,
    async start() {
      await deps.provider.init?.();
      const adopted = await manager.adopt();
      if (adopted > 0) logger.info("balancer.adopted", { replicas: adopted });
      const missing = config.replicas - adopted;
      if (missing > 0) {
        const names = config.names.filter((name) => !manager.has(name)).slice(0, missing);
        await manager.add(missing, names);
      }
    },
    close: () => manager.close({ keepReplicas: config.keepReplicas }),
  };
}
