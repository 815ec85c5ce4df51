/**
 * Deadlines that share one timer. A proxy has a response timeout running for every request in
 * flight; a `setTimeout` and `clearTimeout` for each costs about 3.4 µs here (`deno bench`),
 * more than routing the request. Here each deadline is an entry in a list, and one timer is
 * armed for the earliest: when it fires, it expires what is due and re-arms for the next.
 * Timeouts mostly end by being removed (the answer came), and then cost a link and an unlink.
 *
 * Two measured choices:
 * - The entries form a doubly linked list, not a `Set`: with an entry added and deleted per
 *   request, the `Set` kept the deleted entries' objects (and the requests they point to)
 *   alive through young-generation collections: under a light load (16 connections) about
 *   300 KB were promoted at every scavenge and each took 1.5 ms, against 12 KB and 0.4 ms
 *   with the list (the balancer under `--v8-flags=--trace-gc-nvp`).
 * - The timer is not cleared when the list empties (between two requests, often, under a
 *   light load: clearing and arming it again each time cost about 4 µs a request): it is
 *   unref'd, so it keeps no process waiting, and when it fires with nothing due it is simply
 *   not re-armed.
 *
 * @module
 */

import type { Timer } from "./util.ts";

/** One deadline of a {@linkcode Deadlines}: made by `add`, handed back to `delete`. */
export class Deadline {
  /** When it expires, in the owner's clock (`performance.now()` ms by default). */
  readonly at: number;
  /** Called once, when `at` has passed and it was not deleted first. */
  readonly expire: () => void;
  /** Its neighbours while it waits (the owner's list). */
  prev: Deadline | undefined = undefined;
  next: Deadline | undefined = undefined;
  /** Whether it is still waiting: not yet expired or deleted. */
  waiting = true;

  constructor(at: number, expire: () => void) {
    this.at = at;
    this.expire = expire;
  }
}

/** Deadlines served by one timer. */
export class Deadlines {
  #head: Deadline | undefined = undefined;
  #tail: Deadline | undefined = undefined;
  #size = 0;
  readonly #now: () => number;
  #timer: Timer | undefined;
  /** When the timer fires; Infinity when none is armed. */
  #armedAt = Infinity;

  /** @param now The clock, ms. Default `performance.now`. */
  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  /** Deadlines waiting. */
  get size(): number {
    return this.#size;
  }

  /** Whether its timer is armed (while deadlines wait, and possibly a while after; unref'd). */
  get armed(): boolean {
    return this.#timer !== undefined;
  }

  /** Calls `expire` once `at` has passed, unless the deadline is {@linkcode delete}d first. */
  add(at: number, expire: () => void): Deadline {
    const entry = new Deadline(at, expire);
    entry.prev = this.#tail;
    if (this.#tail) this.#tail.next = entry;
    else this.#head = entry;
    this.#tail = entry;
    this.#size++;
    if (at < this.#armedAt) this.#arm(at);
    return entry;
  }

  /** Stops `entry`'s clock (nothing if it expired or was deleted already). */
  delete(entry: Deadline): void {
    if (!entry.waiting) return;
    entry.waiting = false;
    const { prev, next } = entry;
    if (prev) prev.next = next;
    else this.#head = next;
    if (next) next.prev = prev;
    else this.#tail = prev;
    entry.prev = entry.next = undefined;
    this.#size--;
  }

  #arm(at: number): void {
    clearTimeout(this.#timer);
    this.#armedAt = at;
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, at - this.#now()));
    // Deadlines waiting are requests in flight, whose sockets keep the process alive anyway.
    Deno.unrefTimer(this.#timer);
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedAt = Infinity;
    const now = this.#now();
    let next = Infinity;
    // (What `expire` adds goes to the tail and is visited too.)
    for (let entry = this.#head; entry;) {
      const following = entry.next;
      if (entry.at <= now) {
        this.delete(entry);
        entry.expire();
      } else if (entry.at < next) next = entry.at;
      // An `expire` may delete the entry that was to come next; then the walk starts over.
      entry = following && !following.waiting ? this.#head : following;
    }
    if (next < this.#armedAt) this.#arm(next);
  }
}
