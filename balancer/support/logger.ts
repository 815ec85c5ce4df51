/**
 * A small structured logger: one line per event, `time level event key=value …`.
 *
 * @module
 */

/** Severity, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Levels in order; a logger prints its own level and those after it. */
export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

/** Fields attached to an event. */
export type LogFields = Readonly<Record<string, string | number | boolean | undefined>>;

/** Where the balancer's components report what they do. */
export interface Logger {
  /** Detail for debugging (replica output, each heartbeat failure). */
  debug(event: string, fields?: LogFields): void;
  /** Normal operation (replica ready, listening). */
  info(event: string, fields?: LogFields): void;
  /** Something went wrong and was handled (ejection, retry). */
  warn(event: string, fields?: LogFields): void;
  /** Something went wrong and was not handled. */
  error(event: string, fields?: LogFields): void;
}

/** Options of {@linkcode createLogger}. */
export interface LoggerOptions {
  /** Lowest level printed. Default `info`. */
  level?: LogLevel;
  /** Line sink. Default `console.error` (standard error; standard output stays free). */
  write?: (line: string) => void;
  /** Clock. Default `Date.now`. */
  now?: () => number;
}

function formatValue(value: string | number | boolean): string {
  const text = String(value);
  return /^[\w.:/@+-]+$/.test(text) ? text : JSON.stringify(text);
}

/** Formats one log line: `2026-11-25T14:00:00.000Z warn  replica.ejected name=S5 reason="…"`. */
export function formatLine(
  time: number,
  level: LogLevel,
  event: string,
  fields: LogFields,
): string {
  let line = `${new Date(time).toISOString()} ${level.padEnd(5)} ${event}`;
  for (const [key, value] of Object.entries(fields)) {
    if (value !== undefined) line += ` ${key}=${formatValue(value)}`;
  }
  return line;
}

/** A line of the log, read back (tools that watch the balancer, tests). */
export interface LogRecord {
  /** Milliseconds since the epoch. */
  time: number;
  /** Level. */
  level: string;
  /** Event name, e.g. `replica.ready`. */
  event: string;
  /** Fields, quoted values unquoted. */
  fields: Record<string, string>;
}

/** Reads back a line written by {@linkcode formatLine}; `undefined` for any other line. */
export function parseLine(line: string): LogRecord | undefined {
  const head = line.match(/^(\S+) (\S+) +(\S+)/);
  const time = head ? Date.parse(head[1]) : Number.NaN;
  if (!head || Number.isNaN(time)) return undefined;
  const fields: Record<string, string> = {};
  for (
    const [, key, value] of line.slice(head[0].length).matchAll(/ (\w+)=("(?:[^"\\]|\\.)*"|\S+)/g)
  ) {
    fields[key] = value.startsWith('"') ? JSON.parse(value) : value;
  }
  return { time, level: head[2], event: head[3], fields };
}

/** A logger that prints lines at or above `level`. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const threshold = LOG_LEVELS.indexOf(options.level ?? "info");
  const write = options.write ?? ((line: string) => console.error(line));
  const now = options.now ?? Date.now;
  const at = (level: LogLevel) => (event: string, fields: LogFields = {}) => {
    if (LOG_LEVELS.indexOf(level) >= threshold) write(formatLine(now(), level, event, fields));
  };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** A logger that drops everything (tests). */
export const silentLogger: Logger = createLogger({ write: () => {} });
