/**
 * The balancer as one Hono app: the admin API, and the proxy for every other path.
 *
 * @module
 */

import { Hono } from "hono";
import type { RoutingKey } from "../ring/mod.ts";
import { type AdminBackend, createAdminApp } from "./admin.ts";
import type { Logger } from "./logger.ts";
import { createProxy } from "./proxy.ts";
import { RetryBudget } from "./retry_budget.ts";
import type { RouteTarget } from "./replica_manager.ts";
import { failureBody } from "./responses.ts";
import { routingKeyOf } from "./routing_key.ts";
import { errorMessage } from "./util.ts";

/** What the app needs from the replica manager. */
export interface BalancerBackend extends AdminBackend {
  /** Replicas to try for a key, owner first. */
  route(key: RoutingKey, n: number): RouteTarget[];
}

/** Tunables of the app; `BalancerConfig` (config.ts) has them all with defaults. */
export interface BalancerAppOptions {
  /** Largest `n` one `/add` or `/rm` may ask for. */
  maxBatch: number;
  /** Largest admin request body, bytes. */
  maxAdminBodyBytes: number;
  /** A replica must start answering within this, ms. */
  responseTimeoutMs: number;
  /** Request bodies up to this size may be resent to the next replica. */
  retryBodyBytes: number;
  /** Query parameter with the routing key. */
  keyParam: string;
  /** Header with the routing key. */
  keyHeader: string;
  /** Logger. */
  logger: Logger;
  /** HTTP client for the proxy. Default the global `fetch`. */
  fetch?: typeof fetch;
  /** Random source for key-less requests. Default `Math.random`. */
  random?: () => number;
  /** Requests answered at once at most (then 503). */
  maxInFlight: number;
  /** All tries of one request together get this long, ms. */
  requestDeadlineMs: number;
  /** A client silent this long while sending its request body gets a 408, ms. */
  bodyTimeoutMs: number;
  /** Retries allowed per request over a 10 s window (a retry budget); 1 = no cap. */
  retryBudget: number;
}

/** Builds the balancer app. Pure: no I/O until a request arrives. */
export function createBalancerApp(backend: BalancerBackend, options: BalancerAppOptions): Hono {
  const app = new Hono();
  app.route(
    "/",
    createAdminApp(backend, {
      maxBatch: options.maxBatch,
      maxBodyBytes: options.maxAdminBodyBytes,
      logger: options.logger,
    }),
  );
  const keyOptions = {
    queryParam: options.keyParam,
    header: options.keyHeader,
    random: options.random,
  };
  app.all(
    "*",
    createProxy({
      route: (key, n) => backend.route(key, n),
      keyOf: (c) => routingKeyOf(c.req, keyOptions),
      responseTimeoutMs: options.responseTimeoutMs,
      retryBodyBytes: options.retryBodyBytes,
      logger: options.logger,
      fetch: options.fetch,
      maxInFlight: options.maxInFlight,
      requestDeadlineMs: options.requestDeadlineMs,
      bodyTimeoutMs: options.bodyTimeoutMs,
      random: options.random,
      budget: options.retryBudget < 1 ? new RetryBudget({ ratio: options.retryBudget }) : undefined,
    }),
  );
  app.onError((error, c) => {
    options.logger.error("request.failed", { path: c.req.path, reason: errorMessage(error) });
    return c.json(failureBody("Internal error in the load balancer"), 500);
  });
  return app;
}
