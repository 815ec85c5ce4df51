/**
 * The hottest routing keys, in fixed memory: the Space-Saving sketch (Metwally, Agrawal and
 * El Abbadi, 2005) over a sliding window.
 *
 * Space-Saving keeps `capacity` counters. A key already counted is incremented; a new key takes
 * a free counter, or else the counter with the smallest count, inheriting that count as its
 * possible overestimate (`error`). Any key seen more than `total / capacity` times is sure to be
 * counted, and a counted key's true count lies in `[count - error, count]`. The counters sit in
 * a binary min-heap keyed by count (each counter knows its place), so an observation costs a
 * map lookup and O(log capacity) swaps, and nothing is allocated once the sketch is full — it
 * runs once per proxied request.
 *
 * Sampled: one request in `sampleEvery` (8) is counted and the counts are scaled up, so a count
 * is an estimate (±`sampleEvery` per observation), not exact.
 *
 * The window: two sketches, the current and the previous one, each covering `windowMs / 2`;
 * when the current one is older than that, it becomes the previous one and a new one starts.
 * The top keys are read from both (counts added), over the time they cover.
 *
 * Written here rather than taken from a package: it is a few dozen lines, on the request path,
 * and the ones on npm allocate per observation or lack the error bound.
 *
 * @module
 */

import type { RoutingKey } from "../../ring/mod.ts";

/** One counted key. */
interface Counter {
  key: RoutingKey;
  count: number;
  /** How much of `count` may belong to keys it replaced. */
  error: number;
  /** Its place in the heap (kept here: a map update per swap would cost more). */
  at: number;
}

/** A Space-Saving sketch over a fixed number of counters. */
export class SpaceSaving {
  /** Counters in heap order: `heap[0]` has the smallest count. */
  readonly #heap: Counter[] = [];
  /** Each counted key's counter. */
  readonly #counters = new Map<RoutingKey, Counter>();
  /** Observations so far. */
  total = 0;

  /** @param capacity Counters kept (memory is O(capacity)). */
  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    }
  }

  /** Counts one occurrence of `key`. */
  observe(key: RoutingKey): void {
    this.total++;
    const heap = this.#heap;
    const counter = this.#counters.get(key);
    if (counter !== undefined) {
      counter.count++;
      this.#down(counter.at);
      return;
    }
    if (heap.length < this.capacity) {
      const added = { key, count: 1, error: 0, at: heap.length };
      heap.push(added);
      this.#counters.set(key, added);
      this.#up(added.at);
      return;
    }
    // Full: the key takes over the smallest counter (reused, not reallocated).
    const least = heap[0];
    this.#counters.delete(least.key);
    least.error = least.count;
    least.count++;
    least.key = key;
    this.#counters.set(key, least);
    this.#down(0);
  }

  /** The counted keys, most counted first. */
  entries(): { key: RoutingKey; count: number; error: number }[] {
    return this.#heap.map(({ key, count, error }) => ({ key, count, error }))
      .sort((a, b) => b.count - a.count || String(a.key).localeCompare(String(b.key)));
  }

  /** Forgets everything. */
  clear(): void {
    this.#heap.length = 0;
    this.#counters.clear();
    this.total = 0;
  }

  #up(i: number): void {
    const heap = this.#heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent].count <= heap[i].count) return;
      this.#swap(i, parent);
      i = parent;
    }
  }

  #down(i: number): void {
    const heap = this.#heap;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) return;
      const right = left + 1;
      const child = right < heap.length && heap[right].count < heap[left].count ? right : left;
      if (heap[i].count <= heap[child].count) return;
      this.#swap(i, child);
      i = child;
    }
  }

  #swap(i: number, j: number): void {
    const heap = this.#heap;
    const a = heap[i];
    heap[i] = heap[j];
    heap[j] = a;
    heap[i].at = i;
    a.at = j;
  }
}

/** A hot key as reported: its count over the window, and its rate. */
export interface HotKey {
  /** The routing key. */
  key: RoutingKey;
  /** Times seen in the window (an upper bound: see `error`). */
  count: number;
  /** How much of `count` may belong to other keys (Space-Saving's overestimate). */
  error: number;
  /** `count` per second of the window. */
  perSecond: number;
}

/** Where hot keys are read from: one sketch, or several processes' together. */
export interface HotKeySource {
  /** The window the counts cover, ms. */
  readonly windowMs: number;
  /** The `n` hottest keys as of `now`, hottest first. */
  top(n: number, now: number): HotKey[];
}

/**
 * Several lists of hot keys as one (the control plane's and its workers'): the counts, errors
 * and rates of a key added up, hottest first, `n` at most. A key's true total is at least
 * `count - error`; it is at most `count` when every list that saw the key still holds it, and
 * may exceed it by a list's smallest count where one lost it (a key that is hot across
 * processes is held by each of them).
 */
export function mergeHotKeys(lists: readonly (readonly HotKey[])[], n: number): HotKey[] {
  const merged = new Map<RoutingKey, HotKey>();
  for (const list of lists) {
    for (const { key, count, error, perSecond } of list) {
      const seen = merged.get(key);
      if (seen) {
        seen.count += count;
        seen.error += error;
        seen.perSecond = Math.round((seen.perSecond + perSecond) * 100) / 100;
      } else merged.set(key, { key, count, error, perSecond });
    }
  }
  return [...merged.values()]
    .sort((a, b) => b.count - a.count || String(a.key).localeCompare(String(b.key)))
    .slice(0, n);
}

/** Options of {@linkcode HotKeys}. */
export interface HotKeysOptions {
  /** Counters per half-window. Default 128. */
  capacity?: number;
  /** The sliding window, ms. Default 60 000. */
  windowMs?: number;
  /**
   * Count one request in this many, and scale the counts up (default 8): counting every request
   * costs 0.1–0.4 µs (`deno bench`, random string keys the worst), one in 8 about 40 ns, and a
   * key above 1/128 of the traffic stays in sight. 1 counts exactly (tests).
   */
  sampleEvery?: number;
}

/** The hottest routing keys over a sliding window; see the module's documentation. */
export class HotKeys implements HotKeySource {
  /** The sliding window, ms. */
  readonly windowMs: number;
  /** One request in this many is counted (see {@linkcode HotKeysOptions.sampleEvery}). */
  readonly sampleEvery: number;
  #skipped = 0;
  readonly #half: number;
  #current: SpaceSaving;
  #previous: SpaceSaving;
  #currentSince = Number.NEGATIVE_INFINITY;
  #previousSince = Number.NEGATIVE_INFINITY;

  /** @param options Counters and window. */
  constructor(options: HotKeysOptions = {}) {
    const capacity = options.capacity ?? 128;
    this.windowMs = options.windowMs ?? 60_000;
    this.sampleEvery = options.sampleEvery ?? 8;
    if (!Number.isInteger(this.sampleEvery) || this.sampleEvery < 1) {
      throw new RangeError(`sampleEvery must be a positive integer, got ${this.sampleEvery}`);
    }
    this.#half = this.windowMs / 2;
    this.#current = new SpaceSaving(capacity);
    this.#previous = new SpaceSaving(capacity);
  }

  /** Counts one request with `key`, at `now` (ms, `performance.now()`'s clock): one in `sampleEvery`. */
  observe(key: RoutingKey, now: number): void {
    if (++this.#skipped < this.sampleEvery) return;
    this.#skipped = 0;
    if (now - this.#currentSince >= this.#half) this.#rotate(now);
    this.#current.observe(key);
  }

  /** The `n` hottest keys as of `now`, hottest first. */
  top(n: number, now: number): HotKey[] {
    if (now - this.#currentSince >= this.#half) this.#rotate(now);
    const merged = new Map<RoutingKey, { count: number; error: number }>();
    for (const sketch of [this.#previous, this.#current]) {
      for (const { key, count, error } of sketch.entries()) {
        const seen = merged.get(key);
        if (seen) {
          seen.count += count;
          seen.error += error;
        } else merged.set(key, { count, error });
      }
    }
    const since = Number.isFinite(this.#previousSince) ? this.#previousSince : this.#currentSince;
    const seconds = Math.max((now - since) / 1000, 1);
    const scale = this.sampleEvery;
    return [...merged].map(([key, { count, error }]) => ({
      key,
      count: count * scale,
      error: error * scale,
      perSecond: Math.round((count * scale / seconds) * 100) / 100,
    })).sort((a, b) => b.count - a.count || String(a.key).localeCompare(String(b.key)))
      .slice(0, n);
  }

  #rotate(now: number): void {
    // Two halves or more went by without a request: both are stale.
    const stale = now - this.#currentSince >= 2 * this.#half;
    const old = this.#previous;
    old.clear();
    this.#previous = stale ? old : this.#current;
    this.#previousSince = stale ? Number.NEGATIVE_INFINITY : this.#currentSince;
    this.#current = stale ? this.#current : old;
    if (stale) this.#current.clear();
    this.#currentSince = now;
  }
}
