import assert from "node:assert/strict";
import fc from "fast-check";
import { WriteBuffer, writeLatin1 } from "./write_buffer.ts";

Deno.test("writeLatin1: one byte per code unit, for ASCII and for obs-text (0x80-0xFF)", () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 300 }), fc.nat(8), (
      codes,
      at,
    ) => {
      const text = String.fromCharCode(...codes);
      const into = new Uint8Array(at + text.length + 4).fill(0xaa);
      assert.equal(writeLatin1(text, into, at), at + text.length);
      assert.deepEqual([...into.subarray(at, at + text.length)], codes);
      assert.deepEqual([...into.subarray(at + text.length)], [0xaa, 0xaa, 0xaa, 0xaa]);
    }),
  );
});

Deno.test("WriteBuffer: head and body framed together; it grows for a large message", () => {
  const out = new WriteBuffer(16);
  const body = new TextEncoder().encode("hello");
  const framed = out.frame("HTTP/1.1 200 OK\r\n\r\n", body);
  assert.equal(new TextDecoder().decode(framed), "HTTP/1.1 200 OK\r\n\r\nhello");
  const big = new Uint8Array(200_000).fill(0x41);
  const large = out.frame("h\xe9:\r\n", big); // (é as one byte, 0xE9)
  assert.equal(large.length, 5 + big.length);
  assert.deepEqual([...large.subarray(0, 5)], [0x68, 0xe9, 0x3a, 0x0d, 0x0a]);
  assert.ok(large.subarray(5).every((b) => b === 0x41));
  assert.equal(new TextDecoder().decode(out.frame("ok")), "ok");
});
