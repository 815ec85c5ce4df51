/**
 * One connection's output buffer: a message head (text) and its body (bytes) laid out in one
 * reused buffer, for one write. A new `Uint8Array` costs about 1 µs here however small it is
 * (its backing store is allocated outside the V8 heap), a view of an existing one about 50 ns;
 * a proxied request used to allocate three.
 *
 * @module
 */

/** The largest buffer a connection keeps for its next messages. */
const MAX_KEPT_BYTES = 64 * 1024;

/**
 * Writes `text` into `into` at `at`, one byte per code unit (ISO-8859-1: header values may
 * hold obs-text, 0x80–0xFF, and a head never holds more); returns the index after it. `into`
 * must have room for `text.length` bytes.
 */
export function writeLatin1(text: string, into: Uint8Array, at: number): number {
  // A plain loop: for a head of 150 bytes it takes half the time of `TextEncoder.encodeInto`
  // (an op call, a view and a result object; `deno bench balancer/support/costs_bench.ts`).
  const n = text.length;
  for (let i = 0; i < n; i++) into[at + i] = text.charCodeAt(i);
  return at + n;
}

/**
 * A buffer reused for every message one connection writes. The view {@linkcode frame} returns
 * is valid until the next call: write it (and await the write) before framing another.
 */
export class WriteBuffer {
  #buffer: Uint8Array;

  /** @param size Bytes to start with; it doubles when a message needs more. */
  constructor(size = 4096) {
    this.#buffer = new Uint8Array(size);
  }

  /** `head` and then `body` as one view of the buffer (or of a new one, when very large). */
  frame(head: string, body?: Uint8Array): Uint8Array {
    const size = head.length + (body?.length ?? 0);
    let buffer = this.#buffer;
    if (size > buffer.length) {
      let length = buffer.length * 2;
      while (length < size) length *= 2;
      buffer = new Uint8Array(length);
      // Kept up to a limit: a connection does not hold a large buffer for one large message.
      if (length <= MAX_KEPT_BYTES) this.#buffer = buffer;
    }
    const at = writeLatin1(head, buffer, 0);
    if (body) buffer.set(body, at);
    return buffer.subarray(0, size);
  }
}
