/**
 * Small helpers shared by the balancer's modules.
 *
 * @module
 */

/** A timer id from `setTimeout`, whichever typings are in scope. */
export type Timer = ReturnType<typeof setTimeout>;

/** `parts` one after another in one new buffer. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  let size = 0;
  for (const part of parts) size += part.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** The message of an unknown thrown value. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The innermost cause's message: fetch wraps the real reason in "fetch failed". */
export function rootMessage(error: unknown): string {
  const messages: string[] = [];
  for (let e: unknown = error; e !== undefined; e = e instanceof Error ? e.cause : undefined) {
    messages.push(errorMessage(e));
    if (messages.length > 10) break;
  }
  return messages.join(": ");
}

/** Resolves after `ms` milliseconds, or at once when `signal` aborts. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * `defaults` overridden by the options that are set: unlike `{ ...defaults, ...options }`,
 * an option present but `undefined` keeps its default.
 */
export function withDefaults<D extends object, O extends object>(defaults: D, options: O): D & O {
  const result = { ...defaults } as Record<string, unknown>;
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined) result[key] = value;
  }
  return result as D & O;
}

/** The lines of a UTF-8 stream, without their line ends (the last may have had none). */
export async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffered = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffered += chunk;
    let newline;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      yield buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
    }
  }
  if (buffered) yield buffered;
}

/** Work run one piece at a time, in the order it was given; a failure is reported, then the next runs. */
export class SerialQueue {
  #tail: Promise<void> = Promise.resolve();

  /** @param onError Told of each piece that failed. */
  constructor(readonly onError: (error: unknown) => void) {}

  /** Runs `work` after everything given before it. */
  run(work: () => Promise<void> | void): void {
    this.#tail = this.#tail.then(work).catch(this.onError);
  }

  /** Resolves once everything given so far has run. */
  get idle(): Promise<void> {
    return this.#tail;
  }
}
