/**
 * The proxy: admission, the routing key, the attempt loop with retries, headers and bodies, the retry budget.
 *
 * @module
 */

export { createProxy, type ProxyConfig, type ProxyLimits, type ProxyOptions } from "./proxy.ts";
export { RetryBudget } from "./retry_budget.ts";
export { queryParam, routingKeyOf } from "./routing_key.ts";
