/**
 * The admin API of SPEC.md: `GET /rep`, `POST /add`, `DELETE /rm`.
 *
 * @module
 */

import { createHash, timingSafeEqual } from "node:crypto";
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { getCookie, setCookie } from "hono/cookie";
import { parseScaleRequest, type ScaleKind } from "./admin_input.ts";
import { errorMessage, type Logger } from "../support/mod.ts";
import { ReplicaRequestError, type ReplicaSnapshot, ReplicaStartError } from "../cluster/mod.ts";
import { failureBody, successBody } from "../../contract/mod.ts";

/** What the admin API needs from the replica manager. */
export interface AdminBackend {
  /** The `/rep` message. */
  snapshot(): ReplicaSnapshot;
  /** Adds replicas (the named ones with `weights`, in order); see `ReplicaManager.add`. */
  add(n: number, names: readonly string[], weights?: readonly number[]): Promise<ReplicaSnapshot>;
  /** Removes replicas; see `ReplicaManager.remove`. */
  remove(n: number, names: readonly string[]): Promise<ReplicaSnapshot>;
}

/** The settings of the admin API. */
export interface AdminConfig {
  /** Largest admin request body in bytes; larger is a 413. */
  maxBodyBytes: number;
  /** When not "", `/add` and `/rm` need `Authorization: Bearer` it (`--admin-token`). */
  token: string;
  /** Where the admin API listens apart from the proxy port (`--admin-listen`), if it does. */
  listen?: { host: string; port: number };
  /** `/add` and `/rm` requests per second at most, in bursts of as many (`--admin-rate-limit`). */
  ratePerSecond: number;
}

/** Options of {@linkcode createAdminApp}. */
export interface AdminOptions extends AdminConfig {
  /** Largest `n` one `/add` or `/rm` may ask for. */
  maxBatch: number;
  /** Logger for scaling events. */
  logger: Logger;
  /** When set, `/add` and `/rm` are refused with a 400 saying this (e.g. several workers). */
  scalingOff?: string;
  /**
   * Whether a replica that fails to start is replaced (default true; not static backends, nor
   * while another balancer reconciles shared replicas): asked when it matters.
   */
  respawns?: () => boolean;
  /** Clock for the rate limit, ms. Default `performance.now`. */
  now?: () => number;
  /** `GET /explain`'s answers; none: `/explain` is not served. */
  explain?: ExplainRoutes;
  /** The `/metrics` text (Prometheus' format); none: `/metrics` is not served. */
  metrics?: () => string;
  /** The dashboard's routes, mounted at `/dashboard`; none: no dashboard. */
  dashboard?: Hono;
  /** Awaited after a successful `/add` or `/rm`, before answering (workers have the change). */
  afterChange?: () => Promise<void>;
  /** Whether clients reach the balancer over TLS (the dashboard's cookie is then `Secure`). */
  tls?: boolean;
}

/** The cookie a browser keeps the admin token in, once it opened `/dashboard?token=…`. */
const TOKEN_COOKIE = "ringlb_admin";

/** `rate` requests per second, in bursts of up to `rate` (a token bucket). */
class RateLimit {
  readonly #rate: number;
  readonly #now: () => number;
  #tokens: number;
  #at: number;

  constructor(rate: number, now: () => number) {
    this.#rate = rate;
    this.#now = now;
    this.#tokens = rate;
    this.#at = now();
  }

  /** Takes one token; false when none is left. */
  take(): boolean {
    const now = this.#now();
    this.#tokens = Math.min(this.#rate, this.#tokens + ((now - this.#at) / 1000) * this.#rate);
    this.#at = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

/** SHA-256 of `text`: equal-length values to compare in constant time. */
function digest(text: string): Uint8Array {
  return createHash("sha256").update(text).digest();
}

/** The token of an `Authorization: Bearer TOKEN` header (RFC 6750 §2.1), if it is one. */
function bearerToken(header: string | undefined): string | undefined {
  return /^Bearer +([\x21-\x7e]+) *$/i.exec(header ?? "")?.[1];
}

/**
 * The spec's `/rep` reply, byte for byte; weights other than 1, when any, in an extension field
 * beside it (`"weights": {"S5": 2}`), so clients of the spec's shape see nothing new.
 */
function repBody({ weights, ...message }: ReplicaSnapshot) {
  const body = successBody(message);
  return weights ? { ...body, weights } : body;
}

/** What `GET /explain` answers: a key's explanation, or the `n` hottest keys. */
export interface ExplainRoutes {
  /** Where the key with this query value goes, and why (`?key=K`). */
  key(value: string): object;
  /** The `n` hottest keys (`?top=N`). */
  top(n: number): object;
}

/** The admin routes as a Hono app, to mount at `/`. Other methods on its paths get a 405. */
export function createAdminApp(backend: AdminBackend, options: AdminOptions): Hono {
  const app = new Hono();
  const limit = bodyLimit({
    maxSize: options.maxBodyBytes,
    onError: (c) =>
      c.json(failureBody(`Request body is larger than ${options.maxBodyBytes} bytes`), 413),
  });

  app.get("/rep", (c) => c.json(repBody(backend.snapshot())));

  // What changes the replica set needs the token when one is set (checked in constant time,
  // so the time taken does not tell how much of a guess was right), then a free place in the
  // rate limit. /rep stays open: the assignment's contract reads it without credentials.
  const expected = options.token ? digest(options.token) : undefined;
  const rate = new RateLimit(options.ratePerSecond, options.now ?? (() => performance.now()));
  const authorize: MiddlewareHandler = async (c, next) => {
    if (expected) {
      // A header from a client, or the cookie a browser got from `/dashboard?token=…`.
      const given = bearerToken(c.req.header("authorization")) ?? getCookie(c, TOKEN_COOKIE);
      if (given === undefined || !timingSafeEqual(digest(given), expected)) {
        options.logger.debug("admin.unauthorized", { path: c.req.path });
        c.header("WWW-Authenticate", 'Bearer realm="ringlb admin"');
        return c.json(
          failureBody(`${c.req.path} needs the admin token: send Authorization: Bearer <token>`),
          401,
        );
      }
    }
    return await next();
  };
  const limitRate: MiddlewareHandler = async (c, next) => {
    if (!rate.take()) {
      c.header("Retry-After", "1");
      return c.json(
        failureBody(
          `More than ${options.ratePerSecond} /add and /rm requests per second; retry later`,
        ),
        429,
      );
    }
    return await next();
  };

  const scale = (kind: ScaleKind) => async (c: Context) => {
    if (options.scalingOff) return c.json(failureBody(options.scalingOff), 400);
    const checked = parseScaleRequest(await c.req.text(), kind, options.maxBatch);
    if (!checked.ok) return c.json(failureBody(checked.message), 400);
    const { n, hostnames, weights } = checked.value;
    try {
      const snapshot = kind === "add"
        ? await backend.add(n, hostnames, weights)
        : await backend.remove(n, hostnames);
      options.logger.info(`admin.${kind}`, { n, hostnames: hostnames.join(","), N: snapshot.N });
      await options.afterChange?.();
      return c.json(repBody(snapshot));
    } catch (error) {
      if (error instanceof ReplicaRequestError) return c.json(failureBody(error.message), 400);
      if (error instanceof ReplicaStartError) {
        const next = options.respawns?.() === false
          ? "it joins the ring once it answers its heartbeats"
          : "a replacement with a random name is being started";
        return c.json(failureBody(`${error.message}; ${next}`), 503);
      }
      options.logger.error(`admin.${kind}.failed`, { reason: errorMessage(error) });
      throw error;
    }
  };

  app.post("/add", authorize, limitRate, limit, scale("add"));
  app.delete("/rm", authorize, limitRate, limit, scale("rm"));
  const dashboard = options.dashboard;
  if (dashboard) {
    // A browser opens the dashboard once with `?token=…`: the token goes into an HttpOnly,
    // SameSite=Strict cookie for the dashboard's paths, and the URL loses it.
    app.get("/dashboard", async (c, next) => {
      const offered = c.req.query("token");
      if (offered === undefined || !expected) return await next();
      if (!timingSafeEqual(digest(offered), expected)) {
        c.header("WWW-Authenticate", 'Bearer realm="ringlb admin"');
        return c.json(failureBody("Wrong admin token"), 401);
      }
      setCookie(c, TOKEN_COOKIE, offered, {
        httpOnly: true,
        sameSite: "Strict",
        path: "/dashboard",
        // Over TLS (also when a worker relayed the request here over loopback HTTP).
        secure: options.tls === true || c.req.url.startsWith("https:"),
      });
      return c.redirect("/dashboard", 303);
    });
    app.use("/dashboard", authorize);
    app.use("/dashboard/*", authorize);
    app.route("/dashboard", dashboard);
  }
  const explain = options.explain;
  if (explain) {
    // Behind the token like /metrics: it shows the keys clients send.
    app.get("/explain", authorize, (c) => {
      const queries = c.req.queries();
      const odd = Object.entries(queries).find(([name, values]) =>
        !(name === "key" || name === "top") || values.length !== 1
      );
      if (odd) {
        return c.json(
          failureBody(
            `'${odd[0]}' ${
              odd[1].length > 1 ? "is given twice" : "is not a parameter"
            }: give one of ?key=K or ?top=N`,
          ),
          400,
        );
      }
      const key = c.req.query("key");
      const top = c.req.query("top");
      if ((key === undefined) === (top === undefined)) {
        return c.json(
          failureBody("Give one of ?key=K (where K goes) or ?top=N (the hot keys)"),
          400,
        );
      }
      if (key !== undefined) {
        if (!/^[\x21-\x7e]{1,200}$/.test(key)) {
          return c.json(failureBody("'key' must be 1 to 200 visible ASCII characters"), 400);
        }
        return c.json({ ...explain.key(key), status: "successful" });
      }
      if (!/^[1-9][0-9]{0,2}$/.test(top!) || Number(top) > 100) {
        return c.json(failureBody(`'top' must be an integer from 1 to 100, got '${top}'`), 400);
      }
      return c.json({ ...explain.top(Number(top)), status: "successful" });
    });
  }
  const metrics = options.metrics;
  if (metrics) {
    app.get(
      "/metrics",
      authorize,
      (c) => c.body(metrics(), 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" }),
    );
  }

  const allow: Record<string, string> = {
    "/rep": "GET, HEAD",
    "/add": "POST",
    "/rm": "DELETE",
    ...(metrics ? { "/metrics": "GET, HEAD" } : {}),
    ...(explain ? { "/explain": "GET, HEAD" } : {}),
  };
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
