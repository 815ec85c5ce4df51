/**
 * A lease on the Docker engine: which one of several balancers sharing an owner label
 * reconciles its replicas (replaces the dead, keeps spares, removes what is left over).
 *
 * The lease is a container named `<owner>-lease` whose only process reads its stdin until
 * end of file, created with `AutoRemove`. Creating it is the atomic step (the engine answers
 * 409 to everyone else: names are unique); the holder then attaches to its stdin and starts
 * it. The container lives exactly as long as the holder's attach connection: when the holder
 * exits or is killed, the kernel closes the connection, the process sees end of file, the
 * container ends and is removed, and its `destroy` event tells the others to try. So there is
 * no expiry to renew and no clock to trust, which is why a container and not a labelled volume
 * (volume labels cannot change, so an expiry could not be renewed) or a swarm config (needs a
 * swarm). What this lease does not cover: a holder that hangs without exiting keeps it.
 *
 * @module
 */

import { type DockerClient, DockerError } from "./client.ts";
import { errorMessage, type Logger } from "../../support/mod.ts";

/** Label on the lease container: the owner whose replicas its holder reconciles. */
export const LEASE_LABEL = "ringlb.lease";
/** Label on the lease container: who holds it (hostname and pid), for people reading `docker ps`. */
export const HOLDER_LABEL = "ringlb.holder";

/** Options of a {@linkcode DockerLease}. */
export interface DockerLeaseOptions {
  /** Engine API client. */
  client: DockerClient;
  /** The owner label value the lease is for. */
  owner: string;
  /** An image whose entrypoint runs `deno` (the replica image). */
  image: string;
  /** Who holds it, for `docker ps`: e.g. `host:pid`. */
  holder: string;
  /** Logger. */
  logger: Logger;
}

/** The reconciler lease of one owner label; see the module's documentation. */
export class DockerLease {
  /** The lease container's name. */
  readonly name: string;
  readonly #options: DockerLeaseOptions;
  #conn?: Deno.Conn;
  #lost?: Promise<void>;

  /** @param options Client, owner, image and holder name. No I/O until {@linkcode acquire}. */
  constructor(options: DockerLeaseOptions) {
    this.#options = options;
    this.name = `${options.owner}-lease`;
  }

  /** Whether this process holds the lease. */
  get held(): boolean {
    return this.#conn !== undefined;
  }

  /**
   * Resolves once a held lease is lost (the engine closed the attach connection: it restarted,
   * or someone removed the container). Undefined while not held.
   */
  get lost(): Promise<void> | undefined {
    return this.#lost;
  }

  /**
   * Tries to take the lease: true when this process holds it now, false when another does.
   * Rejects when the engine fails otherwise.
   */
  async acquire(): Promise<boolean> {
    if (this.#conn) return true;
    const { client, holder, logger } = this.#options;
    let id: string;
    try {
      id = await this.#create();
    } catch (error) {
      if (!(error instanceof DockerError && error.status === 409)) throw error;
      // Held, unless it never ran: a holder that died between creating and starting it
      // leaves a container that AutoRemove never removes. Remove that one, by id, and retry.
      const stale = await client.inspectContainer(this.name).catch(() => undefined);
      if (!stale || stale.State.Status !== "created" || !this.#old(stale.Created)) return false;
      await client.removeContainer(stale.Id).catch(() => {});
      logger.warn("lease.stale_removed", { lease: this.name });
      try {
        id = await this.#create();
      } catch (again) {
        if (again instanceof DockerError && again.status === 409) return false;
        throw again;
      }
    }
    try {
      // Attach before start: the process must never run without its holder's connection.
      const conn = await client.attachStdin(id);
      await client.startContainer(id);
      this.#conn = conn;
      this.#lost = this.#watch(conn);
      logger.info("lease.acquired", { lease: this.name, holder });
      return true;
    } catch (error) {
      await client.removeContainer(id).catch(() => {});
      throw new Error(`cannot hold the lease '${this.name}': ${errorMessage(error)}`);
    }
  }

  /** Whether a lease created at `created` (RFC 3339) is older than any start takes. */
  #old(created: string): boolean {
    return Date.now() - Date.parse(created) > 30_000;
  }

  #create(): Promise<string> {
    const { client, owner, image, holder } = this.#options;
    return client.createContainer(this.name, {
      Image: image,
      Cmd: ["eval", "for await (const _ of Deno.stdin.readable);"],
      User: "deno",
      Labels: { [LEASE_LABEL]: owner, [HOLDER_LABEL]: holder },
      OpenStdin: true,
      StdinOnce: true,
      AttachStdin: true,
      NetworkDisabled: true,
      HostConfig: { AutoRemove: true },
    });
  }

  /** Gives the lease up (closes the connection; the container ends and is removed). */
  release(): void {
    const conn = this.#conn;
    this.#conn = undefined;
    try {
      conn?.close();
    } catch {
      // already closed
    }
  }

  /** Reads the attach connection until the engine ends it. */
  async #watch(conn: Deno.Conn): Promise<void> {
    const buffer = new Uint8Array(512);
    try {
      while ((await conn.read(buffer)) !== null) {
        // The container writes nothing back; nothing to do with whatever arrives.
      }
    } catch {
      // closed by release(), or reset
    }
    if (this.#conn === conn) {
      this.#conn = undefined;
      this.#options.logger.warn("lease.lost", { lease: this.name });
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
  }
}
