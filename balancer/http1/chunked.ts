/**
 * A strict, incremental decoder of the chunked transfer coding (RFC 9112 §7.1), for request
 * and response bodies alike. It is fed byte ranges of the caller's buffer and answers one
 * typed event per call: a slice of data (indices into that buffer, nothing copied), a need
 * for more bytes, the end with its trailers, or an error to close the connection on.
 *
 * @module
 */

import {
  CR,
  findLf,
  latin1,
  LF,
  parseFieldLine,
  skipOws,
  skipQuotedString,
  skipToken,
} from "./grammar.ts";

/** Bounds on the framing bytes a body may carry. */
export interface ChunkedLimits {
  /** Longest chunk-size line with its extensions, bytes without CRLF. */
  maxLineBytes: number;
  /** Largest trailer section, its blank line included. */
  maxTrailerBytes: number;
}

/** 4 KiB chunk-size lines, 8 KiB of trailers. */
export const DEFAULT_CHUNKED_LIMITS: Readonly<ChunkedLimits> = Object.freeze({
  maxLineBytes: 4 * 1024,
  maxTrailerBytes: 8 * 1024,
});

/**
 * One step of decoding. `consumed` counts the bytes used from the `start` given (framing and
 * data); the caller feeds the rest again, with more bytes after it.
 */
export type ChunkedEvent =
  /** Body bytes: `buf[from, to)`. */
  | { kind: "data"; from: number; to: number; consumed: number }
  /** Nothing more to decode until more bytes arrive. */
  | { kind: "incomplete"; consumed: number }
  /** The last chunk and the trailer section: the body is complete. */
  | { kind: "done"; consumed: number; trailers: [string, string][] }
  /** Malformed framing; the stream cannot be trusted past it. */
  | { kind: "error"; message: string };

type State = "size" | "data" | "crlf" | "trailer" | "done" | "failed";

/** The largest chunk size taken: 2^53 - 1, counted exactly by a number. */
const MAX_SIZE_DIGITS = 16;

/** Decodes one chunked body; make one per message. */
export class ChunkedDecoder {
  readonly #limits: Readonly<ChunkedLimits>;
  #state: State = "size";
  /** Data bytes left in the current chunk. */
  #remaining = 0;
  #trailers: [string, string][] = [];
  #trailerBytes = 0;
  #error = "";

  /** A decoder at the start of a body; `limits` bound its lines and trailers. */
  constructor(limits: Readonly<ChunkedLimits> = DEFAULT_CHUNKED_LIMITS) {
    this.#limits = limits;
  }

  /** Whether the body has been decoded to its end. */
  get done(): boolean {
    return this.#state === "done";
  }

  /** Decodes from `buf[start, end)` up to the next event. */
  decode(buf: Uint8Array, start: number, end: number): ChunkedEvent {
    let pos = start;
    for (;;) {
      switch (this.#state) {
        case "size": {
          const max = this.#limits.maxLineBytes;
          const lf = findLf(buf, pos, Math.min(end, pos + max + 2));
          if (lf < 0) {
            if (end - pos > max + 1) return this.#fail("chunk size line too long");
            return { kind: "incomplete", consumed: pos - start };
          }
          if (lf === pos || buf[lf - 1] !== CR) return this.#fail(BARE_LINE_END);
          const size = chunkSize(buf, pos, lf - 1);
          if (typeof size === "string") return this.#fail(size);
          pos = lf + 1;
          this.#remaining = size;
          this.#state = size === 0 ? "trailer" : "data";
          break;
        }
        case "data": {
          if (pos === end) return { kind: "incomplete", consumed: pos - start };
          const to = Math.min(end, pos + this.#remaining);
          this.#remaining -= to - pos;
          if (this.#remaining === 0) this.#state = "crlf";
          return { kind: "data", from: pos, to, consumed: to - start };
        }
        case "crlf": {
          if (pos < end && buf[pos] !== CR) return this.#fail(NO_CRLF);
          if (end - pos < 2) return { kind: "incomplete", consumed: pos - start };
          if (buf[pos + 1] !== LF) return this.#fail(NO_CRLF);
          pos += 2;
          this.#state = "size";
          break;
        }
        case "trailer": {
          const budget = this.#limits.maxTrailerBytes - this.#trailerBytes;
          const lf = findLf(buf, pos, Math.min(end, pos + budget));
          if (lf < 0) {
            if (end - pos >= budget) return this.#fail("trailer section too large");
            return { kind: "incomplete", consumed: pos - start };
          }
          if (lf === pos || buf[lf - 1] !== CR) return this.#fail(BARE_LINE_END);
          this.#trailerBytes += lf + 1 - pos;
          if (lf - 1 === pos) {
            this.#state = "done";
            return { kind: "done", consumed: lf + 1 - start, trailers: this.#trailers };
          }
          const field = parseFieldLine(buf, pos, lf - 1);
          if (field.kind === "invalid") return this.#fail(`trailer: ${field.message}`);
          this.#trailers.push([
            latin1(buf, pos, field.nameEnd).toLowerCase(),
            latin1(buf, field.valueStart, field.valueEnd),
          ]);
          pos = lf + 1;
          break;
        }
        case "done":
          return { kind: "done", consumed: 0, trailers: this.#trailers };
        case "failed":
          return { kind: "error", message: this.#error };
      }
    }
  }

  #fail(message: string): ChunkedEvent {
    this.#state = "failed";
    this.#error = message;
    return { kind: "error", message };
  }
}

const BARE_LINE_END = "a chunk line does not end with CRLF";
const NO_CRLF = "chunk data not followed by CRLF";
const BAD_SIZE = "invalid chunk size";
const BAD_EXTENSION = "invalid chunk extension";

/**
 * The size in `chunk-size *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )`
 * (RFC 9112 §7.1.1, BWS being SP or HTAB), or why the line is refused. Extensions are checked
 * and dropped: none is understood.
 */
function chunkSize(buf: Uint8Array, from: number, to: number): number | string {
  let size = 0;
  let i = from;
  for (; i < to; i++) {
    const digit = hexValue(buf[i]);
    if (digit < 0) break;
    size = size * 16 + digit;
  }
  if (i === from) return BAD_SIZE;
  // Past 2^53 - 1 the float is inexact, but it stays above the bound.
  if (i - from > MAX_SIZE_DIGITS || size > Number.MAX_SAFE_INTEGER) return "chunk size too large";
  while (i < to) {
    // BWS is allowed before ";" and around "=", nowhere else (not at the end).
    i = skipOws(buf, i, to);
    if (i === to || buf[i] !== 0x3b) return BAD_EXTENSION;
    i = skipOws(buf, i + 1, to);
    const nameEnd = skipToken(buf, i, to);
    if (nameEnd === i) return BAD_EXTENSION;
    i = nameEnd;
    const equals = skipOws(buf, i, to);
    if (equals < to && buf[equals] === 0x3d) {
      const value = skipOws(buf, equals + 1, to);
      const valueEnd = value < to && buf[value] === 0x22
        ? skipQuotedString(buf, value, to)
        : skipToken(buf, value, to);
      if (valueEnd <= value) return BAD_EXTENSION;
      i = valueEnd;
    }
  }
  return size;
}

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  const lower = byte | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x57 : -1;
}
