/**
 * Deadlines that share one timer. A proxy has a response timeout running for every request in
 * flight; a `setTimeout` and `clearTimeout` for each costs about 3.4 µs here (`deno bench`),
 * more than routing the request. Here each deadline is an entry in a set, and one timer is
 * armed for the earliest: when it fires, it expires what is due and re-arms for the next.
 * Timeouts mostly end by being removed (the answer came), and then cost a set insertion and
 * deletion. The timer is not cleared when the set empties (between two requests, often, under
 * a light load: clearing and arming it again each time cost about 4 µs a request): it is unref'd, so
 * it keeps no process waiting, and when it fires with nothing due it is simply not re-armed.
 *
 * @module
 */

import type { Timer } from "./util.ts";

/** Something with a deadline: `expire()` is called once the deadline has passed. */
export interface Expiring {
  /** When it expires, in `performance.now()` milliseconds. */
  readonly deadline: number;
  /** Called once, when the deadline has passed and it was not removed first. */
  expire(): void;
}

/** A set of {@linkcode Expiring} items served by one timer. */
export class Deadlines {
  readonly #items = new Set<Expiring>();
  readonly #now: () => number;
  #timer: Timer | undefined;
  /** When the timer fires; Infinity when none is armed. */
  #armedAt = Infinity;

  /** @param now The clock, ms. Default `performance.now`. */
  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  /** Items waiting for their deadline. */
  get size(): number {
    return this.#items.size;
  }

  /** Whether its timer is armed (while items wait, and possibly a while after; unref'd). */
  get armed(): boolean {
    return this.#timer !== undefined;
  }

  /** Starts `item`'s clock: it expires at `item.deadline` unless {@linkcode delete}d first. */
  add(item: Expiring): void {
    this.#items.add(item);
    if (item.deadline < this.#armedAt) this.#arm(item.deadline);
  }

  /** Stops `item`'s clock. The timer stays armed; it re-arms itself only while items wait. */
  delete(item: Expiring): void {
    this.#items.delete(item);
  }

  #arm(at: number): void {
    clearTimeout(this.#timer);
    this.#armedAt = at;
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, at - this.#now()));
    // Items waiting are requests in flight, whose sockets keep the process alive anyway.
    Deno.unrefTimer(this.#timer);
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedAt = Infinity;
    const now = this.#now();
    let next = Infinity;
    // (Deleting the current entry while iterating a Set is safe; what `expire` adds is visited.)
    for (const item of this.#items) {
      if (item.deadline <= now) {
        this.#items.delete(item);
        item.expire();
      } else if (item.deadline < next) next = item.deadline;
    }
    if (next < this.#armedAt) this.#arm(next);
  }
}
