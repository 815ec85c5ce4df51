/**
 * The request-head parser, rule by rule: one named case per accept and per refusal (the
 * smuggling shapes among them). Every case is also parsed split at every byte: each prefix
 * gives `incomplete` or the whole head's result, and an accepted head stays `incomplete`
 * until its last byte.
 */

import assert from "node:assert/strict";
import {
  DEFAULT_HEAD_LIMITS,
  parseRequestHead,
  type RefusalStatus,
  type RequestHead,
  type RequestHeadLimits,
  type RequestHeadResult,
} from "./request_head.ts";

/** Latin-1 bytes of `text`. */
const bytes = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));

const GET = "GET / HTTP/1.1\r\nHost: a\r\n";
const POST = "POST / HTTP/1.1\r\nHost: a\r\n";

interface Case {
  name: string;
  raw: string;
  /** A refusal's status, or what the accepted head holds (the fields listed). */
  expect: RefusalStatus | Partial<RequestHead> & { consumed?: number };
  limits?: RequestHeadLimits;
}

const SMALL: RequestHeadLimits = { maxRequestLineBytes: 32, maxHeadBytes: 96, maxHeaders: 3 };

const ACCEPTED: Case[] = [
  {
    name: "a minimal GET",
    raw: `${GET}\r\n`,
    expect: {
      method: "GET",
      target: "/",
      form: "origin",
      path: "/",
      version: "1.1",
      headers: [["host", "a"]],
      framing: { kind: "none" },
      keepAlive: true,
      expectContinue: false,
      upgrade: false,
      host: "a",
      consumed: GET.length + 2,
    },
  },
  {
    name: "names lowercased, values OWS-trimmed, order and repeats kept",
    raw: `${GET}X-B: 1\r\nx-a:\t 2 \t\r\nX-B:3\r\nE:\r\nS: a \t b\r\n\r\n`,
    expect: {
      headers: [["host", "a"], ["x-b", "1"], ["x-a", "2"], ["x-b", "3"], ["e", ""], [
        "s",
        "a \t b",
      ]],
    },
  },
  {
    name: "obs-text in a value is kept byte for byte (0x80–0x9f too)",
    raw: `${GET}X: \x80\x9f\xe9\xff\r\n\r\n`,
    expect: { headers: [["host", "a"], ["x", "\x80\x9f\xe9\xff"]] },
  },
  {
    name: "one empty line before the request-line is skipped",
    raw: `\r\n${GET}\r\n`,
    expect: { method: "GET", consumed: GET.length + 4 },
  },
  { name: "four empty lines are skipped", raw: `\r\n\r\n\r\n\r\n${GET}\r\n`, expect: {} },
  {
    name: "a lowercase method is a method",
    raw: "get / HTTP/1.1\r\nHost: a\r\n\r\n",
    expect: { method: "get" },
  },
  {
    name: "a method may be any token",
    raw: "M-!#$%&'*+.^_`|~9 / HTTP/1.1\r\nHost: a\r\n\r\n",
    expect: { method: "M-!#$%&'*+.^_`|~9" },
  },
  {
    name: "HTTP/1.0 without Host: no host, not kept alive",
    raw: "GET /x HTTP/1.0\r\n\r\n",
    expect: { version: "1.0", host: undefined, keepAlive: false },
  },
  {
    name: "HTTP/1.0 with Connection: keep-alive is kept alive",
    raw: "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
    expect: { keepAlive: true },
  },
  {
    name: "Connection: close",
    raw: `${GET}Connection: close\r\n\r\n`,
    expect: { keepAlive: false },
  },
  {
    name: "Connection: close wins over keep-alive, in any case and field",
    raw: `${GET}Connection: keep-alive\r\nConnection: foo, Close\r\n\r\n`,
    expect: { keepAlive: false },
  },
  {
    name: "a connection option that only contains close is not close",
    raw: `${GET}Connection: xclose\r\n\r\n`,
    expect: { keepAlive: true },
  },
  {
    name: "Content-Length frames the body",
    raw: `${POST}Content-Length: 5\r\n\r\nhello`,
    expect: { framing: { kind: "length", length: 5 }, consumed: POST.length + 21 },
  },
  {
    name: "Content-Length with leading zeros and OWS",
    raw: `${POST}Content-Length:\t007 \r\n\r\n`,
    expect: { framing: { kind: "length", length: 7 } },
  },
  {
    name: "Content-Length of 15 digits",
    raw: `${POST}Content-Length: 999999999999999\r\n\r\n`,
    expect: { framing: { kind: "length", length: 999999999999999 } },
  },
  {
    name: "a GET with Content-Length has a body (framing does not depend on the method)",
    raw: `${GET}Content-Length: 3\r\n\r\nabc`,
    expect: { framing: { kind: "length", length: 3 } },
  },
  {
    name: "Transfer-Encoding: chunked",
    raw: `${POST}Transfer-Encoding: chunked\r\n\r\n`,
    expect: { framing: { kind: "chunked" } },
  },
  {
    name: "chunked in any case, field name in any case, OWS around",
    raw: `${POST}transfer-ENCODING:\t ChUnKeD \r\n\r\n`,
    expect: { framing: { kind: "chunked" } },
  },
  {
    name: "Transfer-Encoding:<TAB>chunked (a tab is OWS)",
    raw: `${POST}Transfer-Encoding:\tchunked\r\n\r\n`,
    expect: { framing: { kind: "chunked" } },
  },
  {
    name: "Transfer-encoding: chunked (a field name in another case is the same field)",
    raw: `${POST}Transfer-encoding: chunked\r\n\r\n`,
    expect: { framing: { kind: "chunked" } },
  },
  {
    name: "Expect: 100-continue",
    raw: `${POST}Expect: 100-Continue\r\nContent-Length: 1\r\n\r\n`,
    expect: { expectContinue: true },
  },
  {
    name: "Expect: 100-continue in HTTP/1.0 is ignored",
    raw: "POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n",
    expect: { expectContinue: false },
  },
  {
    name: "Connection: upgrade with Upgrade",
    raw: `${GET}Connection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n`,
    expect: { upgrade: true, keepAlive: true },
  },
  {
    name: "Upgrade without the connection option is no upgrade",
    raw: `${GET}Upgrade: websocket\r\n\r\n`,
    expect: { upgrade: false },
  },
  {
    name: "Upgrade in HTTP/1.0 is ignored",
    raw: "GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
    expect: { upgrade: false },
  },
  {
    name: "absolute-form: the authority is the host, the path is what follows",
    raw: "GET http://example.com:8080/p?q=1 HTTP/1.1\r\nHost: other\r\n\r\n",
    expect: {
      form: "absolute",
      target: "http://example.com:8080/p?q=1",
      path: "/p?q=1",
      host: "example.com:8080",
    },
  },
  {
    name: "absolute-form without a path, with a query only, https, any case",
    raw: "GET HTTPS://[::1]?q HTTP/1.1\r\nHost: a\r\n\r\n",
    expect: { form: "absolute", path: "/?q", host: "[::1]" },
  },
  {
    name: "absolute-form in HTTP/1.0 without Host",
    raw: "GET http://a HTTP/1.0\r\n\r\n",
    expect: { path: "/", host: "a" },
  },
  {
    name: "asterisk-form for OPTIONS",
    raw: "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
    expect: { form: "asterisk", target: "*", path: "*" },
  },
  {
    name: "origin-form keeps dots, doubled slashes, queries and escapes as sent",
    raw: 'GET //a/../b?x=%20&y="{}| HTTP/1.1\r\nHost: a\r\n\r\n',
    expect: { target: '//a/../b?x=%20&y="{}|', path: '//a/../b?x=%20&y="{}|' },
  },
  {
    name: "an IPv6 literal Host with a port",
    raw: `GET / HTTP/1.1\r\nHost: [fe80::1]:8080\r\n\r\n`,
    expect: { host: "[fe80::1]:8080" },
  },
  {
    name: "Host with a %-escape",
    raw: "GET / HTTP/1.1\r\nHost: a%41b:\r\n\r\n",
    expect: { host: "a%41b:" },
  },
  {
    name: "an empty Host (RFC 9112 §3.2 allows it)",
    raw: "GET / HTTP/1.1\r\nHost:\r\n\r\n",
    expect: { host: "" },
  },
  {
    name: "a request-line exactly at the limit",
    raw: `GET /${"a".repeat(18)} HTTP/1.1\r\nHost: a\r\n\r\n`,
    limits: SMALL,
    expect: { method: "GET" },
  },
  {
    name: "a head exactly at the limit",
    raw: `${GET}X: ${"v".repeat(96 - GET.length - 7)}\r\n\r\n`,
    limits: SMALL,
    expect: { method: "GET" },
  },
  {
    name: "exactly as many fields as the limit",
    raw: `${GET}A: 1\r\nB: 2\r\n\r\n`,
    limits: SMALL,
    expect: { method: "GET" },
  },
];

const REFUSED: Case[] = [
  // Line ends and empty lines.
  { name: "bare LF ends every line", raw: "GET / HTTP/1.1\nHost: a\n\n", expect: 400 },
  { name: "bare LF after a field", raw: `GET / HTTP/1.1\r\nHost: a\n\r\n`, expect: 400 },
  { name: "bare LF as the blank line", raw: `${GET}\n`, expect: 400 },
  { name: "bare LF as an empty line before the request", raw: `\n${GET}\r\n`, expect: 400 },
  { name: "bare CR in a value", raw: `${GET}X: a\rb\r\n\r\n`, expect: 400 },
  { name: "bare CR ending a line", raw: `GET / HTTP/1.1\rHost: a\r\n\r\n`, expect: 400 },
  { name: "CR CR LF", raw: `GET / HTTP/1.1\r\r\nHost: a\r\n\r\n`, expect: 400 },
  { name: "a bare CR as an empty line", raw: `\rX${GET}\r\n`, expect: 400 },
  {
    name: "five empty lines before the request",
    raw: `${"\r\n".repeat(5)}${GET}\r\n`,
    expect: 400,
  },
  // The request-line.
  { name: "leading space", raw: ` ${GET}\r\n`, expect: 400 },
  { name: "two spaces after the method", raw: "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", expect: 400 },
  { name: "two spaces before the version", raw: "GET /  HTTP/1.1\r\nHost: a\r\n\r\n", expect: 400 },
  { name: "a tab as separator", raw: "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", expect: 400 },
  { name: "a space after the version", raw: "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", expect: 400 },
  { name: "no target", raw: "GET HTTP/1.1\r\nHost: a\r\n\r\n", expect: 400 },
  { name: "no version", raw: "GET /\r\nHost: a\r\n\r\n", expect: 400 },
  { name: "a lowercase protocol name", raw: "GET / http/1.1\r\nHost: a\r\n\r\n", expect: 400 },
  { name: "two-digit minor version", raw: "GET / HTTP/1.10\r\nHost: a\r\n\r\n", expect: 400 },
  { name: "a method that is not a token", raw: "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", expect: 400 },
  { name: "obs-text in the method", raw: "G\xe9T / HTTP/1.1\r\nHost: a\r\n\r\n", expect: 400 },
  { name: "non-ASCII in the target", raw: "GET /\xe9 HTTP/1.1\r\nHost: a\r\n\r\n", expect: 400 },
  { name: "DEL in the target", raw: "GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n", expect: 400 },
  { name: "NUL in the target", raw: "GET /\x00 HTTP/1.1\r\nHost: a\r\n\r\n", expect: 400 },
  { name: "a space in the target", raw: "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", expect: 400 },
  { name: "a fragment in the target", raw: "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", expect: 400 },
  { name: "a relative target", raw: "GET a HTTP/1.1\r\nHost: a\r\n\r\n", expect: 400 },
  { name: "a query without a path", raw: "GET ?a HTTP/1.1\r\nHost: a\r\n\r\n", expect: 400 },
  { name: "asterisk-form for GET", raw: "GET * HTTP/1.1\r\nHost: a\r\n\r\n", expect: 400 },
  { name: "authority-form for GET", raw: "GET a:443 HTTP/1.1\r\nHost: a\r\n\r\n", expect: 400 },
  {
    name: "absolute-form with userinfo",
    raw: "GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n",
    expect: 400,
  },
  {
    name: "absolute-form with an empty host",
    raw: "GET http:///p HTTP/1.1\r\nHost: a\r\n\r\n",
    expect: 400,
  },
  {
    name: "absolute-form of another scheme",
    raw: "GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n",
    expect: 400,
  },
  {
    name: "absolute-form with one slash",
    raw: "GET http:/a HTTP/1.1\r\nHost: a\r\n\r\n",
    expect: 400,
  },
  {
    name: "CONNECT with authority-form",
    raw: "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n",
    expect: 501,
  },
  { name: "CONNECT with origin-form", raw: "CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", expect: 501 },
  { name: "HTTP/1.2", raw: "GET / HTTP/1.2\r\nHost: a\r\n\r\n", expect: 505 },
  { name: "HTTP/2.0", raw: "GET / HTTP/2.0\r\nHost: a\r\n\r\n", expect: 505 },
  { name: "HTTP/0.9", raw: "GET / HTTP/0.9\r\nHost: a\r\n\r\n", expect: 505 },
  { name: "the HTTP/2 preface", raw: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", expect: 505 },
  // Host.
  { name: "no Host in HTTP/1.1", raw: "GET / HTTP/1.1\r\n\r\n", expect: 400 },
  { name: "two Host fields", raw: `${GET}Host: b\r\n\r\n`, expect: 400 },
  { name: "two Host fields, equal", raw: `${GET}Host: a\r\n\r\n`, expect: 400 },
  {
    name: "two Host fields in HTTP/1.0",
    raw: "GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n",
    expect: 400,
  },
  { name: "a space in Host", raw: "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", expect: 400 },
  { name: "a path in Host", raw: "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", expect: 400 },
  { name: "userinfo in Host", raw: "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", expect: 400 },
  { name: "a port that is not digits", raw: "GET / HTTP/1.1\r\nHost: a:x\r\n\r\n", expect: 400 },
  { name: "a six-digit port", raw: "GET / HTTP/1.1\r\nHost: a:123456\r\n\r\n", expect: 400 },
  { name: "a port without a host", raw: "GET / HTTP/1.1\r\nHost: :80\r\n\r\n", expect: 400 },
  {
    name: "an unterminated IPv6 literal",
    raw: "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n",
    expect: 400,
  },
  { name: "a bad %-escape in Host", raw: "GET / HTTP/1.1\r\nHost: a%4\r\n\r\n", expect: 400 },
  // Field lines.
  { name: "a space before the colon", raw: `${GET}X : y\r\n\r\n`, expect: 400 },
  {
    name: "Transfer-Encoding : chunked (space before the colon)",
    raw: `${POST}Transfer-Encoding : chunked\r\n\r\n`,
    expect: 400,
  },
  { name: "a tab before the colon", raw: `${GET}X\t: y\r\n\r\n`, expect: 400 },
  { name: "obs-fold with a space", raw: `${GET}X: a\r\n b\r\n\r\n`, expect: 400 },
  { name: "obs-fold with a tab", raw: `${GET}X: a\r\n\tb\r\n\r\n`, expect: 400 },
  { name: "the first field folded", raw: "GET / HTTP/1.1\r\n Host: a\r\n\r\n", expect: 400 },
  { name: "an empty field name", raw: `${GET}: v\r\n\r\n`, expect: 400 },
  { name: "no colon", raw: `${GET}Xy\r\n\r\n`, expect: 400 },
  { name: "a name that is not a token", raw: `${GET}X(y: z\r\n\r\n`, expect: 400 },
  { name: "obs-text in a name", raw: `${GET}X\xe9: z\r\n\r\n`, expect: 400 },
  { name: "NUL in a value", raw: `${GET}X: a\x00b\r\n\r\n`, expect: 400 },
  { name: "a control byte in a value", raw: `${GET}X: a\x01b\r\n\r\n`, expect: 400 },
  { name: "DEL in a value", raw: `${GET}X: a\x7fb\r\n\r\n`, expect: 400 },
  // Content-Length.
  { name: "Content-Length: +5", raw: `${POST}Content-Length: +5\r\n\r\nhello`, expect: 400 },
  { name: "Content-Length: -5", raw: `${POST}Content-Length: -5\r\n\r\n`, expect: 400 },
  { name: "Content-Length: 0x5", raw: `${POST}Content-Length: 0x5\r\n\r\nhello`, expect: 400 },
  { name: "Content-Length: 5 5", raw: `${POST}Content-Length: 5 5\r\n\r\nhello`, expect: 400 },
  { name: "Content-Length: 5,5", raw: `${POST}Content-Length: 5,5\r\n\r\nhello`, expect: 400 },
  { name: "Content-Length: 5, 5", raw: `${POST}Content-Length: 5, 5\r\n\r\nhello`, expect: 400 },
  { name: "Content-Length: 5.0", raw: `${POST}Content-Length: 5.0\r\n\r\nhello`, expect: 400 },
  { name: "an empty Content-Length", raw: `${POST}Content-Length:\r\n\r\n`, expect: 400 },
  {
    name: "Content-Length of 16 digits",
    raw: `${POST}Content-Length: 0000000000000005\r\n\r\n`,
    expect: 400,
  },
  {
    name: "two equal Content-Length fields",
    raw: `${POST}Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello`,
    expect: 400,
  },
  {
    name: "two different Content-Length fields",
    raw: `${POST}Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello`,
    expect: 400,
  },
  // Transfer-Encoding and smuggling.
  {
    name: "CL.TE",
    raw: `${POST}Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nX`,
    expect: 400,
  },
  {
    name: "TE.CL",
    raw: `${POST}Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\n`,
    expect: 400,
  },
  {
    name: "Transfer-Encoding in HTTP/1.0",
    raw: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
    expect: 400,
  },
  {
    name: "<TAB>Transfer-Encoding: chunked (a line starting with a tab is obs-fold)",
    raw: `${POST}X: 1\r\n\tTransfer-Encoding: chunked\r\n\r\n`,
    expect: 400,
  },
  {
    name: "<SP>Transfer-Encoding: chunked after Content-Length (obs-fold)",
    raw: `${POST}Content-Length: 3\r\n Transfer-Encoding: chunked\r\n\r\n`,
    expect: 400,
  },
  {
    name: "Transfer-Encoding: xchunked",
    raw: `${POST}Transfer-Encoding: xchunked\r\n\r\n`,
    expect: 400,
  },
  {
    name: "Transfer-Encoding: chunked, identity",
    raw: `${POST}Transfer-Encoding: chunked, identity\r\n\r\n`,
    expect: 400,
  },
  {
    name: "Transfer-Encoding: chunked, x",
    raw: `${POST}Transfer-Encoding: chunked, x\r\n\r\n`,
    expect: 400,
  },
  {
    name: "Transfer-Encoding: chunked;q=1",
    raw: `${POST}Transfer-Encoding: chunked;q=1\r\n\r\n`,
    expect: 400,
  },
  {
    name: "Transfer-Encoding: chunked, chunked",
    raw: `${POST}Transfer-Encoding: chunked, chunked\r\n\r\n`,
    expect: 400,
  },
  {
    name: "two Transfer-Encoding: chunked fields",
    raw: `${POST}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n`,
    expect: 400,
  },
  { name: "an empty Transfer-Encoding", raw: `${POST}Transfer-Encoding:\r\n\r\n`, expect: 400 },
  {
    name: "an empty list member before chunked",
    raw: `${POST}Transfer-Encoding: , chunked\r\n\r\n`,
    expect: 400,
  },
  {
    name: "an empty list member after chunked",
    raw: `${POST}Transfer-Encoding: chunked,\r\n\r\n`,
    expect: 400,
  },
  {
    name: "a coding that is not a token",
    raw: `${POST}Transfer-Encoding: x(y, chunked\r\n\r\n`,
    expect: 400,
  },
  { name: "Transfer-Encoding: gzip", raw: `${POST}Transfer-Encoding: gzip\r\n\r\n`, expect: 400 },
  {
    name: "Transfer-Encoding: gzip, chunked",
    raw: `${POST}Transfer-Encoding: gzip, chunked\r\n\r\n`,
    expect: 501,
  },
  {
    name: "gzip and chunked in two fields",
    raw: `${POST}Transfer-Encoding: gzip\r\nTransfer-encoding: chunked\r\n\r\n`,
    expect: 501,
  },
  {
    name: "Transfer-Encoding: identity, chunked",
    raw: `${POST}Transfer-Encoding: identity, chunked\r\n\r\n`,
    expect: 501,
  },
  {
    name: "a coding with parameters before chunked",
    raw: `${POST}Transfer-Encoding: gzip;q=1 , chunked\r\n\r\n`,
    expect: 501,
  },
  // Expect.
  { name: "Expect: foo", raw: `${POST}Expect: foo\r\n\r\n`, expect: 417 },
  {
    name: "Expect: 100-continue, foo",
    raw: `${POST}Expect: 100-continue, foo\r\n\r\n`,
    expect: 417,
  },
  { name: "an empty Expect", raw: `${POST}Expect:\r\n\r\n`, expect: 417 },
  {
    name: "a second Expect that is not 100-continue",
    raw: `${POST}Expect: 100-continue\r\nExpect: x\r\n\r\n`,
    expect: 417,
  },
  // Limits.
  {
    name: "a request-line over the limit",
    raw: `GET /${"a".repeat(19)} HTTP/1.1\r\nHost: a\r\n\r\n`,
    limits: SMALL,
    expect: 414,
  },
  {
    name: "a request-line over the limit, not ended yet",
    raw: `GET /${"a".repeat(40)}`,
    limits: SMALL,
    expect: 414,
  },
  {
    name: "a head over the limit",
    raw: `${GET}X: ${"v".repeat(96 - GET.length - 6)}\r\n\r\n`,
    limits: SMALL,
    expect: 431,
  },
  {
    name: "a head over the limit, not ended yet",
    raw: `${GET}X: ${"v".repeat(100)}`,
    limits: SMALL,
    expect: 431,
  },
  {
    name: "more fields than the limit",
    raw: `${GET}A: 1\r\nB: 2\r\nC: 3\r\n\r\n`,
    limits: SMALL,
    expect: 431,
  },
  { name: "101 fields by default", raw: `${GET}${"X: 1\r\n".repeat(100)}\r\n`, expect: 431 },
];

/** The result on `raw` placed inside a larger buffer, between unrelated bytes. */
function parse(raw: string, limits?: RequestHeadLimits, upTo = raw.length): RequestHeadResult {
  const buf = bytes(`junk${raw}more`);
  return parseRequestHead(buf, 4, 4 + upTo, limits ?? DEFAULT_HEAD_LIMITS);
}

/** Each prefix is `incomplete` or the whole's result; an accepted head is whole at `consumed`. */
function checkSplits(c: Case, whole: RequestHeadResult): void {
  let decidedAt = -1;
  for (let k = 0; k <= c.raw.length; k++) {
    const part = parse(c.raw, c.limits, k);
    if (part.kind === "incomplete") {
      assert.equal(decidedAt, -1, `prefix ${k} is incomplete after ${decidedAt} was not`);
      continue;
    }
    if (decidedAt < 0) decidedAt = k;
    assert.deepEqual(part, whole, `prefix of ${k} bytes`);
  }
  if (whole.kind === "request") assert.equal(decidedAt, whole.consumed);
}

for (const c of ACCEPTED) {
  Deno.test(`request head accepts: ${c.name}`, () => {
    const result = parse(c.raw, c.limits);
    assert.equal(result.kind, "request", JSON.stringify(result));
    if (result.kind !== "request") return;
    const { consumed, ...fields } = c.expect as Partial<RequestHead> & { consumed?: number };
    if (consumed !== undefined) assert.equal(result.consumed, consumed);
    for (const [key, value] of Object.entries(fields)) {
      assert.deepEqual(result.head[key as keyof RequestHead], value, key);
    }
    checkSplits(c, result);
  });
}

for (const c of REFUSED) {
  Deno.test(`request head refuses: ${c.name} → ${c.expect}`, () => {
    const result = parse(c.raw, c.limits);
    assert.equal(result.kind, "refused", JSON.stringify(result));
    if (result.kind !== "refused") return;
    assert.equal(result.status, c.expect, result.message);
    // One short human line: it goes into the JSON error as is.
    assert.match(result.message, /^[\x20-\x7e]{5,60}$/);
    checkSplits(c, result);
  });
}

Deno.test("request head: nothing yet, or part of a line, is incomplete", () => {
  for (const raw of ["", "\r", "\r\n", "G", "GET / HTTP/1.1\r", `${GET}X: 1\r\n\r`]) {
    assert.deepEqual(parse(raw), { kind: "incomplete" }, JSON.stringify(raw));
  }
});

Deno.test("request head: only buf[start, end) is read; pipelined bytes are left", () => {
  const two = `${POST}Content-Length: 2\r\n\r\nhiGET /2 HTTP/1.1\r\nHost: b\r\n\r\n`;
  const buf = bytes(two);
  const first = parseRequestHead(buf, 0, buf.length);
  assert.equal(first.kind, "request");
  if (first.kind !== "request") return;
  const next = first.consumed + 2;
  const second = parseRequestHead(buf, next, buf.length);
  assert.equal(second.kind, "request");
  if (second.kind === "request") {
    assert.equal(second.head.target, "/2");
    assert.equal(next + second.consumed, buf.length);
  }
});

Deno.test("request head: more than 128 fields grow the scratch space", () => {
  const raw = `${GET}${"X: 1\r\n".repeat(300)}\r\n`;
  const result = parse(raw, { ...DEFAULT_HEAD_LIMITS, maxHeaders: 1000 });
  assert.equal(result.kind === "request" && result.head.headers.length, 301);
  assert.equal(parse(`${GET}\r\n`).kind, "request", "and a small head after it");
});
