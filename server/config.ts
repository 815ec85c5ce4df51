/**
 * The replica's configuration, read from its environment.
 *
 * @module
 */

import { ConfigError, parsePort } from "../contract/mod.ts";

/** A replica's configuration. */
export interface ServerConfig {
  /** TCP port; 0 picks a free one (printed on start). Default 5000. */
  port: number;
  /** Interface to listen on. Default `0.0.0.0`. */
  host: string;
  /** The replica's identity. Default `unnamed`. */
  id: string;
  /** `/heartbeat` answers 500 from the start (`FAULT_HEARTBEAT_FAIL=1`). */
  heartbeatFail: boolean;
  /** Delay every reply (`FAULT_DELAY_MS`). */
  delayMs: number;
  /** SIGUSR1 toggles heartbeat failure, SIGUSR2 toggles a 2 s delay (`FAULT_SIGNALS=1`). */
  faultSignals: boolean;
  /** Exit when standard input closes: the spawner died (`EXIT_ON_STDIN_EOF=1`). */
  exitOnStdinEof: boolean;
}

function parseFlag(value: string | undefined, what: string): boolean {
  if (value === undefined || value === "" || value === "0" || value === "false") return false;
  if (value === "1" || value === "true") return true;
  throw new ConfigError(`${what} must be 1/true or 0/false, got '${value}'`);
}

/** Reads a {@linkcode ServerConfig} from environment variables. */
export function parseServerEnv(env: Readonly<Record<string, string | undefined>>): ServerConfig {
  const delay = env.FAULT_DELAY_MS ?? "0";
  const delayMs = /^[0-9]{1,9}$/.test(delay) ? Number(delay) : NaN;
  if (Number.isNaN(delayMs)) {
    throw new ConfigError(`FAULT_DELAY_MS must be a number of milliseconds, got '${delay}'`);
  }
  return {
    port: parsePort(env.PORT ?? "5000", "PORT"),
    host: env.HOST || "0.0.0.0",
    id: env.SERVER_ID || "unnamed",
    heartbeatFail: parseFlag(env.FAULT_HEARTBEAT_FAIL, "FAULT_HEARTBEAT_FAIL"),
    delayMs,
    faultSignals: parseFlag(env.FAULT_SIGNALS, "FAULT_SIGNALS"),
    exitOnStdinEof: parseFlag(env.EXIT_ON_STDIN_EOF, "EXIT_ON_STDIN_EOF"),
  };
}
