/**
 * Strict HTTP/1.1 parsing for the raw-socket front and the upstream client: the grammar
 * (field lines, tokens, OWS, lists), the request-head parser and the chunked decoder. Pure:
 * bytes in, typed results out, no I/O. See docs/http1.md.
 *
 * @module
 */

export {
  ChunkedDecoder,
  type ChunkedEvent,
  type ChunkedLimits,
  DEFAULT_CHUNKED_LIMITS,
} from "./chunked.ts";
export {
  CR,
  type FieldLine,
  findLf,
  HTAB,
  isFieldValueByte,
  isOws,
  isTchar,
  isToken,
  latin1,
  LF,
  listMembers,
  parseFieldLine,
  skipOws,
  skipQuotedString,
  skipToken,
  SP,
  trimOws,
  trimOwsEnd,
} from "./grammar.ts";
export {
  type BodyFraming,
  DEFAULT_HEAD_LIMITS,
  parseRequestHead,
  type RefusalStatus,
  type RequestHead,
  type RequestHeadLimits,
  type RequestHeadResult,
  type TargetForm,
} from "./request_head.ts";
export { WriteBuffer, writeLatin1 } from "./write_buffer.ts";
