/**
 * A small structured logger: one line per event, either `time level event key=value …` (text,
 * for people) or one JSON object (json, for log collectors), with the same field names.
 *
 * @module
 */

/** Severity, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Levels in order; a logger prints its own level and those after it. */
export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

/** How lines are written: `text` (`time level event key=value …`) or `json` (one object). */
export type LogFormat = "text" | "json";

/** The formats. */
export const LOG_FORMATS: readonly LogFormat[] = ["text", "json"];

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
  /** Line format. Default `text`. */
  format?: LogFormat;
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

/**
 * Formats one log line as JSON: `{"time":"2026-11-25T14:00:00.000Z","level":"warn",
 * "event":"replica.ejected","name":"S5",…}`. The first three keys are always these; a field
 * with one of their names is left out.
 */
export function formatJsonLine(
  time: number,
  level: LogLevel,
  event: string,
  fields: LogFields,
): string {
  const record: Record<string, string | number | boolean> = {
    time: new Date(time).toISOString(),
    level,
    event,
  };
  for (const [key, value] of Object.entries(fields)) {
    if (value !== undefined && !(key in record)) record[key] = value;
  }
  return JSON.stringify(record);
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

/**
 * Reads back a line written by {@linkcode formatLine} or {@linkcode formatJsonLine} (field
 * values as strings in both); `undefined` for any other line.
 */
export function parseLine(line: string): LogRecord | undefined {
  if (line.startsWith("{")) return parseJsonLine(line);
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

function parseJsonLine(line: string): LogRecord | undefined {
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof record !== "object" || record === null || Array.isArray(record)) return undefined;
  const { time, level, event, ...rest } = record as Record<string, unknown>;
  const at = typeof time === "string" ? Date.parse(time) : Number.NaN;
  if (Number.isNaN(at) || typeof level !== "string" || typeof event !== "string") return undefined;
  const fields: Record<string, string> = {};
  for (const [key, value] of Object.entries(rest)) fields[key] = String(value);
  return { time: at, level, event, fields };
}

/** A logger that prints lines at or above `level`. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const threshold = LOG_LEVELS.indexOf(options.level ?? "info");
  const write = options.write ?? ((line: string) => console.error(line));
  const now = options.now ?? Date.now;
  const format = options.format === "json" ? formatJsonLine : formatLine;
  const at = (level: LogLevel) => (event: string, fields: LogFields = {}) => {
    if (LOG_LEVELS.indexOf(level) >= threshold) write(format(now(), level, event, fields));
  };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** A logger that drops everything (tests). */
export const silentLogger: Logger = createLogger({ write: () => {} });
