/**
 * How a bad setting is reported, for the balancer's flags and the replica's environment alike.
 *
 * @module
 */

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
