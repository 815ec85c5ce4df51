/**
 * What the command-line scripts in tests/ (chaos, analyze, bench) share: a one-line error
 * and exit code 2 for bad input, and checked integer options.
 *
 * @module
 */

/** The helpers for one script, whose messages start with `name:`. */
export interface Cli {
  /** Prints `name: message` to stderr and exits with code 2. */
  fail(message: string): never;
  /** `value` as an integer in [min, max], or {@linkcode Cli.fail} naming `--name`. */
  int(value: string | undefined, name: string, min: number, max: number): number;
  /** Fails with the first line of a `parseArgs` error and `hint`. */
  badArgs(error: unknown, hint?: string): never;
}

/** The helpers for the script called `name`. */
export function cli(name: string): Cli {
  const fail = (message: string): never => {
    console.error(`${name}: ${message}`);
    Deno.exit(2);
  };
  return {
    fail,
    int(value, option, min, max) {
      const n = Number(value);
      if (!Number.isInteger(n) || n < min || n > max) {
        fail(`--${option} must be an integer from ${min} to ${max}, got '${value}'`);
      }
      return n;
    },
    badArgs(error, hint = "see --help") {
      const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
      return fail(`${message} (${hint})`);
    },
  };
}
