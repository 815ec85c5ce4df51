/**
 * The recent replica events a dashboard shows: a logger in front of the balancer's logger that
 * keeps the last few replica and admin events it sees (and passes everything on).
 *
 * @module
 */

import type { LogFields, Logger, LogLevel } from "../support/mod.ts";

/** Events worth showing, with the word the dashboard shows for each. */
export const SHOWN_EVENTS: Readonly<Record<string, string>> = {
  "replica.spawning": "starting",
  "spare.spawning": "spare starting",
  "replica.ready": "ready",
  "spare.ready": "spare ready",
  "replica.promoted": "spare promoted",
  "replica.down": "down",
  "replica.outlier_ejected": "ejected (outlier)",
  "replica.readmitted": "readmitted",
  "replica.stopping": "stopping",
  "replica.draining": "draining",
  "replica.stopped": "stopped",
  "admin.add": "added",
  "admin.rm": "removed",
};

/** One event as the dashboard shows it. */
export interface ShownEvent {
  /** Milliseconds since the epoch. */
  time: number;
  /** What happened, in a word or two (see {@linkcode SHOWN_EVENTS}). */
  what: string;
  /** The log event's name. */
  event: string;
  /** The replica it is about, when it is about one. */
  name?: string;
  /** Why, or what was asked (`why`, `reason`, hostnames). */
  detail?: string;
}

/** The last `max` shown events, oldest first. */
export class EventLog {
  readonly #events: ShownEvent[] = [];
  readonly #max: number;
  readonly #now: () => number;
  /** Events seen in all (the dashboard's cursor: new ones are those past the last count). */
  seen = 0;

  /** @param max Events kept. @param now Clock, ms since the epoch. */
  constructor(max = 50, now: () => number = Date.now) {
    this.#max = max;
    this.#now = now;
  }

  /** The events kept, oldest first. */
  recent(): readonly ShownEvent[] {
    return this.#events;
  }

  /** Records `event` if it is one to show. */
  record(event: string, fields: LogFields): void {
    const what = SHOWN_EVENTS[event];
    if (what === undefined) return;
    const detail = fields.why ?? fields.reason ?? fields.hostnames;
    this.#events.push({
      time: this.#now(),
      what,
      event,
      name: fields.name === undefined ? undefined : String(fields.name),
      detail: detail === undefined || detail === "" ? undefined : String(detail),
    });
    if (this.#events.length > this.#max) this.#events.shift();
    this.seen++;
  }

  /** `logger`, with every event it is given recorded here first. */
  tee(logger: Logger): Logger {
    const at = (level: LogLevel) => (event: string, fields: LogFields = {}) => {
      this.record(event, fields);
      logger[level](event, fields);
    };
    return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
  }
}
