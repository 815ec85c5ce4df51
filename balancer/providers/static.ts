/**
 * Static upstreams: servers that already run (yours, or a benchmark's), routed to without
 * being started or stopped. Health checks still apply: a backend that fails them leaves the
 * ring and comes back when it answers again; nothing is respawned.
 *
 * @module
 */

import { REPLICA_NAME } from "../edge/mod.ts";
import {
  HostnameConflictError,
  type Provider,
  type ReplicaExit,
  type ReplicaHandle,
  type ReplicaSpec,
} from "./provider.ts";

/** One configured backend: the name it has in the ring and `/rep`, and its base URL. */
export interface StaticBackend {
  /** Name in the ring and in `/rep`. */
  readonly name: string;
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:18081`. */
  readonly url: string;
  /** Its share of keys on a weighted ring (`;weight=3`); 1 when absent. */
  readonly weight?: number;
}

/**
 * Parses `--backends`: comma-separated `URL` or `name=URL` items, each optionally followed by
 * `;weight=W` (a number above 0, at most 100). A URL is `http://host:port` (or `https://`),
 * without a path; its name (letters, digits, `_`, `.`, `-`) defaults to its host and port with other characters
 * as `-` (`127-0-0-1-18081`). Throws `Error` with a one-line message on a bad item or a
 * repeated name or URL.
 */
export function parseBackends(text: string): StaticBackend[] {
  const backends: StaticBackend[] = [];
  for (const item of text.split(",").map((item) => item.trim()).filter(Boolean)) {
    const [raw, ...options] = item.split(";").map((part) => part.trim());
    let weight: number | undefined;
    for (const option of options) {
      const match = /^weight=([0-9]+(?:\.[0-9]+)?)$/.exec(option);
      const value = Number(match?.[1]);
      if (!match || !(value > 0) || value > 100) {
        throw new Error(
          `'${option}' in '${item}': expected weight=W, a number above 0, at most 100`,
        );
      }
      if (weight !== undefined) throw new Error(`'${item}' gives its weight twice`);
      weight = value;
    }
    const eq = raw.indexOf("=");
    const hasName = eq > 0 && !raw.slice(0, eq).includes("/");
    const urlText = hasName ? raw.slice(eq + 1).trim() : raw;
    let url: URL;
    try {
      url = new URL(urlText);
    } catch {
      throw new Error(`'${urlText}' is not a URL (expected http://host:port)`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new Error(`'${urlText}' must be an http:// or https:// URL`);
    }
    if ((url.pathname !== "/" && url.pathname !== "") || url.search || url.hash) {
      throw new Error(`'${urlText}' must have no path or query: requests keep their own`);
    }
    if (url.username || url.password) throw new Error(`'${urlText}' must not hold credentials`);
    // Names follow the rule of every replica's (so /rm and /add can name them); an unnamed
    // backend is called after its host and port: 127.0.0.1:18081 → 127-0-0-1-18081.
    const name = hasName
      ? raw.slice(0, eq).trim()
      : url.host.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "");
    if (!REPLICA_NAME.test(name)) {
      throw new Error(
        `backend name '${name}' must be 1-63 letters, digits, '_', '.' or '-', ` +
          `starting with a letter or digit`,
      );
    }
    const base = `${url.protocol}//${url.host}`;
    if (backends.some((b) => b.name === name)) throw new Error(`backend name '${name}' twice`);
    if (backends.some((b) => b.url === base)) throw new Error(`backend ${base} twice`);
    backends.push(weight === undefined ? { name, url: base } : { name, url: base, weight });
  }
  return backends;
}

/** A {@linkcode Provider} over a fixed list of running servers. */
export class StaticProvider implements Provider {
  /** Provider name. */
  readonly kind = "static";
  /** A failed backend waits for its health checks to pass again; none is started instead. */
  readonly respawns = false;
  readonly #backends: ReadonlyMap<string, StaticBackend>;
  readonly #inUse = new Set<string>();

  /** @param backends The servers, by name (see {@linkcode parseBackends}). */
  constructor(backends: readonly StaticBackend[]) {
    this.#backends = new Map(backends.map((b) => [b.name, b]));
  }

  /** The backends' names, in configuration order. */
  names(): string[] {
    return [...this.#backends.keys()];
  }

  /**
   * "Starts" a backend: hands out its URL. Rejects with {@linkcode HostnameConflictError} for a
   * name that is not configured or already handed out (the `/add` is then refused).
   */
  start(spec: ReplicaSpec): Promise<ReplicaHandle> {
    const backend = this.#backends.get(spec.name);
    if (!backend) {
      return Promise.reject(
        new HostnameConflictError(
          `no static backend is named '${spec.name}' (--backends has ${this.names().join(", ")})`,
        ),
      );
    }
    if (this.#inUse.has(spec.name)) {
      return Promise.reject(
        new HostnameConflictError(`static backend '${spec.name}' is already in use`),
      );
    }
    this.#inUse.add(spec.name);
    const exited = Promise.withResolvers<ReplicaExit>();
    return Promise.resolve({
      name: backend.name,
      url: backend.url,
      exited: exited.promise,
      describe: { url: backend.url },
      stop: () => {
        // The server is not ours to stop: it only leaves the balancer.
        this.#inUse.delete(spec.name);
        exited.resolve({ description: "released (static backend, left running)" });
        return Promise.resolve();
      },
    });
  }
}
