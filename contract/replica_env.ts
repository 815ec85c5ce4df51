/**
 * The replica's side of the contract with whoever starts it (the balancer's process
 * provider, a container): what it reads from its environment, and the line it prints once
 * it accepts connections.
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
