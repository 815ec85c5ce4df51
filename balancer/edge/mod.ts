/**
 * What listens: the handler that sends admin paths to the admin API and everything else to the proxy, the admin routes and their input checks.
 *
 * @module
 */

export { REPLICA_NAME } from "./admin_input.ts";
export { type AdminConfig, type ExplainRoutes } from "./admin.ts";
export { ADMIN_PATHS, type BalancerApp, createBalancerApp } from "./app.ts";
export { SocketFront, type SocketFrontOptions } from "./socket_front.ts";
