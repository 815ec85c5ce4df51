/**
 * The admin API of SPEC.md: `GET /rep`, `POST /add`, `DELETE /rm`.
 *
 * @module
 */

import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { parseScaleRequest, type ScaleKind } from "./admin_input.ts";
import { errorMessage, type Logger } from "../support/mod.ts";
import { ReplicaRequestError, type ReplicaSnapshot, ReplicaStartError } from "../cluster/mod.ts";
import { failureBody, successBody } from "../../contract/mod.ts";

/** What the admin API needs from the replica manager. */
export interface AdminBackend {
  /** The `/rep` message. */
  snapshot(): ReplicaSnapshot;
  /** Adds replicas; see `ReplicaManager.add`. */
  add(n: number, names: readonly string[]): Promise<ReplicaSnapshot>;
  /** Removes replicas; see `ReplicaManager.remove`. */
  remove(n: number, names: readonly string[]): Promise<ReplicaSnapshot>;
}

/** Options of {@linkcode createAdminApp}. */
/** The settings of the admin API (`--max-admin-body`). */
export interface AdminConfig {
  /** Largest admin request body in bytes; larger is a 413. */
  maxBodyBytes: number;
}

/** Options of {@linkcode createAdminApp}. */
export interface AdminOptions extends AdminConfig {
  /** Largest `n` one `/add` or `/rm` may ask for. */
  maxBatch: number;
  /** Logger for scaling events. */
  logger: Logger;
  /** When set, `/add` and `/rm` are refused with a 400 saying this (e.g. several workers). */
  scalingOff?: string;
  /** Whether a replica that fails to start is replaced (default true; not static backends). */
  respawns?: boolean;
}

/** The admin routes as a Hono app, to mount at `/`. Other methods on its paths get a 405. */
export function createAdminApp(backend: AdminBackend, options: AdminOptions): Hono {
  const app = new Hono();
  const limit = bodyLimit({
    maxSize: options.maxBodyBytes,
    onError: (c) =>
      c.json(failureBody(`Request body is larger than ${options.maxBodyBytes} bytes`), 413),
  });

  app.get("/rep", (c) => c.json(successBody(backend.snapshot())));

  const scale = (kind: ScaleKind) => async (c: Context) => {
    if (options.scalingOff) return c.json(failureBody(options.scalingOff), 400);
    const checked = parseScaleRequest(await c.req.text(), kind, options.maxBatch);
    if (!checked.ok) return c.json(failureBody(checked.message), 400);
    const { n, hostnames } = checked.value;
    try {
      const snapshot = kind === "add"
        ? await backend.add(n, hostnames)
        : await backend.remove(n, hostnames);
      options.logger.info(`admin.${kind}`, { n, hostnames: hostnames.join(","), N: snapshot.N });
      return c.json(successBody(snapshot));
    } catch (error) {
      if (error instanceof ReplicaRequestError) return c.json(failureBody(error.message), 400);
      if (error instanceof ReplicaStartError) {
        const next = options.respawns === false
          ? "it joins the ring once it answers its heartbeats"
          : "a replacement with a random name is being started";
        return c.json(failureBody(`${error.message}; ${next}`), 503);
      }
      options.logger.error(`admin.${kind}.failed`, { reason: errorMessage(error) });
      throw error;
    }
  };

  app.post("/add", limit, scale("add"));
  app.delete("/rm", limit, scale("rm"));

  const allow: Record<string, string> = { "/rep": "GET, HEAD", "/add": "POST", "/rm": "DELETE" };
  for (const [path, methods] of Object.entries(allow)) {
    app.all(path, (c) => {
      c.header("Allow", methods);
      return c.json(
        failureBody(`Method ${c.req.method} is not allowed on ${path} (use ${methods})`),
        405,
      );
    });
  }
  return app;
}
