/**
 * Why a key goes where it goes: `GET /explain?key=K` (and the dashboard's key box), and which
 * keys are hot: `GET /explain?top=N`.
 *
 * @module
 */

import {
  BoundedLoadRing,
  hashKey,
  MaglevRing,
  type Ring,
  type RoutingKey,
  SlotRing,
} from "../../ring/mod.ts";
import type { HotKey, HotKeySource } from "./hot_keys.ts";

/** A managed replica as the explanation shows it (the manager's `states()`). */
export interface ReplicaStanding {
  name: string;
  state: "starting" | "ready" | "stopping";
  spare: boolean;
  inRing: boolean;
  inFlight: number;
}

/** What an explanation is read from. */
export interface ExplainSources {
  /** The live ring (with its bounded-load wrapper, when configured). */
  ring: Ring;
  /** How the ring is described elsewhere (`/metrics`' `ringlb_ring_info`). */
  ringKind: string;
  /** The managed replicas and spares. */
  replicas(): ReplicaStanding[];
  /** How many replicas one request may try. */
  maxTries: number;
  /** The hot-key sketch, when counting. */
  hot?: HotKeySource;
  /** Clock for the sketch, ms. Default `performance.now`. */
  now?: () => number;
}

/** One replica in a key's order. */
export interface OrderEntry {
  name: string;
  /** The manager's state: `ready` serves. */
  state: string;
  /** Requests in flight to it. */
  inFlight: number;
  /** With `--bounded-load`: at its cap, so this key skips it for now. */
  atBound: boolean;
}

/** The answer of `GET /explain?key=K`. */
export interface KeyExplanation {
  /** The routing key, as the ring sees it (all digits: a number). */
  key: string;
  ring: string;
  /** Where the key hashes to: the slot ring's slot, Maglev's table entry, else the 32-bit hash. */
  hashedTo: { slot: number; of: number } | { entry: number; of: number } | { hash: number };
  /** The ring's owner of the key (load not considered), or null with an empty ring. */
  owner: string | null;
  /** The owner, then the replicas a failed try moves on to, in order. */
  order: OrderEntry[];
  /** Where a request with this key goes now (the owner, or the first under its bound). */
  routedTo: string | null;
  /** Why `routedTo`, in words. */
  why: string;
  /** Managed replicas outside the ring now (starting, failing heartbeats, ejected as outliers). */
  outOfRing: { name: string; state: string }[];
  /** The key's count in the hot-key window, when it is among the counted ones. */
  hot: HotKey | null;
}

/** Explains where `key` goes; see {@linkcode KeyExplanation}. */
export function explainKey(sources: ExplainSources, key: RoutingKey): KeyExplanation {
  const { ring } = sources;
  const inner = ring instanceof BoundedLoadRing ? ring.inner : ring;
  const order = inner.lookupN(key, sources.maxTries);
  const states = new Map(sources.replicas().map((r) => [r.name, r]));
  const cap = ring instanceof BoundedLoadRing ? ring.cap : Infinity;
  const load = (name: string) =>
    ring instanceof BoundedLoadRing ? ring.load(name) : states.get(name)?.inFlight ?? 0;
  const entries = order.map((name) => ({
    name,
    state: states.get(name)?.state ?? "unknown",
    inFlight: states.get(name)?.inFlight ?? 0,
    // (Slow start included: a member ramping up has a smaller cap.)
    atBound: ring instanceof BoundedLoadRing ? !ring.underCap(name) : false,
  }));
  // (lookupN, not lookup: a bounded ring's lookup counts a spillover, and this is no request.)
  const routedTo = ring.lookupN(key, 1)[0] ?? null;
  const owner = order[0] ?? null;
  let why: string;
  if (owner === null) why = "the ring is empty: no replica serves";
  else if (routedTo === owner) why = "its owner on the ring";
  else {
    why = `its owner '${owner}' is at its bound (${
      load(owner)
    } in flight; the cap is ${cap}, less while it ramps up in slow start): the next in order under it`;
  }
  const now = (sources.now ?? (() => performance.now()))();
  const hot = sources.hot?.top(Number.MAX_SAFE_INTEGER, now).find((k) => k.key === key) ?? null;
  return {
    key: String(key),
    ring: sources.ringKind,
    hashedTo: hashedTo(inner, key),
    owner,
    order: entries,
    routedTo,
    why,
    outOfRing: [...states.values()]
      .filter((r) => !r.spare && !r.inRing)
      .map((r) => ({ name: r.name, state: r.state })),
    hot,
  };
}

function hashedTo(ring: Ring, key: RoutingKey): KeyExplanation["hashedTo"] {
  if (ring instanceof SlotRing) return { slot: ring.slotOf(key), of: ring.slotCount };
  if (ring instanceof MaglevRing) {
    return { entry: hashKey(key) % ring.tableSize, of: ring.tableSize };
  }
  return { hash: hashKey(key) };
}

/** The answer of `GET /explain?top=N`: the hottest keys and where each goes now. */
export function hotKeys(
  sources: ExplainSources,
  n: number,
): { windowSeconds: number; top: (HotKey & { routedTo: string | null })[] } {
  const now = (sources.now ?? (() => performance.now()))();
  const top = sources.hot?.top(n, now) ?? [];
  return {
    windowSeconds: (sources.hot?.windowMs ?? 0) / 1000,
    top: top.map((k) => ({ ...k, routedTo: sources.ring.lookupN(k.key, 1)[0] ?? null })),
  };
}
