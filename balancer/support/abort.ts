/**
 * A cheap abort for the per-request path. An `AbortController` with the listeners one proxied
 * request needs (the client leaving, the replica ending, the try's own timeout, the transport's
 * connection) costs about 0.7 µs and several objects per try, because `AbortSignal` is a full
 * `EventTarget`. On that path each abort has exactly one party that reacts to it at any moment
 * (first the transport's connect, then its exchange), so one hook slot is enough.
 *
 * @module
 */

/** Aborts once; tells the one hook that is set, if any. */
export class Abort {
  #aborted = false;
  #reason: unknown = undefined;
  #hook: (() => void) | undefined = undefined;

  /** Whether it has been aborted. */
  get aborted(): boolean {
    return this.#aborted;
  }

  /** Why it was aborted (undefined until then). */
  get reason(): unknown {
    return this.#reason;
  }

  /** Aborts it (the first call only): calls the hook, with the hook removed first. */
  abort(reason: unknown = new DOMException("The operation was aborted", "AbortError")): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    const hook = this.#hook;
    this.#hook = undefined;
    hook?.();
  }

  /**
   * Sets the one hook that {@linkcode abort} calls, replacing any other (`undefined` removes
   * it). It is not called when the abort has already happened: check `aborted` first.
   */
  onAbort(hook: (() => void) | undefined): void {
    this.#hook = hook;
  }

  /** Throws the reason when aborted. */
  throwIfAborted(): void {
    if (this.#aborted) throw this.#reason;
  }

  /** An `AbortSignal` that follows this abort (for `fetch`); it takes the hook slot. */
  toSignal(): AbortSignal {
    const controller = new AbortController();
    if (this.#aborted) controller.abort(this.#reason);
    else this.onAbort(() => controller.abort(this.#reason));
    return controller.signal;
  }

  /** An abort that follows `signal` (one listener, for as long as the signal lives). */
  static following(signal: AbortSignal): Abort {
    const abort = new Abort();
    if (signal.aborted) abort.abort(signal.reason);
    else signal.addEventListener("abort", () => abort.abort(signal.reason), { once: true });
    return abort;
  }
}
