/**
 * The balancer's settings: flags and environment variables parsed into one `BalancerConfig`, and `--help`.
 *
 * @module
 */

export {
  adminExposure,
  type BalancerConfig,
  ConfigError,
  HELP,
  parseConfig,
  settingsTable,
} from "./config.ts";
