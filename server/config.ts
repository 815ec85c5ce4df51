/**
 * The replica's configuration, read from its environment.
 *
 * @module
 */

/** Every environment variable the replica reads (the spawner grants exactly these). */
export const SERVER_ENV_VARS = [
  "PORT",
  "HOST",
  "SERVER_ID",
  "FAULT_HEARTBEAT_FAIL",
  "FAULT_DELAY_MS",
  "FAULT_SIGNALS",
  "EXIT_ON_STDIN_EOF",
] as const;

/** The line a replica prints once it accepts connections; group 1 is the port. */
export const LISTENING_LINE = /listening on http:\/\/\S+:(\d+)\//;

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

/** A configuration value that cannot be used; `message` is one line for the user. */
export class ConfigError extends Error {
  /** @param message One line naming the setting, the value and what is expected. */
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Parses a port number (0–65535). Throws {@linkcode ConfigError} naming `what`. */
export function parsePort(value: string, what: string): number {
  const port = /^[0-9]{1,5}$/.test(value.trim()) ? Number(value) : NaN;
  if (!(port >= 0 && port <= 65535)) {
    throw new ConfigError(`${what} must be a port number (0-65535), got '${value}'`);
  }
  return port;
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
