/**
 * What the command-line tools in tools/ (chaos, analyze, bench) share: flag parsing with
 * `--help`, a one-line error and exit code 2 for bad input, and checked integer options.
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";

/** The helpers for one script, whose messages start with `name:`. */
export interface Cli {
  /** Prints `name: message` to stderr and exits with code 2. */
  fail(message: string): never;
  /** `value` as an integer in [min, max], or {@linkcode Cli.fail} naming `--name`. */
  int(value: string | undefined, name: string, min: number, max: number): number;
  /**
   * `Deno.args` parsed by `config` (give it a `help` boolean option): prints the usage and
   * exits 0 on `--help`; a bad flag is a one-line error naming `hint`.
   */
  parse<T extends ParseArgsConfig>(config: T, hint?: string): ReturnType<typeof parseArgs<T>>;
}

/** The helpers for the script called `name`, whose `--help` prints `usage`. */
export function cli(name: string, usage: string): Cli {
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
    parse<T extends ParseArgsConfig>(config: T, hint = "see --help") {
      let parsed;
      try {
        parsed = parseArgs<T>({ args: Deno.args, ...config });
      } catch (error) {
        const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
        return fail(`${message} (${hint})`);
      }
      if ((parsed.values as { help?: boolean }).help) {
        console.log(usage);
        Deno.exit(0);
      }
      return parsed;
    },
  };
}
