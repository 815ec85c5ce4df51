/**
 * Wires one balancer from its config: ring, health monitor, replica manager and app.
 *
 * @module
 */

import type { Hono } from "hono";
import { BoundedLoadRing, createRing, describeRing, type Ring } from "../ring/mod.ts";
import {
  LoopLag,
  type MetricSources,
  ProxyMetrics,
  type ProxySnapshot,
  renderBalancerMetrics,
  startOtel,
} from "./metrics/mod.ts";
import { type BalancerApp, createBalancerApp, SocketFront } from "./edge/mod.ts";
import type { BalancerConfig } from "./config/mod.ts";
import { HealthMonitor, MirroredCluster, ReplicaManager, type TryOutcome } from "./cluster/mod.ts";
import { fetchUpstream, Http1Client, type Upstream } from "./upstream/mod.ts";
import { delay, errorMessage, type Logger } from "./support/mod.ts";
import type { Provider } from "./providers/mod.ts";
import { MAX_TRIES, type ProxyAnswer, type ProxyRequest, routingKeyOf } from "./proxy/mod.ts";
import { createDashboard, EventLog } from "./dashboard/mod.ts";
import {
  explainKey,
  type ExplainSources,
  type HotKey,
  HotKeys,
  hotKeys,
  type HotKeysOptions,
  KeyMovement,
  mergeHotKeys,
} from "./insight/mod.ts";

/**
 * How many of its hottest keys a worker sends (and the control plane takes of its own): all a
 * window can hold, two half-windows of 128 counters.
 */
export const HOT_KEYS_SENT = 256;

/** What a balancer is built from besides its config. */
export interface BalancerDeps {
  /** Runs replicas. */
  provider: Provider;
  /** Logger. */
  logger: Logger;
  /**
   * HTTP client for heartbeats and, when given, for proxying too (tests route it to
   * in-memory replicas). Default: the global `fetch` for heartbeats, the lean HTTP/1.1
   * client for proxying to `http://` replicas.
   */
  fetch?: typeof fetch;
  /** Random source (hostnames, key-less requests, jitter). Default `Math.random`. */
  random?: () => number;
  /** Whether to send metrics and a span per request over OpenTelemetry (`OTEL_DENO=true`). */
  otel?: boolean;
  /** A control plane's: called after every change of the ring's members (tell the workers). */
  onRingChange?: () => void;
  /** A control plane's: called when a replica has ended (tell the workers). */
  onReplicaEnded?: (name: string) => void;
  /** A control plane's: resolves once the workers have the latest membership. */
  workersSynced?: () => Promise<void>;
  /** A control plane's: what its workers' proxies counted, as they last sent it. */
  workerMetrics?: () => ProxySnapshot[];
  /** A control plane's: its workers' hottest keys, as they last sent them. */
  workerHotKeys?: () => HotKey[][];
  /** The hot-key sketch's settings (tests count every request: `{ sampleEvery: 1 }`). */
  hotKeys?: HotKeysOptions;
}

/** A wired balancer. Nothing runs until `start()`. */
export interface Balancer {
  /** The Hono app (admin API and proxy), for `app.request()` in tests and the admin paths. */
  readonly app: Hono;
  /** The proxy on its own, for the raw-socket front. */
  readonly proxy: (request: ProxyRequest) => Promise<ProxyAnswer>;
  /** The admin API alone, for its own listener (`--admin-listen`). */
  readonly adminApp: Hono;
  /**
   * Serves `listener`'s connections with the raw-socket front (admin paths through the app,
   * the rest straight to the proxy); the caller runs `serve()` and, on shutdown, `shutdown()`.
   */
  socketFront(listener: Deno.Listener, secure?: boolean): SocketFront;
  /** What to serve: `Deno.serve(balancer.handler)` (admin via Hono, proxy direct). */
  readonly handler: (request: Request, info?: Deno.ServeHandlerInfo) => Promise<Response>;
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
  /** Ends the dashboard's event streams (first thing on shutdown: they never end by themselves). */
  closeStreams(): void;
  /** Stops every replica (unless `keepReplicas` is configured) and waits for them to end. */
  close(): Promise<void>;
}

/** The raw-socket front for `listener`: admin paths through `app`, the rest to `proxy`. */
function socketFrontOf(
  config: BalancerConfig,
  { app, proxy, adminPaths }: Pick<BalancerApp, "app" | "proxy" | "adminPaths">,
  listener: Deno.Listener,
  secure: boolean,
  logger: Logger,
): SocketFront {
  return new SocketFront(listener, {
    proxy,
    admin: (request) => Promise.resolve(app.fetch(request)),
    isAdmin: (path) => adminPaths.has(path),
    headerTimeoutMs: config.listen.headerTimeoutMs,
    keepAliveTimeoutMs: config.listen.keepAliveTimeoutMs,
    bodyTimeoutMs: config.proxy.bodyTimeoutMs,
    maxConnections: config.listen.maxConnections,
    secure,
    logger,
  });
}

/** Builds a balancer from a config and its dependencies. */
export function createBalancer(config: BalancerConfig, deps: BalancerDeps): Balancer {
  // The dashboard shows the recent replica events: they are kept on their way to the log.
  const events = new EventLog();
  const logger = events.tee(deps.logger);
  const { cluster } = config;
  const health = new HealthMonitor({
    ...config.health,
    logger,
    fetch: deps.fetch,
    random: deps.random,
  });
  const ring = createRing(config.ring);
  // How many keys each membership change moves, against the ideal.
  const movement = new KeyMovement(ring);
  const onRingChange = () => {
    const moved = movement.measure();
    if (moved) {
      logger.info("ring.keys_moved", {
        members: `${moved.before}->${moved.after}`,
        moved: moved.moved.toFixed(4),
        ideal: moved.ideal.toFixed(4),
      });
    }
    deps.onRingChange?.();
  };
  const manager = new ReplicaManager({
    ...cluster,
    outliers: config.outliers,
    heartbeatIntervalMs: config.health.intervalMs,
    provider: deps.provider,
    ring,
    health,
    logger,
    random: deps.random,
    onRingChange,
    onReplicaEnded: deps.onReplicaEnded,
  });
  // Metrics: counted where things happen, rendered when /metrics is read (with workers' counts
  // added in, when this is their control plane).
  const proxyMetrics = new ProxyMetrics();
  const workerMetrics = deps.workerMetrics;
  const allProxies = workerMetrics
    ? () => proxyMetrics.merged(workerMetrics())
    : () => proxyMetrics;
  const lag = new LoopLag();
  const fronts: SocketFront[] = [];
  const sources: MetricSources = {
    proxy: allProxies,
    inFlight: () => allProxies().inFlight(),
    replicas: () => manager.states(),
    counts: manager.counts,
    heartbeatFailures: () => health.failures,
    ring: () => ({
      kind: describeRing(config.ring),
      members: ring.size,
      spillovers: ring instanceof BoundedLoadRing ? ring.spillovers : undefined,
    }),
    fronts: () => fronts.map((f) => ({ open: f.open, ...f.stats })),
    lag,
    movement,
    hotKeys: () => hotKeys(explaining, 10).top,
  };
  const render = () => renderBalancerMetrics(sources);
  const tracer = deps.otel ? startOtel(sources) : undefined;
  // Proxying: the lean HTTP/1.1 client for http:// replicas, fetch for the rest (https).
  const http1 = deps.fetch ? undefined : new Http1Client();
  const viaFetch = fetchUpstream(deps.fetch ?? globalThis.fetch);
  const upstream: Upstream = http1
    ? (request) =>
      request.origin.startsWith("http://") ? http1.upstream(request) : viaFetch(request)
    : viaFetch;
  // The hottest keys over the last minute, counted as requests are routed (~0.1-0.25 µs each).
  const hot = new HotKeys(deps.hotKeys);
  const workerHotKeys = deps.workerHotKeys;
  const explaining: ExplainSources = {
    ring,
    ringKind: describeRing(config.ring),
    replicas: () => manager.states(),
    maxTries: MAX_TRIES,
    // With workers, every process's keys: each counts what it routes.
    hot: workerHotKeys
      ? {
        windowMs: hot.windowMs,
        top: (n, now) => mergeHotKeys([hot.top(HOT_KEYS_SENT, now), ...workerHotKeys()], n),
      }
      : hot,
  };
  const keyOf = (value: string) =>
    routingKeyOf({
      query: (name) => name === config.proxy.keyParam ? value : undefined,
      header: () => undefined,
    }, { queryParam: config.proxy.keyParam, header: config.proxy.keyHeader });
  const dashboard = createDashboard({
    ring,
    ringKind: describeRing(config.ring),
    replicas: () => manager.states(),
    proxy: allProxies,
    events,
    explain: (value) => explainKey(explaining, keyOf(value)),
  });
  const { app, handler, proxy, adminPaths, adminApp } = createBalancerApp(manager, {
    proxy: config.proxy,
    admin: config.admin,
    maxBatch: cluster.maxReplicas,
    logger,
    upstream,
    random: deps.random,
    respawns: () => deps.provider.respawns !== false,
    metrics: { proxy: proxyMetrics, render },
    // Keys clients sent (strings); a request without one gets a random number, not counted.
    onKey: (key, now) => {
      if (typeof key === "string") hot.observe(key, now);
    },
    explain: {
      key: (value) => explainKey(explaining, keyOf(value)),
      top: (n) => hotKeys(explaining, n),
    },
    dashboard: dashboard.app,
    tracer,
    accessLog: config.accessLog,
    afterChange: deps.workersSynced,
    tls: config.listen.tlsCert !== "",
  });
  return {
    app,
    adminApp,
    handler,
    proxy,
    socketFront(listener, secure = false) {
      const front = socketFrontOf(config, { app, proxy, adminPaths }, listener, secure, logger);
      fronts.push(front);
      return front;
    },
    manager,
    ring,
    async start() {
      lag.start();
      await deps.provider.init?.();
      // (`adopt` tops the spares up on a 0 ms timer; `add` below numbers the replicas before it
      // fires, with no macrotask between, so they are 1..N and a numbered spare N+1: the
      // app suite's seed-reply test checks it.)
      const adopted = await manager.adopt();
      if (adopted > 0) logger.info("balancer.adopted", { replicas: adopted });
      const missing = cluster.replicas - adopted;
      if (missing > 0) {
        const names = cluster.names.filter((name) => !manager.has(name)).slice(0, missing);
        // Static backends' `;weight=W`.
        const weights = names.map((name) =>
          config.provider.backends.find((b) => b.name === name)?.weight ?? 1
        );
        const adding = manager.add(missing, names, weights);
        if (deps.provider.respawns !== false) {
          await adding;
          return;
        }
        // Static backends: serve once the first heartbeats are in; one that is down joins
        // when it answers (it is not replaced), so there is nothing worth waiting for. Swarm
        // services: wait for their tasks to start, up to the start timeout; one that is late
        // joins when it answers (the swarm, not the balancer, restarts it).
        adding.catch((error) =>
          logger.warn("balancer.start_degraded", { reason: errorMessage(error) })
        );
        const wait = deps.provider.kind === "static"
          ? config.health.timeoutMs + 200
          : cluster.startTimeoutMs;
        await Promise.race([adding.catch(() => {}), delay(wait)]);
      }
    },
    closeStreams() {
      dashboard.close();
    },
    async close() {
      lag.stop();
      dashboard.close();
      await manager.close({ keepReplicas: cluster.keepReplicas });
      http1?.close();
    },
  };
}

/** What a worker is built from besides its config. */
export interface WorkerDeps {
  /** Logger. */
  logger: Logger;
  /** Sends a try's outcome to the control plane (its outlier detection). */
  report(name: string, outcome: TryOutcome): void;
  /** Sends an admin request to the control plane and answers with its response. */
  relayAdmin(request: Request): Promise<Response>;
}

/** A worker: a data plane that routes by the membership its control plane sends. */
export interface WorkerBalancer {
  /** The replica set as the control plane last sent it. */
  readonly mirror: MirroredCluster;
  /** What its proxy counts (sent to the control plane, which shows the sum). */
  readonly metrics: ProxyMetrics;
  /** The keys it routes most (sent to the control plane: `/explain?top=N` counts them too). */
  readonly hot: HotKeys;
  /** What to serve with `--front serve`. */
  readonly handler: (request: Request, info?: Deno.ServeHandlerInfo) => Promise<Response>;
  /** Serves `listener` with the raw-socket front. */
  socketFront(listener: Deno.Listener, secure?: boolean): SocketFront;
  /** Closes its upstream connections. */
  close(): void;
}

/**
 * Builds a worker (`--workers N`, processes 2…N): no provider, no health checks, no outlier
 * decisions; its ring follows the control plane's (`mirror.apply`), its tries' outcomes go back,
 * and its admin paths are answered by the control plane.
 */
export function createWorkerBalancer(config: BalancerConfig, deps: WorkerDeps): WorkerBalancer {
  const { logger } = deps;
  const mirror = new MirroredCluster(createRing(config.ring), deps.report, {
    balance: config.cluster.balance,
    slowStartMs: config.cluster.slowStartMs,
  });
  const metrics = new ProxyMetrics();
  const hot = new HotKeys();
  const http1 = new Http1Client();
  const viaFetch = fetchUpstream(globalThis.fetch);
  const upstream: Upstream = (request) =>
    request.origin.startsWith("http://") ? http1.upstream(request) : viaFetch(request);
  const { app, handler, proxy, adminPaths } = createBalancerApp(mirror, {
    proxy: config.proxy,
    admin: config.admin,
    maxBatch: config.cluster.maxReplicas,
    logger,
    upstream,
    accessLog: config.accessLog,
    relayAdmin: deps.relayAdmin,
    // (Its /metrics is the control plane's, relayed: only the counting happens here.)
    metrics: { proxy: metrics, render: () => "" },
    onKey: (key, now) => {
      if (typeof key === "string") hot.observe(key, now);
    },
  });
  return {
    mirror,
    metrics,
    hot,
    handler,
    socketFront(listener, secure = false) {
      return socketFrontOf(config, { app, proxy, adminPaths }, listener, secure, logger);
    },
    close() {
      http1.close();
    },
  };
}
