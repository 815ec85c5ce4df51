/**
 * The HTTP/1.1 grammar written once (RFC 9110 §5, RFC 9112 §2 and §5), over bytes: character
 * classes, line ends, OWS, tokens, quoted strings, field lines and lists. Everything works on
 * a buffer between indices and allocates nothing, except {@linkcode latin1} (a string of a
 * slice) and {@linkcode listMembers}. The request parser and the chunked decoder use it; so can
 * the upstream client.
 *
 * @module
 */

/** Carriage return. */
export const CR = 0x0d;
/** Line feed. */
export const LF = 0x0a;
/** Space. */
export const SP = 0x20;
/** Horizontal tab. */
export const HTAB = 0x09;

const DQUOTE = 0x22;
const BACKSLASH = 0x5c;
const DEL = 0x7f;

/** tchar (RFC 9110 §5.6.2): `!#$%&'*+-.^_`|~`, digits, letters. */
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = TCHAR[c + 0x20] = 1;

/** Whether `byte` is a tchar, the characters of a token (method, field name, coding). */
export function isTchar(byte: number): boolean {
  return TCHAR[byte] === 1;
}

/**
 * Whether `byte` may appear in a field value (RFC 9110 §5.5): VCHAR, obs-text, SP or HTAB.
 * Not NUL, CR, LF, DEL or another control: a bare CR must be refused (RFC 9112 §2.2).
 */
export function isFieldValueByte(byte: number): boolean {
  return byte > SP ? byte !== DEL : byte === SP || byte === HTAB;
}

/** Whether `byte` is OWS: SP or HTAB (RFC 9110 §5.6.3). */
export function isOws(byte: number): boolean {
  return byte === SP || byte === HTAB;
}

/** Index of the first LF in `buf[from, to)`, or -1. */
export function findLf(buf: Uint8Array, from: number, to: number): number {
  for (let i = from; i < to; i++) if (buf[i] === LF) return i;
  return -1;
}

/** Index of the first byte at or after `from` that is not OWS (at most `to`). */
export function skipOws(buf: Uint8Array, from: number, to: number): number {
  while (from < to && isOws(buf[from])) from++;
  return from;
}

/** Index just after the last byte before `to` that is not OWS (at least `from`). */
export function trimOwsEnd(buf: Uint8Array, from: number, to: number): number {
  while (to > from && isOws(buf[to - 1])) to--;
  return to;
}

/** Index just after the token starting at `from` (`from` itself when there is none). */
export function skipToken(buf: Uint8Array, from: number, to: number): number {
  while (from < to && TCHAR[buf[from]] === 1) from++;
  return from;
}

/** Whether `buf[from, to)` is a token: one or more tchar. */
export function isToken(buf: Uint8Array, from: number, to: number): boolean {
  return to > from && skipToken(buf, from, to) === to;
}

/**
 * Index just after the quoted-string (RFC 9110 §5.6.4) that starts at `from` (a DQUOTE), or
 * -1 when it is unterminated or holds a byte qdtext and quoted-pair do not allow.
 */
export function skipQuotedString(buf: Uint8Array, from: number, to: number): number {
  for (let i = from + 1; i < to; i++) {
    const byte = buf[i];
    if (byte === DQUOTE) return i + 1;
    if (byte === BACKSLASH) i++; // quoted-pair: the next byte is any field-value byte
    if (i === to || !isFieldValueByte(buf[i])) return -1;
  }
  return -1;
}

/** A field line's parts, as indices into the buffer, or why it is refused. */
export type FieldLine =
  | {
    kind: "field";
    nameEnd: number;
    valueStart: number;
    valueEnd: number;
    /** Whether the value holds obs-text (bytes 0x80–0xff): see {@linkcode latin1}. */
    obsText: boolean;
  }
  | { kind: "invalid"; message: string };

/**
 * Parses `buf[from, to)`, one field line without its CRLF (RFC 9112 §5): a token, a colon
 * right after it, then a value with its OWS trimmed. Whitespace before the colon and obs-fold
 * (a line that starts with SP or HTAB) are refused, as RFC 9112 §5.1 and §5.2 allow a server
 * to do: either one read differently by another hop is how requests are smuggled.
 */
export function parseFieldLine(buf: Uint8Array, from: number, to: number): FieldLine {
  if (isOws(buf[from])) return INVALID_FOLD;
  const nameEnd = skipToken(buf, from, to);
  if (nameEnd === to || buf[nameEnd] !== 0x3a) {
    return nameEnd > from && isOws(buf[nameEnd]) ? INVALID_SPACE : INVALID_NAME;
  }
  if (nameEnd === from) return INVALID_NAME;
  const valueStart = skipOws(buf, nameEnd + 1, to);
  const valueEnd = trimOwsEnd(buf, valueStart, to);
  let high = 0;
  for (let i = valueStart; i < valueEnd; i++) {
    if (!isFieldValueByte(buf[i])) return INVALID_VALUE;
    high |= buf[i];
  }
  return { kind: "field", nameEnd, valueStart, valueEnd, obsText: high >= 0x80 };
}

const invalid = (message: string): FieldLine => ({ kind: "invalid", message });
const INVALID_FOLD = invalid("obsolete line folding");
const INVALID_SPACE = invalid("whitespace between a header field name and its colon");
const INVALID_NAME = invalid("invalid header field name");
const INVALID_VALUE = invalid("invalid character in a header field value");

// For ASCII, UTF-8 decoding is latin1 decoding, and Deno's UTF-8 decoder is the fastest.
// (WHATWG's "latin1" label is windows-1252, which is wrong for bytes 0x80–0x9f.)
const utf8 = new TextDecoder();

/**
 * `buf[from, to)` as a string of one code unit per byte (ISO-8859-1, as Deno's headers).
 * `ascii`: the caller knows every byte is below 0x80 (then the bytes are not scanned again).
 */
export function latin1(buf: Uint8Array, from: number, to: number, ascii = false): string {
  if (!ascii) {
    for (let i = from; i < to; i++) if (buf[i] >= 0x80) return fromCharCodes(buf, from, to);
  }
  return utf8.decode(buf.subarray(from, to));
}

function fromCharCodes(buf: Uint8Array, from: number, to: number): string {
  let text = "";
  for (let i = from; i < to; i += 4096) {
    text += String.fromCharCode(...buf.subarray(i, Math.min(to, i + 4096)));
  }
  return text;
}

/**
 * The members of a list field value (RFC 9110 §5.6.1), split at commas, OWS trimmed and
 * lowercased. Empty members are kept as "" so that the caller decides about them.
 */
export function listMembers(value: string): string[] {
  const members = value.toLowerCase().split(",");
  for (let i = 0; i < members.length; i++) members[i] = trimOws(members[i]);
  return members;
}

/** `text` without leading and trailing SP and HTAB (not `trim()`: it also drops U+00A0). */
export function trimOws(text: string): string {
  let from = 0;
  let to = text.length;
  while (from < to && (text.charCodeAt(from) === SP || text.charCodeAt(from) === HTAB)) from++;
  while (to > from && (text.charCodeAt(to - 1) === SP || text.charCodeAt(to - 1) === HTAB)) to--;
  return from === 0 && to === text.length ? text : text.slice(from, to);
}
