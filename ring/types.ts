/**
 * The value a request is routed by: the assignment's numeric request id, or any string
 * (a header value, a session id). Numbers and all-digit strings are the same key.
 */
export type RoutingKey = string | number;

/** A member of a ring: a replica's hostname and its stable ordinal (1, 2, 3, …). */
export interface RingNode {
  /** The replica's hostname, unique within a ring. */
  readonly name: string;
  /**
   * The replica's server number `i` for hash functions that take one (the assignment's
   * Φ(i, j)). Stable for a hostname while it lives, unique within a ring.
   */
  readonly ordinal: number;
  /**
   * Relative capacity, a positive finite number; default 1. Rings that support weights
   * (ketama, Maglev, rendezvous: `weighted`) give a member a share of keys proportional to
   * it; the slot ring ignores it.
   */
  readonly weight?: number;
}

/**
 * A consistent-hash ring: maps routing keys to member names so that the same key keeps
 * hitting the same member, and adding or removing a member moves only the keys that
 * belong to it.
 *
 * Implementations are pure and deterministic: the same sequence of `add`/`remove`
 * calls gives the same mapping on every instance.
 */
export interface Ring {
  /** Number of members. */
  readonly size: number;
  /** Whether members' weights set their shares (false or absent: weights are ignored). */
  readonly weighted?: boolean;
  /**
   * Adds a member. Throws if its name is already present, or `RingFullError` if it cannot be
   * placed.
   */
  add(node: RingNode): void;
  /** Removes a member by name; returns whether it was present. */
  remove(name: string): boolean;
  /** Whether a member with this name is present. */
  has(name: string): boolean;
  /** The members, in the order they were added. */
  nodes(): readonly RingNode[];
  /** The member that owns `key`, or `undefined` when the ring is empty. */
  lookup(key: RoutingKey): string | undefined;
  /**
   * The first `n` distinct members clockwise from `key`'s position: the owner first, then
   * the members to fail over to, in order. Fewer than `n` when the ring has fewer members.
   */
  lookupN(key: RoutingKey, n: number): string[];
}

/** Thrown when a ring has no room left for another member's virtual nodes. */
export class RingFullError extends Error {
  /** @param message What could not be placed and why. */
  constructor(message: string) {
    super(message);
    this.name = "RingFullError";
  }
}

/**
 * A ring that routes by load as well as by key (bounded loads): the balancer tells it when a
 * request to a member starts and ends.
 */
export interface LoadAwareRing extends Ring {
  /** A request to `name` has started. */
  acquire(name: string): void;
  /** A request to `name` has ended (once per `acquire`). */
  release(name: string): void;
  /** Requests in flight to `name`. */
  load(name: string): number;
}

/** Whether `ring` wants to hear about requests starting and ending. */
export function isLoadAware(ring: Ring): ring is LoadAwareRing {
  return typeof (ring as Partial<LoadAwareRing>).acquire === "function";
}
