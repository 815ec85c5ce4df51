/**
 * The chunked decoder, rule by rule: one named case per accepted and refused shape. Every case
 * is also decoded fed whole, split at every byte, and one byte at a time: the same body, the
 * same trailers and the same end.
 */

import assert from "node:assert/strict";
import { ChunkedDecoder, type ChunkedLimits, DEFAULT_CHUNKED_LIMITS } from "./chunked.ts";

const bytes = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));
const text = (data: Uint8Array) => String.fromCharCode(...data);

/** What decoding a byte stream came to. */
interface Outcome {
  body: string;
  end: "done" | "error" | "incomplete";
  /** Bytes used, for "done". */
  consumed: number;
  trailers: [string, string][];
  /** Data events seen (checks that nothing is copied: each is a range of the input). */
  slices: number;
}

/**
 * Decodes `raw` as it arrives in pieces ending at `cuts` (then at its end), the way a
 * connection would: the unconsumed rest is fed again with the next bytes.
 */
function decode(raw: string, cuts: number[], limits = DEFAULT_CHUNKED_LIMITS): Outcome {
  const buf = bytes(raw);
  const decoder = new ChunkedDecoder(limits);
  const outcome: Outcome = { body: "", end: "incomplete", consumed: 0, trailers: [], slices: 0 };
  let pos = 0;
  for (const arrived of [...cuts, buf.length]) {
    for (;;) {
      const event = decoder.decode(buf, pos, arrived);
      if (event.kind === "error") {
        assert.match(event.message, /^[\x20-\x7e]{5,80}$/);
        return { ...outcome, end: "error" };
      }
      pos += event.consumed;
      assert.ok(pos <= arrived, "consumed no more than was given");
      if (event.kind === "incomplete") break;
      if (event.kind === "done") {
        assert.ok(decoder.done);
        return { ...outcome, end: "done", consumed: pos, trailers: event.trailers };
      }
      assert.ok(event.from < event.to && event.to <= arrived, "a slice of what was given");
      outcome.body += text(buf.subarray(event.from, event.to));
      outcome.slices++;
    }
  }
  return outcome;
}

interface Case {
  name: string;
  raw: string;
  /** The decoded body and trailers, or "error" / "incomplete". */
  expect:
    | { body: string; trailers?: [string, string][]; consumed?: number }
    | "error"
    | "incomplete";
  limits?: ChunkedLimits;
}

const CASES: Case[] = [
  { name: "one chunk", raw: "5\r\nhello\r\n0\r\n\r\n", expect: { body: "hello" } },
  { name: "two chunks", raw: "2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n", expect: { body: "hello" } },
  { name: "no chunk at all", raw: "0\r\n\r\n", expect: { body: "" } },
  { name: "a last chunk of zeros", raw: "1\r\nx\r\n000\r\n\r\n", expect: { body: "x" } },
  {
    name: "hex digits in either case",
    raw: "a\r\n0123456789\r\nA\r\n0123456789\r\n0\r\n\r\n",
    expect: { body: "01234567890123456789" },
  },
  {
    name: "leading zeros, 16 digits",
    raw: "0000000000000005\r\nhello\r\n0\r\n\r\n",
    expect: { body: "hello" },
  },
  {
    name: "CRLF inside the data is data",
    raw: "4\r\n\r\n\r\n\r\n0\r\n\r\n",
    expect: { body: "\r\n\r\n" },
  },
  {
    name: "bytes after the body are left",
    raw: "1\r\nx\r\n0\r\n\r\nGET / HTTP/1.1\r\n",
    expect: { body: "x", consumed: 11 },
  },
  { name: "an extension name", raw: "5;a\r\nhello\r\n0\r\n\r\n", expect: { body: "hello" } },
  { name: "name=token", raw: "5;a=b-1\r\nhello\r\n0\r\n\r\n", expect: { body: "hello" } },
  {
    name: "name=quoted-string",
    raw: '5;a="b c;d"\r\nhello\r\n0\r\n\r\n',
    expect: { body: "hello" },
  },
  {
    name: "a quoted-pair and obs-text in a quoted-string",
    raw: '5;a="\\"\xe9"\r\nhello\r\n0\r\n\r\n',
    expect: { body: "hello" },
  },
  {
    name: "BWS around ; and = (SP and HTAB)",
    raw: "5 \t; a\t= b\r\nhello\r\n0\r\n\r\n",
    expect: { body: "hello" },
  },
  { name: "two extensions", raw: "5;a=b;c\r\nhello\r\n0\r\n\r\n", expect: { body: "hello" } },
  {
    name: "an extension on the last chunk",
    raw: "5\r\nhello\r\n0;end=1\r\n\r\n",
    expect: { body: "hello" },
  },
  {
    name: "trailers come back, names lowercased, values trimmed",
    raw: "5\r\nhello\r\n0\r\nX-Sum: 12 \r\nEmpty:\r\n\r\n",
    expect: { body: "hello", trailers: [["x-sum", "12"], ["empty", ""]] },
  },
  {
    name: "a size line at the limit",
    raw: `1;${"a".repeat(14)}\r\nx\r\n0\r\n\r\n`,
    limits: { maxLineBytes: 16, maxTrailerBytes: 16 },
    expect: { body: "x" },
  },
  {
    name: "a trailer section at the limit",
    raw: `0\r\nX: ${"v".repeat(9)}\r\n\r\n`,
    limits: { maxLineBytes: 16, maxTrailerBytes: 16 },
    expect: { body: "", trailers: [["x", "vvvvvvvvv"]] },
  },
  // Sizes.
  { name: "no size", raw: "\r\nhello\r\n0\r\n\r\n", expect: "error" },
  { name: "0x5", raw: "0x5\r\nhello\r\n0\r\n\r\n", expect: "error" },
  { name: "+5", raw: "+5\r\nhello\r\n0\r\n\r\n", expect: "error" },
  { name: "-5", raw: "-5\r\nhello\r\n0\r\n\r\n", expect: "error" },
  { name: "a space before the size", raw: " 5\r\nhello\r\n0\r\n\r\n", expect: "error" },
  {
    name: "a space after the size, no extension",
    raw: "5 \r\nhello\r\n0\r\n\r\n",
    expect: "error",
  },
  { name: "a tab after the size, no extension", raw: "5\t\r\nhello\r\n0\r\n\r\n", expect: "error" },
  {
    name: "17 hex digits, even zeros",
    raw: "00000000000000005\r\nhello\r\n0\r\n\r\n",
    expect: "error",
  },
  { name: "ffffffffffffffffff", raw: "ffffffffffffffffff\r\nhello\r\n0\r\n\r\n", expect: "error" },
  { name: "2^53", raw: "20000000000000\r\nhello\r\n0\r\n\r\n", expect: "error" },
  {
    name: "2^53 - 1 is a size (then waits for the data)",
    raw: "1fffffffffffff\r\nhello",
    expect: "incomplete",
  },
  // Extensions.
  { name: "; without a name", raw: "5;\r\nhello\r\n0\r\n\r\n", expect: "error" },
  { name: "= without a value", raw: "5;a=\r\nhello\r\n0\r\n\r\n", expect: "error" },
  { name: "a name that is not a token", raw: "5;a(b\r\nhello\r\n0\r\n\r\n", expect: "error" },
  { name: "a value that is not a token", raw: "5;a=\xe9\r\nhello\r\n0\r\n\r\n", expect: "error" },
  { name: "an unterminated quoted-string", raw: '5;a="b\r\nhello\r\n0\r\n\r\n', expect: "error" },
  { name: "bytes after a quoted-string", raw: '5;a="b"c\r\nhello\r\n0\r\n\r\n', expect: "error" },
  { name: "a second token after the value", raw: "5;a=b c\r\nhello\r\n0\r\n\r\n", expect: "error" },
  {
    name: "whitespace at the end of an extension",
    raw: "5;a \r\nhello\r\n0\r\n\r\n",
    expect: "error",
  },
  { name: "a control byte in an extension", raw: "5;a\x01\r\nhello\r\n0\r\n\r\n", expect: "error" },
  {
    name: "a control byte in a quoted-string",
    raw: '5;a="\x01"\r\nhello\r\n0\r\n\r\n',
    expect: "error",
  },
  // Line ends.
  { name: "bare LF after the size", raw: "5\nhello\r\n0\r\n\r\n", expect: "error" },
  { name: "bare CR in the size line", raw: "5;a\rb\r\nhello\r\n0\r\n\r\n", expect: "error" },
  { name: "data not followed by CRLF", raw: "5\r\nhelloX\r\n0\r\n\r\n", expect: "error" },
  { name: "data followed by LF only", raw: "5\r\nhello\n0\r\n\r\n", expect: "error" },
  { name: "data followed by CR and not LF", raw: "5\r\nhello\rX0\r\n\r\n", expect: "error" },
  { name: "bare LF ending the body", raw: "5\r\nhello\r\n0\n\n", expect: "error" },
  { name: "bare LF as the final blank line", raw: "5\r\nhello\r\n0\r\n\n", expect: "error" },
  // Trailers.
  { name: "a space before a trailer's colon", raw: "0\r\nX : 1\r\n\r\n", expect: "error" },
  { name: "a folded trailer", raw: "0\r\nX: a\r\n b\r\n\r\n", expect: "error" },
  { name: "NUL in a trailer", raw: "0\r\nX: a\x00b\r\n\r\n", expect: "error" },
  { name: "a trailer without colon", raw: "0\r\nXY\r\n\r\n", expect: "error" },
  // Limits and ends.
  {
    name: "a size line over the limit",
    raw: `1;${"a".repeat(15)}\r\nx\r\n0\r\n\r\n`,
    limits: { maxLineBytes: 16, maxTrailerBytes: 16 },
    expect: "error",
  },
  {
    name: "a size line over the limit, not ended yet",
    raw: `1;${"a".repeat(40)}`,
    limits: { maxLineBytes: 16, maxTrailerBytes: 16 },
    expect: "error",
  },
  {
    name: "a trailer section over the limit",
    raw: `0\r\nX: ${"v".repeat(10)}\r\n\r\n`,
    limits: { maxLineBytes: 16, maxTrailerBytes: 16 },
    expect: "error",
  },
  {
    name: "a trailer section over the limit, not ended",
    raw: `0\r\nX: ${"v".repeat(40)}`,
    limits: { maxLineBytes: 16, maxTrailerBytes: 16 },
    expect: "error",
  },
  { name: "a body cut short", raw: "5\r\nhel", expect: "incomplete" },
  { name: "no final blank line", raw: "5\r\nhello\r\n0\r\n", expect: "incomplete" },
];

for (const c of CASES) {
  const verdict = typeof c.expect === "string" ? c.expect : "decoded";
  Deno.test(`chunked: ${c.name} → ${verdict}`, () => {
    const whole = decode(c.raw, [], c.limits);
    if (typeof c.expect === "string") {
      assert.equal(whole.end, c.expect);
    } else {
      assert.equal(whole.end, "done");
      assert.equal(whole.body, c.expect.body);
      assert.deepEqual(whole.trailers, c.expect.trailers ?? []);
      assert.equal(whole.consumed, c.expect.consumed ?? c.raw.length);
    }
    const { slices: _, ...same } = whole;
    for (let k = 0; k <= c.raw.length; k++) {
      const { slices: _, ...split } = decode(c.raw, [k], c.limits);
      assert.deepEqual(split, same, `split at ${k}`);
    }
    const cuts = Array.from({ length: c.raw.length }, (_, i) => i);
    const { slices: __, ...byteByByte } = decode(c.raw, cuts, c.limits);
    assert.deepEqual(byteByByte, same, "one byte at a time");
  });
}

Deno.test("chunked: data is handed out as slices of the input, not copied", () => {
  const decoder = new ChunkedDecoder();
  const buf = bytes("5\r\nhello\r\n0\r\n\r\n");
  const first = decoder.decode(buf, 0, buf.length);
  assert.deepEqual(first, { kind: "data", from: 3, to: 8, consumed: 8 });
  assert.equal(decoder.decode(buf, 8, buf.length).kind, "done");
  assert.equal(decoder.decode(buf, buf.length, buf.length).kind, "done", "and stays done");
});

Deno.test("chunked: after an error, every call gives the same error", () => {
  const decoder = new ChunkedDecoder();
  const buf = bytes("zz\r\n");
  const first = decoder.decode(buf, 0, buf.length);
  assert.equal(first.kind, "error");
  assert.deepEqual(decoder.decode(bytes("0\r\n\r\n"), 0, 5), first);
  assert.equal(decoder.done, false);
});

Deno.test("chunked: default limits are 4 KiB lines and 8 KiB of trailers", () => {
  assert.deepEqual({ ...DEFAULT_CHUNKED_LIMITS }, { maxLineBytes: 4096, maxTrailerBytes: 8192 });
  const long = `1;${"a".repeat(4094)}\r\nx\r\n0\r\n\r\n`;
  assert.equal(decode(long, []).end, "done");
  assert.equal(decode(`1;${"a".repeat(4095)}\r\nx\r\n0\r\n\r\n`, []).end, "error");
});
