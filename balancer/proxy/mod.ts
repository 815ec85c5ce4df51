/**
 * The proxy: admission, the routing key, the attempt loop with retries, headers and bodies, the retry budget.
 *
 * @module
 */

export {
  createProxy,
  failureAnswer,
  MAX_TRIES,
  type ProxyAnswer,
  type ProxyConfig,
  type ProxyLimits,
  type ProxyOptions,
  type ProxyRequest,
  type ProxyTunnel,
} from "./proxy.ts";
export { proxyRequestOf, responseOf } from "./web.ts";
export { RetryBudget } from "./retry_budget.ts";
export { queryParam, routingKeyOf } from "./routing_key.ts";
