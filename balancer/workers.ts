/**
 * `--workers N`: one control plane, N data planes. The first process is the control plane: it
 * runs the provider, the health checks, outlier detection and the replica set, and it serves the
 * port too. Processes 2…N are workers: they route by the membership the control plane sends them
 * over their stdin (one JSON line per change, numbered), acknowledge each on their stdout, send
 * their tries' outcomes back the same way, and relay admin requests to the control plane.
 * A `/add` or `/rm` is answered once every worker has acknowledged the change.
 *
 * @module
 */

import type { Member, MembershipUpdate, MirroredCluster, TryOutcome } from "./cluster/mod.ts";
import type { Logger } from "./support/mod.ts";
import { ProxyMetrics, type ProxySnapshot } from "./metrics/mod.ts";
import type { HotKey } from "./insight/mod.ts";

const OUTCOMES: ReadonlySet<string> = new Set([
  "success",
  "http_5xx",
  "connect_failure",
  "reset",
  "timeout",
  "protocol_error",
]);

/** What a worker says: an acknowledgement, outcomes of tries, what its proxy counted, or its hot keys. */
export type WorkerMessage =
  | { ack: number }
  | { outcomes: [string, TryOutcome][] }
  | { metrics: ProxySnapshot }
  | { hot: HotKey[] };

/** Most hot keys a worker may send at once (what its window holds), and the longest key. */
const MAX_HOT_KEYS = 256;
const MAX_KEY_LENGTH = 8192;

/** Whether `v` is a list of hot keys as `HotKeys.top` makes them, within the bounds above. */
function isHotKeys(v: unknown): v is HotKey[] {
  return Array.isArray(v) && v.length <= MAX_HOT_KEYS && v.every((entry) => {
    const e = entry as Record<string, unknown> | null;
    return typeof e === "object" && e !== null && Object.keys(e).length === 4 &&
      typeof e.key === "string" && e.key.length <= MAX_KEY_LENGTH &&
      [e.count, e.error, e.perSecond].every(isCount);
  });
}

const isCount = (v: unknown) => typeof v === "number" && Number.isFinite(v) && v >= 0;
const isCounts = (v: unknown, length: number) =>
  Array.isArray(v) && v.length === length && v.every(isCount);
function isHistogram(v: unknown, buckets: number): boolean {
  const h = v as Record<string, unknown> | null;
  return typeof h === "object" && h !== null && isCounts(h.counts, buckets) && isCount(h.sum) &&
    isCount(h.count);
}

/** Whether `v` is a {@linkcode ProxySnapshot} as `ProxyMetrics.snapshot()` makes them. */
function isProxySnapshot(v: unknown): v is ProxySnapshot {
  const s = v as Record<string, unknown> | null;
  const shape = new ProxyMetrics().snapshot();
  return typeof s === "object" && s !== null && Array.isArray(s.answers) &&
    s.answers.every((a) =>
      Array.isArray(a) && a.length === 2 && typeof a[0] === "string" &&
      isCounts(a[1], ANSWER_LENGTH)
    ) &&
    isHistogram(s.requestSeconds, shape.requestSeconds.counts.length) &&
    isHistogram(s.trySeconds, shape.trySeconds.counts.length) &&
    isHistogram(s.tries, shape.tries.counts.length) &&
    [s.retries, s.budgetExhausted, s.admissionRefused, s.inFlight].every(isCount);
}

/** How many numbers a replica's answers hold in a snapshot. */
const ANSWER_LENGTH = (() => {
  const probe = new ProxyMetrics();
  probe.answered("x", "GET", 200, 0);
  return probe.snapshot().answers[0][1].length;
})();

/** Parses one line a worker wrote, strictly; undefined when it is not a message. */
export function parseWorkerMessage(line: string): WorkerMessage | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const keys = Object.keys(value);
  const record = value as Record<string, unknown>;
  if (keys.length === 1 && Number.isSafeInteger(record.ack) && (record.ack as number) >= 0) {
    return { ack: record.ack as number };
  }
  if (keys.length === 1 && "metrics" in record) {
    return isProxySnapshot(record.metrics) ? { metrics: record.metrics } : undefined;
  }
  if (keys.length === 1 && "hot" in record) {
    return isHotKeys(record.hot) ? { hot: record.hot } : undefined;
  }
  if (keys.length === 1 && Array.isArray(record.outcomes)) {
    const outcomes = record.outcomes as unknown[];
    const valid = outcomes.every((o) =>
      Array.isArray(o) && o.length === 2 && typeof o[0] === "string" && OUTCOMES.has(o[1])
    );
    return valid ? { outcomes: outcomes as [string, TryOutcome][] } : undefined;
  }
  return undefined;
}

/** The name in an `{"ended": name}` line, or undefined when the line is not one. */
export function parseEnded(line: string): string | undefined {
  try {
    const value = JSON.parse(line);
    if (typeof value === "object" && value !== null && Object.keys(value).length === 1) {
      return typeof value.ended === "string" ? value.ended : undefined;
    }
  } catch {
    // not JSON: not an end
  }
  return undefined;
}

/** Parses one membership line from the control plane, strictly; undefined when it is not one. */
export function parseMembership(line: string): MembershipUpdate | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  const record = value as Record<string, unknown> | null;
  if (typeof record !== "object" || record === null || !Number.isSafeInteger(record.version)) {
    return undefined;
  }
  if (!Array.isArray(record.members)) return undefined;
  const members: Member[] = [];
  for (const m of record.members as Record<string, unknown>[]) {
    if (
      typeof m !== "object" || m === null || typeof m.name !== "string" ||
      !Number.isSafeInteger(m.ordinal) || typeof m.url !== "string" || !/^https?:\/\//.test(m.url)
    ) return undefined;
    if (m.weight === undefined) {
      members.push({ name: m.name, ordinal: m.ordinal as number, url: m.url });
      continue;
    }
    if (typeof m.weight !== "number" || !(m.weight > 0) || !Number.isFinite(m.weight)) {
      return undefined;
    }
    members.push({ name: m.name, ordinal: m.ordinal as number, url: m.url, weight: m.weight });
  }
  return { version: record.version as number, members };
}

/** Splits a byte stream into lines (LF), calling `onLine` for each; resolves at its end. */
export async function readLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    rest += chunk;
    let at: number;
    while ((at = rest.indexOf("\n")) >= 0) {
      const line = rest.slice(0, at).trim();
      rest = rest.slice(at + 1);
      if (line) onLine(line);
    }
  }
}

/** One worker as the control plane sees it: where to write, what it acknowledged. */
interface Channel {
  write(line: string): void;
  acked: number;
}

/** The control plane's side: numbers membership changes, sends them, and tracks the acks. */
export class MembershipBroadcaster {
  readonly #channels = new Set<Channel>();
  readonly #waiters = new Set<() => void>();
  readonly #logger: Logger;
  #version = 0;
  #members: Member[] = [];

  /** @param logger Where a worker that does not acknowledge in time is reported. */
  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** The latest version sent. */
  get version(): number {
    return this.#version;
  }

  /** Tells every worker that `name` ended (its process or container exited). */
  ended(name: string): void {
    const line = JSON.stringify({ ended: name }) + "\n";
    for (const channel of this.#channels) channel.write(line);
  }

  /** Sends the members to every worker, as a new version. */
  publish(members: Member[]): void {
    this.#members = members;
    this.#version++;
    const line = JSON.stringify({ version: this.#version, members }) + "\n";
    for (const channel of this.#channels) channel.write(line);
  }

  /**
   * A worker to feed: it gets the current membership at once. `messages` are its lines; outcomes
   * go to `report`, its counts to `counted` and its hot keys to `hot` (each `undefined` once it
   * has exited). Resolves when its output ends.
   */
  async attach(
    write: (line: string) => void,
    messages: ReadableStream<Uint8Array>,
    report: (name: string, outcome: TryOutcome) => void,
    counted: (snapshot: ProxySnapshot | undefined) => void = () => {},
    hot: (keys: HotKey[] | undefined) => void = () => {},
  ): Promise<void> {
    const channel: Channel = { write, acked: 0 };
    this.#channels.add(channel);
    if (this.#version > 0) {
      write(JSON.stringify({ version: this.#version, members: this.#members }) + "\n");
    }
    try {
      await readLines(messages, (line) => {
        const message = parseWorkerMessage(line);
        if (!message) return; // (anything else a worker prints is not for us)
        if ("ack" in message) {
          channel.acked = Math.max(channel.acked, message.ack);
          for (const wake of this.#waiters) wake();
        } else if ("metrics" in message) counted(message.metrics);
        else if ("hot" in message) hot(message.hot);
        else for (const [name, outcome] of message.outcomes) report(name, outcome);
      });
    } finally {
      counted(undefined); // (a worker that exited counts no more)
      hot(undefined); // (nor routes: its keys leave the window)
      this.#channels.delete(channel);
      for (const wake of this.#waiters) wake();
    }
  }

  /**
   * Resolves once every worker has acknowledged the latest version, or after `timeoutMs` (a
   * worker that does not answer is logged, and does not hold the admin API).
   */
  synced(timeoutMs = 2000): Promise<void> {
    const version = this.#version;
    const done = () => [...this.#channels].every((c) => c.acked >= version);
    if (done()) return Promise.resolve();
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve();
      };
      const check = () => {
        if (done()) finish();
      };
      const timer = setTimeout(() => {
        this.#logger.warn("workers.not_synced", { version, timeout_ms: timeoutMs });
        finish();
      }, timeoutMs);
      this.#waiters.add(check);
    });
  }
}

/**
 * A worker's side: applies every membership line to `mirror` and acknowledges it; resolves when
 * the control plane's pipe ends.
 */
export function followMembership(
  input: ReadableStream<Uint8Array>,
  mirror: MirroredCluster,
  write: (line: string) => void,
  logger: Logger,
  applied: () => void = () => {},
): Promise<void> {
  return readLines(input, (line) => {
    const ended = parseEnded(line);
    if (ended !== undefined) return mirror.ended(ended);
    const update = parseMembership(line);
    if (!update) {
      logger.warn("worker.bad_membership", { line: line.slice(0, 80) });
      return;
    }
    try {
      mirror.apply(update);
    } catch (error) {
      logger.error("worker.membership_failed", { reason: String(error) });
      return;
    }
    write(JSON.stringify({ ack: update.version }) + "\n");
    applied();
  });
}

/** Batches a worker's try outcomes into one line every `intervalMs`. */
export class OutcomeBatcher {
  #batch: [string, TryOutcome][] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #write: (line: string) => void;
  readonly #intervalMs: number;

  /** @param write Writes a line to the control plane. @param intervalMs How often. */
  constructor(write: (line: string) => void, intervalMs = 100) {
    this.#write = write;
    this.#intervalMs = intervalMs;
  }

  /** Queues one outcome. */
  push(name: string, outcome: TryOutcome): void {
    this.#batch.push([name, outcome]);
    this.#timer ??= setTimeout(() => this.flush(), this.#intervalMs);
  }

  /** Sends what is queued now. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#batch.length === 0) return;
    this.#write(JSON.stringify({ outcomes: this.#batch }) + "\n");
    this.#batch = [];
  }
}
