/**
 * How the proxy reaches a replica: the `Upstream` interface with its failure kinds and the idempotent methods, and its two transports (`fetch`, and the lean HTTP/1.1 client).
 *
 * @module
 */

export { Http1Client } from "./http1_client.ts";
export {
  connectionTokens,
  endToEnd,
  fetchUpstream,
  HOP_BY_HOP,
  IDEMPOTENT,
  requestHeaders,
  type Tunnel,
  type Upstream,
  UpstreamError,
  type UpstreamFailure,
  type UpstreamResponse,
} from "./upstream.ts";
