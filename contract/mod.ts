/**
 * What the balancer and the replica agree on: SPEC.md's reply shapes and messages, the
 * replica's environment and listening line, and how a bad setting is reported. Both `server/`
 * and `balancer/` import it; neither imports the other (outside tests).
 *
 * @module
 */

export { ConfigError, parsePort } from "./config_error.ts";
export { LISTENING_LINE, SERVER_ENV_VARS } from "./replica_env.ts";
export {
  failureBody,
  failureResponse,
  type SpecBody,
  successBody,
  unknownEndpoint,
} from "./responses.ts";
