/**
 * A strict HTTP/1.1 request-head parser (RFC 9112 §2–§6) over bytes, for a front that reads
 * client requests from a socket: it finds the end of the head itself, checks every line as
 * it goes, and answers with a typed result: more bytes needed, a request with its body
 * framing decided, or a refusal with the status to answer before closing the connection.
 * The decisions, and where they differ from Deno.serve, are in docs/http1.md.
 *
 * @module
 */

import {
  CR,
  findLf,
  isTchar,
  latin1,
  LF,
  listMembers,
  parseFieldLine,
  SP,
  trimOws,
} from "./grammar.ts";

/** Bounds on what a head may take before it is refused. */
export interface RequestHeadLimits {
  /** Longest request-line, bytes without its CRLF (then 414). */
  maxRequestLineBytes: number;
  /** Largest head, request-line to blank line inclusive (then 431). */
  maxHeadBytes: number;
  /** Most header field lines (then 431). */
  maxHeaders: number;
}

/** 8 KiB request-line, 64 KiB head, 100 field lines. */
export const DEFAULT_HEAD_LIMITS: Readonly<RequestHeadLimits> = Object.freeze({
  maxRequestLineBytes: 8 * 1024,
  maxHeadBytes: 64 * 1024,
  maxHeaders: 100,
});

/** How the request's body is delimited (RFC 9112 §6.3). */
export type BodyFraming =
  | { kind: "none" }
  | { kind: "length"; length: number }
  | { kind: "chunked" };

/** The forms of request-target accepted (RFC 9112 §3.2); authority-form is CONNECT's, refused. */
export type TargetForm = "origin" | "absolute" | "asterisk";

/** A request head that passed every check. */
export interface RequestHead {
  /** The method, case kept (methods are case-sensitive). */
  method: string;
  /** The request-target as sent. */
  target: string;
  /** Which form the target has. */
  form: TargetForm;
  /**
   * Path and query to forward: the target itself, the absolute-form's part after its
   * authority ("/" when empty), or "*".
   */
  path: string;
  /** The minor version spoken. */
  version: "1.0" | "1.1";
  /** Field lines in the order received, names lowercased, values OWS-trimmed. */
  headers: [string, string][];
  /** How the body is delimited. */
  framing: BodyFraming;
  /** Whether the connection stays open after the answer. */
  keepAlive: boolean;
  /** `Expect: 100-continue` in an HTTP/1.1 request (HTTP/1.0's is ignored: RFC 9110 §10.1.1). */
  expectContinue: boolean;
  /** `Connection: upgrade` and an `Upgrade` field, in HTTP/1.1 (RFC 9110 §7.8). */
  upgrade: boolean;
  /**
   * The authority asked for: the absolute-form's (RFC 9112 §3.2.2), else the Host field's;
   * undefined when an HTTP/1.0 request has neither.
   */
  host: string | undefined;
}

/** The statuses a head is refused with. */
export type RefusalStatus = 400 | 414 | 417 | 431 | 501 | 505;

/** What {@linkcode parseRequestHead} found. */
export type RequestHeadResult =
  | { kind: "incomplete" }
  | { kind: "request"; head: RequestHead; consumed: number }
  | { kind: "refused"; status: RefusalStatus; message: string };

/** Empty lines skipped before a request-line (RFC 9112 §2.2: a stray CRLF after a body). */
const MAX_EMPTY_LINES = 4;
/** Digits of a Content-Length: 15 keep it an exact integer. */
const MAX_LENGTH_DIGITS = 15;
const HASH = 0x23;

const INCOMPLETE: RequestHeadResult = { kind: "incomplete" };

function refuse(status: RefusalStatus, message: string): RequestHeadResult {
  return { kind: "refused", status, message };
}

/**
 * Field offsets of the head being parsed: name start, name end, value start, value end. One
 * scratch array serves every call: parsing is synchronous.
 */
let spans = new Int32Array(4 * 128);

/**
 * Parses the request head at the start of `buf[start, end)`. Empty lines (CRLF) before the
 * request-line are skipped, up to 4; `consumed` counts them. Lines end with CRLF only: a bare
 * LF or CR is refused. Each complete line is checked as it is found, so a split head gives
 * `incomplete` and then the same result as the whole, and a refusal can come before the end.
 */
export function parseRequestHead(
  buf: Uint8Array,
  start: number,
  end: number,
  limits: Readonly<RequestHeadLimits> = DEFAULT_HEAD_LIMITS,
): RequestHeadResult {
  let pos = start;
  for (let empty = 0; pos < end && (buf[pos] === CR || buf[pos] === LF); empty++) {
    if (pos + 1 === end && buf[pos] === CR) return INCOMPLETE;
    if (buf[pos] === LF || buf[pos + 1] !== LF) return refuse(400, BARE_LINE_END);
    if (empty === MAX_EMPTY_LINES) return refuse(400, "too many empty lines before the request");
    pos += 2;
  }
  const headStart = pos;
  const lineMax = limits.maxRequestLineBytes;
  // A line within the limit has its LF at most lineMax + 1 bytes in.
  let lf = findLf(buf, pos, Math.min(end, pos + lineMax + 2));
  if (lf < 0) return end - pos > lineMax + 1 ? refuse(414, "request line too long") : INCOMPLETE;
  if (lf === pos || buf[lf - 1] !== CR) return refuse(400, BARE_LINE_END);
  const line = requestLine(buf, pos, lf - 1);
  if (line.kind === "refused") return line;

  let fields = 0;
  let ascii = true; // the request-line and field names are ASCII by their grammar
  pos = lf + 1;
  for (;;) {
    lf = findLf(buf, pos, end);
    if (lf < 0) {
      // The line's LF will be at `end` or later.
      return end - headStart >= limits.maxHeadBytes ? refuse(431, HEAD_TOO_LARGE) : INCOMPLETE;
    }
    if (lf + 1 - headStart > limits.maxHeadBytes) return refuse(431, HEAD_TOO_LARGE);
    if (lf === pos || buf[lf - 1] !== CR) return refuse(400, BARE_LINE_END);
    if (lf - 1 === pos) break; // the blank line
    if (fields === limits.maxHeaders) return refuse(431, "too many header fields");
    const field = parseFieldLine(buf, pos, lf - 1);
    if (field.kind === "invalid") return refuse(400, field.message);
    if (field.obsText) ascii = false;
    if (spans.length < 4 * (fields + 1)) {
      const grown = new Int32Array(spans.length * 2);
      grown.set(spans);
      spans = grown;
    }
    const at = 4 * fields++;
    spans[at] = pos;
    spans[at + 1] = field.nameEnd;
    spans[at + 2] = field.valueStart;
    spans[at + 3] = field.valueEnd;
    pos = lf + 1;
  }
  // One string for the whole head; every part is a slice of it.
  return decide(latin1(buf, headStart, pos, ascii), headStart, line, fields, lf + 1 - start);
}

const BARE_LINE_END = "a line does not end with CRLF";
const HEAD_TOO_LARGE = "request head too large";

/** The request-line's parts, as indices into the buffer. */
type RequestLine =
  | { kind: "line"; methodEnd: number; targetStart: number; targetEnd: number; minor: 0 | 1 }
  | { kind: "refused"; status: RefusalStatus; message: string };

/** `method SP request-target SP HTTP/1.x`, single spaces, in `buf[from, to)` (RFC 9112 §3). */
function requestLine(buf: Uint8Array, from: number, to: number): RequestLine {
  let i = from;
  while (i < to && isTchar(buf[i])) i++;
  if (i === from || i === to || buf[i] !== SP) return LINE_INVALID;
  const methodEnd = i++;
  const targetStart = i;
  // Visible ASCII only; no fragment (a client never sends one).
  while (i < to && buf[i] > SP && buf[i] < 0x7f && buf[i] !== HASH) i++;
  if (i === targetStart || i === to || buf[i] !== SP) return TARGET_INVALID;
  const targetEnd = i++;
  if (
    to - i !== 8 || buf[i] !== 0x48 || buf[i + 1] !== 0x54 || buf[i + 2] !== 0x54 ||
    buf[i + 3] !== 0x50 || buf[i + 4] !== 0x2f || !isDigit(buf[i + 5]) || buf[i + 6] !== 0x2e ||
    !isDigit(buf[i + 7])
  ) return VERSION_INVALID;
  if (buf[i + 5] !== 0x31 || buf[i + 7] > 0x31) return VERSION_UNSUPPORTED;
  // A tunnel is not a balancer's job (RFC 9110 §9.1: 501 for a method not implemented).
  if (methodEnd - from === 7 && latin1(buf, from, methodEnd) === "CONNECT") return CONNECT;
  return { kind: "line", methodEnd, targetStart, targetEnd, minor: buf[i + 7] === 0x31 ? 1 : 0 };
}

const lineRefused = (status: RefusalStatus, message: string): RequestLine => ({
  kind: "refused",
  status,
  message,
});
const LINE_INVALID = lineRefused(400, "invalid request line");
const TARGET_INVALID = lineRefused(400, "invalid request target");
const VERSION_INVALID = lineRefused(400, "invalid HTTP version");
const VERSION_UNSUPPORTED = lineRefused(505, "HTTP version not supported");
const CONNECT = lineRefused(501, "CONNECT is not supported");

function isDigit(byte: number): boolean {
  return byte >= 0x30 && byte <= 0x39;
}

/** The checks that need the whole head: target form, Host, framing, connection options. */
function decide(
  text: string,
  base: number,
  line: Extract<RequestLine, { kind: "line" }>,
  fields: number,
  consumed: number,
): RequestHeadResult {
  const method = text.slice(0, line.methodEnd - base);
  const target = text.slice(line.targetStart - base, line.targetEnd - base);
  const http11 = line.minor === 1;
  const headers: [string, string][] = new Array(fields);
  let hosts = 0;
  let host: string | undefined;
  let length: string | undefined;
  let codings: string | undefined;
  let close = false;
  let keepAliveOption = false;
  let upgradeOption = false;
  let upgradeField = false;
  let expect: boolean | "other" = false;
  for (let f = 0; f < fields; f++) {
    const at = 4 * f;
    const name = text.slice(spans[at] - base, spans[at + 1] - base).toLowerCase();
    const value = text.slice(spans[at + 2] - base, spans[at + 3] - base);
    headers[f] = [name, value];
    switch (name) {
      case "host":
        hosts++;
        host = value;
        break;
      case "content-length":
        // Repeated, even with equal values: two hops may not agree on which one counts.
        if (length !== undefined) return refuse(400, "more than one Content-Length");
        length = value;
        break;
      case "transfer-encoding":
        codings = codings === undefined ? value : `${codings},${value}`;
        break;
      case "connection":
        for (const option of listMembers(value)) {
          if (option === "close") close = true;
          else if (option === "keep-alive") keepAliveOption = true;
          else if (option === "upgrade") upgradeOption = true;
        }
        break;
      case "upgrade":
        upgradeField = true;
        break;
      case "expect":
        // 100-continue is the only expectation defined (RFC 9110 §10.1.1).
        if (expect !== "other") expect = value.toLowerCase() === "100-continue" ? true : "other";
    }
  }
  // RFC 9112 §3.2: exactly one Host in HTTP/1.1, with a valid value.
  if (hosts > 1) return refuse(400, "more than one Host header");
  if (hosts === 0 && http11) return refuse(400, "missing Host header");
  if (host !== undefined && host !== "" && !isAuthority(host, 0)) {
    return refuse(400, "invalid Host header");
  }

  let form: TargetForm = "origin";
  let path = target;
  if (target === "*") {
    if (method !== "OPTIONS") return refuse(400, "asterisk-form is for OPTIONS only");
    form = "asterisk";
  } else if (target.charCodeAt(0) !== 0x2f) {
    const prefix = target.slice(0, 8).toLowerCase();
    const scheme = prefix.startsWith("http://") ? 7 : prefix === "https://" ? 8 : 0;
    if (scheme === 0) return refuse(400, "invalid request target");
    let end = scheme;
    while (end < target.length && target[end] !== "/" && target[end] !== "?") end++;
    // Userinfo in an http(s) URI is an error (RFC 9110 §4.2.4); the host may not be empty.
    if (end === scheme || !isAuthority(target.slice(0, end), scheme)) {
      return refuse(400, "invalid authority in the request target");
    }
    form = "absolute";
    host = target.slice(scheme, end);
    path = target[end] === "/" ? target.slice(end) : `/${target.slice(end)}`;
  }

  let framing: BodyFraming = NO_BODY;
  if (codings !== undefined) {
    // Both would let two hops frame the body differently (RFC 9112 §6.1): refused, not fixed.
    if (length !== undefined) return refuse(400, "both Content-Length and Transfer-Encoding");
    if (!http11) return refuse(400, "Transfer-Encoding in an HTTP/1.0 request");
    const members = listMembers(codings);
    // RFC 9112 §6.3: a final coding other than chunked leaves the length unknown: 400.
    if (members[members.length - 1] !== "chunked") {
      return refuse(400, "Transfer-Encoding does not end with chunked");
    }
    for (let i = 0; i < members.length - 1; i++) {
      const coding = trimOws(members[i].split(";")[0]);
      if (coding === "chunked" || !isTokenText(coding)) {
        return refuse(400, "invalid Transfer-Encoding");
      }
    }
    // A coding under chunked we would pass on undecoded and unannounced: not implemented.
    if (members.length > 1) return refuse(501, "unsupported transfer coding");
    framing = CHUNKED;
  } else if (length !== undefined) {
    if (!isDigits(length)) return refuse(400, "invalid Content-Length");
    framing = { kind: "length", length: Number(length) };
  }
  if (expect === "other") return refuse(417, "unsupported expectation");
  return {
    kind: "request",
    head: {
      method,
      target,
      form,
      path,
      version: http11 ? "1.1" : "1.0",
      headers,
      framing,
      keepAlive: !close && (http11 || keepAliveOption),
      expectContinue: expect === true && http11,
      upgrade: http11 && upgradeOption && upgradeField,
      host,
    },
    consumed,
  };
}

const NO_BODY: BodyFraming = Object.freeze({ kind: "none" });
const CHUNKED: BodyFraming = Object.freeze({ kind: "chunked" });

/** 1 to 15 digits, nothing else (no sign, no `0x`, no list). */
function isDigits(text: string): boolean {
  if (text.length === 0 || text.length > MAX_LENGTH_DIGITS) return false;
  for (let i = 0; i < text.length; i++) if (!isDigit(text.charCodeAt(i))) return false;
  return true;
}

function isTokenText(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) if (!isTchar(text.charCodeAt(i))) return false;
  return true;
}

/** reg-name characters (RFC 3986 §3.2.2): unreserved and sub-delims; "%" is checked apart. */
const REG_NAME = new Uint8Array(256);
for (const c of "-._~!$&'()*+,;=") REG_NAME[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) REG_NAME[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) REG_NAME[c] = REG_NAME[c + 0x20] = 1;

/**
 * Whether `text` from `from` on is `host [":" port]` (RFC 9110 §7.2, RFC 3986 §3.2.2): a
 * non-empty reg-name (with %HH escapes) or a bracketed IPv6 literal, and up to 5 port digits.
 * No userinfo, no path.
 */
function isAuthority(text: string, from: number): boolean {
  let i = from;
  let c = text.charCodeAt(i);
  if (c === 0x5b) {
    do c = text.charCodeAt(++i); while (isHex(c) || c === 0x3a || c === 0x2e);
    if (c !== 0x5d || i === from + 1) return false;
    c = text.charCodeAt(++i);
  } else {
    for (; i < text.length && c !== 0x3a; c = text.charCodeAt(++i)) {
      if (c === 0x25) {
        if (!isHex(text.charCodeAt(i + 1)) || !isHex(text.charCodeAt(i + 2))) return false;
        i += 2;
      } else if (REG_NAME[c] !== 1) return false;
    }
    if (i === from) return false;
  }
  if (i === text.length) return true;
  if (c !== 0x3a || text.length - i - 1 > 5) return false;
  for (i++; i < text.length; i++) if (!isDigit(text.charCodeAt(i))) return false;
  return true;
}

function isHex(c: number): boolean {
  return isDigit(c) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
}
