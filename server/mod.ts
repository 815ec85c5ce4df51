/**
 * The backend replica: its Hono app and configuration.
 *
 * @module
 */

export { createServerApp, type Faults, type ServerAppOptions } from "./app.ts";
export { parseServerEnv, type ServerConfig } from "./config.ts";
