import assert from "node:assert/strict";
import {
  isFieldValueByte,
  isTchar,
  isToken,
  latin1,
  listMembers,
  parseFieldLine,
  skipQuotedString,
  trimOws,
} from "./grammar.ts";

const bytes = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));

Deno.test("grammar: tchar is exactly RFC 9110's set", () => {
  const tchars = Array.from({ length: 256 }, (_, b) => b).filter(isTchar);
  const expected = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  assert.equal(String.fromCharCode(...tchars), [...expected].sort().join(""));
  assert.ok(isToken(bytes("x-Y_1"), 0, 5));
  assert.ok(!isToken(bytes(""), 0, 0), "a token is not empty");
});

Deno.test("grammar: field values take VCHAR, obs-text, SP and HTAB, no other control", () => {
  for (let b = 0; b < 256; b++) {
    const allowed = b === 0x09 || (b >= 0x20 && b !== 0x7f);
    assert.equal(isFieldValueByte(b), allowed, `byte ${b}`);
  }
});

Deno.test("grammar: a field line is name, colon, OWS-trimmed value", () => {
  const line = bytes("Name:\t a b \t");
  assert.deepEqual(parseFieldLine(line, 0, line.length), {
    kind: "field",
    nameEnd: 4,
    valueStart: 7,
    valueEnd: 10,
    obsText: false,
  });
  const high = bytes("N: \xe9");
  assert.equal(parseFieldLine(high, 0, high.length).kind === "field", true);
  assert.deepEqual(parseFieldLine(high, 0, high.length), {
    kind: "field",
    nameEnd: 1,
    valueStart: 3,
    valueEnd: 4,
    obsText: true,
  });
});

Deno.test("grammar: refused field lines say why", () => {
  const why = (line: string) => {
    const result = parseFieldLine(bytes(line), 0, line.length);
    return result.kind === "invalid" ? result.message : "accepted";
  };
  assert.equal(why(" X: 1"), "obsolete line folding");
  assert.equal(why("\tX: 1"), "obsolete line folding");
  assert.equal(why("X : 1"), "whitespace between a header field name and its colon");
  assert.equal(why("X\t: 1"), "whitespace between a header field name and its colon");
  assert.equal(why(": 1"), "invalid header field name");
  assert.equal(why("X"), "invalid header field name");
  assert.equal(why("X(: 1"), "invalid header field name");
  assert.equal(why("X: a\x00"), "invalid character in a header field value");
  assert.equal(why("X: a\rb"), "invalid character in a header field value");
  assert.equal(why("X: a\nb"), "invalid character in a header field value");
  assert.equal(why("X:"), "accepted");
});

Deno.test("grammar: quoted strings end at an unescaped DQUOTE", () => {
  const at = (text: string) => skipQuotedString(bytes(text), 0, text.length);
  assert.equal(at('"ab"c'), 4);
  assert.equal(at('"a\\"b"'), 6);
  assert.equal(at('"\t \xe9"'), 5);
  assert.equal(at('"ab'), -1);
  assert.equal(at('"a\\'), -1);
  assert.equal(at('"a\x01"'), -1);
  assert.equal(at('"a\\\x01"'), -1);
});

Deno.test("grammar: latin1 maps each byte to one code unit, 0x80–0x9f included", () => {
  const all = Uint8Array.from({ length: 256 }, (_, b) => b);
  const text = latin1(all, 0, 256);
  assert.equal(text.length, 256);
  for (let b = 0; b < 256; b++) assert.equal(text.charCodeAt(b), b);
  assert.equal(latin1(bytes("xabcx"), 1, 4, true), "abc");
  const long = new Uint8Array(10_000).fill(0x85);
  assert.equal(latin1(long, 0, long.length), "\x85".repeat(10_000));
});

Deno.test("grammar: list members are split, trimmed of OWS only, lowercased", () => {
  assert.deepEqual(listMembers("Keep-Alive ,\tUpgrade,,x"), ["keep-alive", "upgrade", "", "x"]);
  assert.equal(trimOws(" \t\xa0a\xa0 \t"), "\xa0a\xa0", "U+00A0 (obs-text 0xa0) is not OWS");
});
