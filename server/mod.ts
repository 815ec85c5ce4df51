/**
 * The backend replica: its Hono app and configuration.
 *
 * @module
 */

export { createServerApp, type Faults, type ServerAppOptions } from "./app.ts";
export {
  ConfigError,
  LISTENING_LINE,
  parsePort,
  parseServerEnv,
  SERVER_ENV_VARS,
  type ServerConfig,
} from "./config.ts";
