/**
 * Small shared pieces: the structured logger (one `key=value` line per event) and helpers.
 *
 * @module
 */

export {
  createLogger,
  formatJsonLine,
  LOG_FORMATS,
  LOG_LEVELS,
  type LogFields,
  type LogFormat,
  type Logger,
  type LogLevel,
  parseLine,
  silentLogger,
} from "./logger.ts";
export { Abort } from "./abort.ts";
export { type Deadline, Deadlines } from "./deadlines.ts";
export { pooledCopy } from "./pooled_copy.ts";
export {
  concatBytes,
  delay,
  errorMessage,
  readLines,
  rootMessage,
  SerialQueue,
  type Timer,
  withDefaults,
} from "./util.ts";
