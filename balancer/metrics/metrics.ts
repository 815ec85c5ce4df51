/**
 * Metrics in the Prometheus text format (version 0.0.4), kept as plain numbers where they
 * happen and rendered when `/metrics` is scraped. The per-request part (`ProxyMetrics`) costs
 * a map lookup, a few additions and one clock read per request; a metrics library's labelled
 * counters and histograms cost more than that on a path where a microsecond is 2 % (see
 * docs/operations.md for the measured cost).
 *
 * Names follow Prometheus' conventions (`_total` counters, `_seconds` units, base units) and
 * what operators know from Envoy (`upstream_rq`, outlier ejections), HAProxy (`server up`,
 * check failures) and Traefik (requests by code and method, request duration).
 *
 * @module
 */

/** Latency buckets, seconds: 0.5 ms to 10 s. */
export const LATENCY_BUCKETS: readonly number[] = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

/** A histogram with fixed buckets: counts per bucket, their sum and count. */
export class Histogram {
  readonly buckets: readonly number[];
  readonly #counts: Float64Array;
  sum = 0;
  count = 0;

  /** @param buckets Upper bounds, increasing (`+Inf` is implied). */
  constructor(buckets: readonly number[]) {
    this.buckets = buckets;
    this.#counts = new Float64Array(buckets.length);
  }

  /** Its counts, sum and count, as plain data (a worker sends them to its control plane). */
  snapshot(): HistogramSnapshot {
    return { counts: [...this.#counts], sum: this.sum, count: this.count };
  }

  /** Adds `other`'s observations (same buckets). */
  add(other: HistogramSnapshot): void {
    for (let i = 0; i < this.#counts.length; i++) this.#counts[i] += other.counts[i] ?? 0;
    this.sum += other.sum;
    this.count += other.count;
  }

  /** Counts one observation. */
  observe(value: number): void {
    this.sum += value;
    this.count++;
    const { buckets } = this;
    for (let i = 0; i < buckets.length; i++) {
      if (value <= buckets[i]) {
        this.#counts[i]++;
        return;
      }
    }
  }

  /** The sample lines of `name` (cumulative buckets, `_sum`, `_count`). */
  render(name: string, labels = ""): string[] {
    const lines: string[] = [];
    const prefix = labels ? `${labels},` : "";
    let cumulative = 0;
    this.buckets.forEach((bound, i) => {
      cumulative += this.#counts[i];
      lines.push(`${name}_bucket{${prefix}le="${bound}"} ${cumulative}`);
    });
    lines.push(`${name}_bucket{${prefix}le="+Inf"} ${this.count}`);
    const braces = labels ? `{${labels}}` : "";
    lines.push(`${name}_sum${braces} ${this.sum}`, `${name}_count${braces} ${this.count}`);
    return lines;
  }
}

/** Methods counted by name; any other is `other`. */
const METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "other"] as const;
/** Status classes: 1xx … 5xx. */
const CLASSES = ["1xx", "2xx", "3xx", "4xx", "5xx"] as const;
/** Counts per replica: methods × classes, then (at this index) answers in all and their seconds. */
const ANSWER_SLOTS = METHODS.length * CLASSES.length;

function methodIndex(method: string): number {
  switch (method) {
    case "GET":
      return 0;
    case "HEAD":
      return 1;
    case "POST":
      return 2;
    case "PUT":
      return 3;
    case "DELETE":
      return 4;
    case "PATCH":
      return 5;
    case "OPTIONS":
      return 6;
    default:
      return 7;
  }
}

/** The label of answers the balancer gave itself (no replica answered). */
export const NO_REPLICA = "";

/** A histogram as plain data. */
export interface HistogramSnapshot {
  counts: number[];
  sum: number;
  count: number;
}

/** What a {@linkcode ProxyMetrics} holds, as plain data (JSON). */
export interface ProxySnapshot {
  answers: [string, number[]][];
  requestSeconds: HistogramSnapshot;
  trySeconds: HistogramSnapshot;
  tries: HistogramSnapshot;
  retries: number;
  budgetExhausted: number;
  admissionRefused: number;
  inFlight: number;
}

/** What the proxy counts, per request and per try. */
export class ProxyMetrics {
  /** Answers by replica: counts indexed by method × status class. */
  readonly #answers = new Map<string, Float64Array>();
  /** Whole requests, from admission to the answer's head, seconds. */
  readonly requestSeconds = new Histogram(LATENCY_BUCKETS);
  /** Tries on a replica, from sending to its answer's head (or failure), seconds. */
  readonly trySeconds = new Histogram(LATENCY_BUCKETS);
  /** Tries one request took (0: answered before any, e.g. no replica or admission). */
  readonly tries = new Histogram([0, 1, 2, 3, 4, 5]);
  /** Retries made (tries after the first). */
  retries = 0;
  /** Retries the budget refused. */
  budgetExhausted = 0;
  /** Requests refused at admission (`--max-in-flight`). */
  admissionRefused = 0;
  /** Requests being answered now; the proxy sets this when it is built. */
  inFlight: () => number = () => 0;

  /** Counts an answer to a request. */
  answered(replica: string | undefined, method: string, status: number, seconds: number): void {
    const key = replica ?? NO_REPLICA;
    let counts = this.#answers.get(key);
    if (!counts) this.#answers.set(key, counts = new Float64Array(ANSWER_SLOTS + 2));
    const cls = Math.min(4, Math.max(0, Math.floor(status / 100) - 1));
    counts[methodIndex(method) * 5 + cls]++;
    counts[ANSWER_SLOTS]++;
    counts[ANSWER_SLOTS + 1] += seconds;
    this.requestSeconds.observe(seconds);
  }

  /** Everything it counted, as plain data. */
  snapshot(): ProxySnapshot {
    return {
      answers: [...this.#answers].map(([replica, counts]) => [replica, [...counts]]),
      requestSeconds: this.requestSeconds.snapshot(),
      trySeconds: this.trySeconds.snapshot(),
      tries: this.tries.snapshot(),
      retries: this.retries,
      budgetExhausted: this.budgetExhausted,
      admissionRefused: this.admissionRefused,
      inFlight: this.inFlight(),
    };
  }

  /** This one's counts plus `others`' (the control plane's and its workers'), as a new one. */
  merged(others: readonly ProxySnapshot[]): ProxyMetrics {
    const sum = new ProxyMetrics();
    let inFlight = 0;
    for (const part of [this.snapshot(), ...others]) {
      for (const [replica, counts] of part.answers) {
        let into = sum.#answers.get(replica);
        if (!into) sum.#answers.set(replica, into = new Float64Array(ANSWER_SLOTS + 2));
        for (let i = 0; i < into.length; i++) into[i] += counts[i] ?? 0;
      }
      sum.requestSeconds.add(part.requestSeconds);
      sum.trySeconds.add(part.trySeconds);
      sum.tries.add(part.tries);
      sum.retries += part.retries;
      sum.budgetExhausted += part.budgetExhausted;
      sum.admissionRefused += part.admissionRefused;
      inFlight += part.inFlight;
    }
    sum.inFlight = () => inFlight;
    return sum;
  }

  /** Per replica: answers so far, and the seconds they took in all (for rates and means). */
  byReplica(): Map<string, { requests: number; seconds: number }> {
    const totals = new Map<string, { requests: number; seconds: number }>();
    for (const [replica, counts] of this.#answers) {
      totals.set(replica, { requests: counts[ANSWER_SLOTS], seconds: counts[ANSWER_SLOTS + 1] });
    }
    return totals;
  }

  /** Calls `fn` with each replica, method, status class and count seen. */
  forEachAnswer(fn: (replica: string, method: string, code: string, count: number) => void): void {
    for (const [replica, counts] of this.#answers) {
      for (let i = 0; i < ANSWER_SLOTS; i++) {
        if (counts[i] > 0) fn(replica, METHODS[Math.floor(i / 5)], CLASSES[i % 5], counts[i]);
      }
    }
  }

  /** The `requests_total` samples: one line per replica, method and class seen. */
  renderAnswers(name: string): string[] {
    const lines: string[] = [];
    for (const [replica, counts] of this.#answers) {
      counts.forEach((count, i) => {
        if (count === 0 || i >= ANSWER_SLOTS) return;
        const method = METHODS[Math.floor(i / 5)];
        const code = CLASSES[i % 5];
        lines.push(
          `${name}{replica="${escapeLabel(replica)}",method="${method}",code="${code}"} ${count}`,
        );
      });
    }
    return lines;
  }
}

/** A label value escaped for the text format (backslash, quote, newline). */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** One metric family: its help, type and sample lines. */
export interface Family {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram";
  samples: string[];
}

/** Families as the text format: `# HELP`, `# TYPE`, then samples; a family with none is left out. */
export function renderFamilies(families: readonly Family[]): string {
  let text = "";
  for (const { name, help, type, samples } of families) {
    if (samples.length === 0) continue;
    text += `# HELP ${name} ${help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}\n`;
    text += `# TYPE ${name} ${type}\n`;
    text += samples.join("\n") + "\n";
  }
  return text;
}

/**
 * The event loop's lag: a timer every `intervalMs` notes how late it fired. `lagSeconds` is the
 * largest lateness since the last scrape read it (then it starts again).
 */
export class LoopLag {
  #max = 0;
  #timer: ReturnType<typeof setInterval> | undefined;

  /** @param intervalMs How often it samples. */
  start(intervalMs = 500): void {
    let expected = performance.now() + intervalMs;
    this.#timer = setInterval(() => {
      const now = performance.now();
      this.#max = Math.max(this.#max, now - expected);
      expected = now + intervalMs;
    }, intervalMs);
    Deno.unrefTimer(this.#timer);
  }

  /** The largest lag since the last read, seconds; resets it. */
  take(): number {
    const lag = this.#max / 1000;
    this.#max = 0;
    return Math.max(0, lag);
  }

  /** Stops sampling. */
  stop(): void {
    clearInterval(this.#timer);
  }
}
