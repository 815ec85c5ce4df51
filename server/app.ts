/**
 * The backend replica as a Hono app: `GET /home`, `GET /heartbeat`, and a JSON 404.
 *
 * @module
 */

import { Hono } from "hono";
import { failureBody, successBody, unknownEndpoint } from "../contract/mod.ts";

/**
 * Faults a test can inject into a running replica. The app reads the object on every
 * request, so flipping a field takes effect at once.
 */
export interface Faults {
  /** `/heartbeat` answers 500 instead of 200. */
  heartbeatFail: boolean;
  /** Every reply but `/heartbeat`'s is delayed by this many milliseconds. */
  delayMs: number;
}

/** What a replica app is built from. */
export interface ServerAppOptions {
  /** The replica's identity, shown in `/home` (`SERVER_ID`). */
  id: string;
  /** Injected faults; none by default. */
  faults?: Faults;
}

/** Builds the replica app of SPEC.md. Pure: no I/O until a request arrives. */
export function createServerApp(options: ServerAppOptions): Hono {
  const faults = options.faults ?? { heartbeatFail: false, delayMs: 0 };
  const app = new Hono();

  // A slow replica that still looks healthy: heartbeats are not delayed.
  app.use(async (c, next) => {
    if (faults.delayMs > 0 && c.req.path !== "/heartbeat") {
      await new Promise((resolve) => setTimeout(resolve, faults.delayMs));
    }
    await next();
  });

  app.get(
    "/home",
    (c) => c.json(successBody(`Hello from Server: ${options.id}`)),
  );

  app.get("/heartbeat", (c) => {
    if (faults.heartbeatFail) return c.body(null, 500);
    return c.body(null, 200);
  });

  app.notFound((c) => c.json(failureBody(unknownEndpoint(c.req.path)), 404));

  return app;
}
