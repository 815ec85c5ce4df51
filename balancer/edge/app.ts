/**
 * The balancer as one Hono app: the admin API, and the proxy for every other path.
 *
 * @module
 */

import { type Context, Hono } from "hono";
import type { RoutingKey } from "../../ring/mod.ts";
import {
  type AdminBackend,
  type AdminConfig,
  createAdminApp,
  type ExplainRoutes,
} from "./admin.ts";
import { errorMessage, type Logger } from "../support/mod.ts";
import {
  createProxy,
  type ProxyAnswer,
  type ProxyConfig,
  type ProxyRequest,
  proxyRequestOf,
  queryParam,
  responseOf,
  RetryBudget,
  routingKeyOf,
} from "../proxy/mod.ts";
import type { RouteTarget } from "../cluster/mod.ts";
import { failureBody, failureResponse, unknownEndpoint } from "../../contract/mod.ts";
import type { Upstream } from "../upstream/mod.ts";
import type { ProxyMetrics, RequestTracer } from "../metrics/mod.ts";

/** What the proxy needs: the replicas to try for a key, owner first. */
export interface RoutingBackend {
  /** Replicas to try for a key, owner first. */
  route(key: RoutingKey, n: number): RouteTarget[];
}

/** What the app needs from the replica manager. */
export interface BalancerBackend extends AdminBackend, RoutingBackend {}

/** Admin routes that send every request to `relay` (a worker's, to its control plane). */
function relayingAdmin(relay: (request: Request) => Promise<Response>): Hono {
  const app = new Hono();
  for (const path of ADMIN_PATHS) app.all(path, (c) => relay(c.req.raw));
  return app;
}

/** What the app is built from: the proxy's and the admin API's settings groups, and more. */
export interface BalancerAppOptions {
  /** The proxy's settings (`BalancerConfig.proxy`). */
  proxy: ProxyConfig;
  /** The admin API's settings (`BalancerConfig.admin`). */
  admin: AdminConfig;
  /** Largest `n` one `/add` or `/rm` may ask for (`--max-replicas`). */
  maxBatch: number;
  /** Logger. */
  logger: Logger;
  /** How the proxy reaches replicas. */
  upstream: Upstream;
  /** Random source for key-less requests and retry jitter. Default `Math.random`. */
  random?: () => number;
  /** When set, `/add` and `/rm` are refused with a 400 saying this. */
  scalingOff?: string;
  /** Whether a replica that fails to start is replaced (not for static backends): asked live. */
  respawns?: () => boolean;
  /** Told every proxied request's routing key and arrival time (`performance.now()`). */
  onKey?: (key: RoutingKey, now: number) => void;
  /** `GET /explain`'s answers; none: no `/explain`. */
  explain?: ExplainRoutes;
  /** Whether each proxied request gets an `access` line (info) in `logger`. */
  accessLog?: boolean;
  /** What the proxy counts, and the `/metrics` text; none: no metrics. */
  metrics?: { proxy: ProxyMetrics; render: () => string };
  /** The dashboard's routes (`/dashboard`); none: no dashboard. */
  dashboard?: Hono;
  /** A span per proxied request (OpenTelemetry); none: no spans. */
  tracer?: RequestTracer;
  /** A worker's: sends an admin request to the control plane and answers with its response. */
  relayAdmin?: (request: Request) => Promise<Response>;
  /** Resolves once a change `/add` or `/rm` made has reached every worker (control plane). */
  afterChange?: () => Promise<void>;
  /** Whether clients reach the balancer over TLS. */
  tls?: boolean;
}

/** The admin paths; every other path is proxied. */
export const ADMIN_PATHS: ReadonlySet<string> = new Set([
  "/rep",
  "/add",
  "/rm",
  "/metrics",
  "/explain",
  "/dashboard",
  "/dashboard/stream",
  "/dashboard/key",
]);

/** The balancer: its Hono app, and the proxy on its own for the fast path. */
export interface BalancerApp {
  /** Admin API and proxy as one Hono app (`app.request()` in tests). */
  readonly app: Hono;
  /**
   * What `Deno.serve` runs: admin paths through Hono, everything else straight to the proxy
   * (Hono's context and router cost more than the rest of a proxied request's JS).
   */
  readonly handler: (request: Request, info?: Deno.ServeHandlerInfo) => Promise<Response>;
  /** The proxy on its own, for the raw-socket front (which builds no `Request`). */
  readonly proxy: (request: ProxyRequest) => Promise<ProxyAnswer>;
  /**
   * The paths answered by the admin API on the proxy port: {@linkcode ADMIN_PATHS}, or none when
   * it listens apart (`--admin-listen`; those paths are then proxied like any other).
   */
  readonly adminPaths: ReadonlySet<string>;
  /** The admin API alone, for its own listener: any other path is a 400, as on the proxy port. */
  readonly adminApp: Hono;
}

/** The client's address when served by `Deno.serve`. */
function addressOf(info: { remoteAddr?: Deno.Addr } | undefined): string | undefined {
  const addr = info?.remoteAddr;
  return addr && "hostname" in addr ? addr.hostname : undefined;
}

/** Whether a request asks to switch protocols (`Connection: upgrade` and an `Upgrade` field). */
function isUpgrade(headers: Headers): boolean {
  const upgrade = headers.get("upgrade");
  if (!upgrade) return false;
  return (headers.get("connection") ?? "").split(",").some((token) =>
    token.trim().toLowerCase() === "upgrade"
  );
}

/** The path of a request URL, without parsing it. */
function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  const end = url.indexOf("?", start);
  return end < 0 ? url.slice(start) : url.slice(start, end);
}

/** Builds the balancer app. Pure: no I/O until a request arrives. */
export function createBalancerApp(
  backend: BalancerBackend | RoutingBackend,
  options: BalancerAppOptions,
): BalancerApp {
  const relay = options.relayAdmin;
  // A worker's admin paths are its control plane's: relayed there, not answered here.
  const admin = relay ? relayingAdmin(relay) : createAdminApp(backend as BalancerBackend, {
    ...options.admin,
    maxBatch: options.maxBatch,
    logger: options.logger,
    scalingOff: options.scalingOff,
    respawns: options.respawns,
    metrics: options.metrics?.render,
    dashboard: options.dashboard,
    explain: options.explain,
    afterChange: options.afterChange,
    tls: options.tls,
  });
  const apart = options.admin.listen !== undefined;
  const adminPaths: ReadonlySet<string> = apart ? new Set() : ADMIN_PATHS;
  const onError = (error: Error, c: Context) => {
    options.logger.error("request.failed", { path: c.req.path, reason: errorMessage(error) });
    return c.json(failureBody("Internal error in the load balancer"), 500);
  };
  const adminApp = new Hono();
  adminApp.route("/", admin);
  adminApp.notFound((c) => c.json(failureBody(unknownEndpoint(c.req.path)), 400));
  adminApp.onError(onError);
  const app = new Hono();
  if (!apart) app.route("/", admin);
  const { proxy: settings } = options;
  const keyOptions = {
    queryParam: settings.keyParam,
    header: settings.keyHeader,
    random: options.random,
  };
  const proxy = createProxy({
    ...settings,
    route: (key, n) => backend.route(key, n),
    keyOf: (headers, query) =>
      routingKeyOf({
        query: (name) => queryParam(query, name),
        header: (name) => headers.find(([field]) => field === name)?.[1],
      }, keyOptions),
    onKey: options.onKey,
    logger: options.logger,
    upstream: options.upstream,
    random: options.random,
    budget: settings.retryBudget < 1 ? new RetryBudget({ ratio: settings.retryBudget }) : undefined,
    metrics: options.metrics?.proxy,
    accessLog: options.accessLog ? options.logger : undefined,
    tracer: options.tracer,
  });
  /** A request from Deno.serve, proxied; an upgrade cannot be tunnelled from here. */
  const served = async (request: Request, client: string | undefined) => {
    if (isUpgrade(request.headers)) {
      return failureResponse(
        501,
        "Protocol upgrades (WebSocket) are tunnelled by the socket front only (--front socket)",
      );
    }
    return responseOf(await proxy(proxyRequestOf(request, client)));
  };
  app.all("*", (c) => served(c.req.raw, addressOf(c.env as { remoteAddr?: Deno.Addr })));
  app.onError(onError);
  const handler = async (request: Request, info?: Deno.ServeHandlerInfo) => {
    if (adminPaths.has(pathOf(request.url))) return await app.fetch(request, info);
    try {
      return await served(request, addressOf(info));
    } catch (error) {
      options.logger.error("request.failed", {
        path: pathOf(request.url),
        reason: errorMessage(error),
      });
      return Response.json(failureBody("Internal error in the load balancer"), { status: 500 });
    }
  };
  return { app, handler, proxy, adminPaths, adminApp };
}
