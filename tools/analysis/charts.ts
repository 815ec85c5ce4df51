/**
 * The analysis charts, from the results: one function per figure, each returning
 * `[file name, SVG]`. Pure.
 *
 * @module
 */

import type { ChaosTimeline, HttpResults, HttpRun, InProcessResults } from "./results.ts";
import { barChart, formatNumber, lineChart, type Mark, timelineChart } from "./svg_chart.ts";

/** A chart file: name under docs/analysis/, and its SVG. */
export type Chart = [name: string, svg: string];

const percent = (v: number) => `${formatNumber(v)}%`;
const ratio = (v: number) => v.toFixed(2);

/** A file-name-safe form of a ring label (`slot/fnv` → `slot-fnv`). */
export function slug(label: string): string {
  return label.replace(/[^a-z0-9]+/gi, "-").replace(/^-|-$/g, "").toLowerCase();
}

/** The HTTP runs of one ring, by N. */
function runsOf(http: HttpResults, ring: string): HttpRun[] {
  return http.runs.filter((r) => r.ring === ring).sort((a, b) => a.n - b.n);
}

function ringsIn(http: HttpResults): string[] {
  return [...new Set(http.runs.map((r) => r.ring))];
}

/** A-1 as the assignment asks: requests per replica, the spec ring, N = 3. */
export function a1SpecChart(http: HttpResults): Chart {
  const run = http.runs.find((r) => r.ring === "spec" && r.n === 3)!;
  const names = Object.keys(run.stats.counts).sort();
  return [
    "a1-spec.svg",
    barChart({
      title: `A-1: ${formatNumber(run.requests)} requests over 3 replicas, the assignment's ring`,
      subtitle: `Random 6-digit ids (seed ${http.meta.seed}) through the balancer over HTTP, ` +
        `counted from the replies`,
      xLabel: "Replica",
      yLabel: "Requests answered",
      categories: names,
      series: [{ name: "requests", values: names.map((n) => run.stats.counts[n]) }],
      referenceLines: [{
        value: run.stats.mean,
        label: `even share (${formatNumber(Math.round(run.stats.mean))})`,
      }],
    }),
  ];
}

/** A-1 for every ring: share of requests per replica at N = 3. */
export function a1RingsChart(http: HttpResults): Chart {
  const rings = ringsIn(http);
  const runs = rings.map((ring) => http.runs.find((r) => r.ring === ring && r.n === 3)!);
  const names = ["Server 1", "Server 2", "Server 3"];
  return [
    "a1-rings.svg",
    barChart({
      title: "A-1 for every ring: share of requests per replica (N = 3)",
      subtitle: `${formatNumber(runs[0].requests)} requests each, the same ids for every ring`,
      xLabel: "Ring",
      yLabel: "Share of requests",
      yFormat: percent,
      categories: rings,
      series: names.map((name) => ({
        name,
        values: runs.map((run) => (100 * (run.stats.counts[name] ?? 0)) / run.requests),
      })),
      referenceLines: [{ value: 100 / 3, label: "even share (33.3%)" }],
      valueLabels: false,
    }),
  ];
}

/** A-2 for one ring: average, most and fewest requests per replica as N grows. */
export function a2Chart(http: HttpResults, ring: string): Chart {
  const runs = runsOf(http, ring);
  const points = (pick: (r: HttpRun) => number): [number, number][] =>
    runs.map((r) => [r.n, pick(r)]);
  return [
    `a2-${slug(ring)}.svg`,
    lineChart({
      title: `A-2: requests per replica as N grows — ${ring}`,
      subtitle: `${formatNumber(runs[0]?.requests ?? 0)} requests for each N, over HTTP`,
      xLabel: "Replicas (N)",
      yLabel: "Requests per replica",
      xTicks: runs.map((r) => r.n),
      series: [
        { name: "most on one replica", points: points((r) => r.stats.max) },
        { name: "average", points: points((r) => r.stats.mean), dashed: true },
        { name: "fewest on one replica", points: points((r) => r.stats.min) },
      ],
    }),
  ];
}

/** Rings whose labels are not slot rings: the production rings. */
export function isProductionRing(label: string): boolean {
  return !label.startsWith("spec") && !label.startsWith("slot/");
}

/**
 * over HTTP: max/mean for every ring as N grows; with `production`, only the production
 * rings, on an axis that shows their differences (the slot rings dwarf them otherwise).
 */
export function a2BalanceChart(http: HttpResults, production = false): Chart {
  const rings = ringsIn(http).filter((ring) => !production || isProductionRing(ring));
  return [
    production ? "a2-max-mean-production.svg" : "a2-max-mean.svg",
    lineChart({
      title: production
        ? "A-2, production rings: the busiest replica's load ÷ the average"
        : "A-2 for every ring: the busiest replica's load ÷ the average",
      subtitle: `${formatNumber(http.runs[0]?.requests ?? 0)} requests per N over HTTP; 1.00 is ` +
        `perfectly even`,
      xLabel: "Replicas (N)",
      yLabel: "max / mean",
      yFormat: ratio,
      yMin: 1,
      xTicks: [...new Set(http.runs.map((r) => r.n))],
      series: rings.map((ring) => ({
        name: ring,
        points: runsOf(http, ring).map((r): [number, number] => [r.n, r.stats.maxOverMean]),
      })),
      referenceLines: [{ value: 1.1, label: "target 1.10" }],
    }),
  ];
}

/** keys moved by a membership change, as a multiple of the ideal 1/(N+1). */
export function disruptionChart(a4: InProcessResults): Chart {
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
  return [
    "a4-disruption.svg",
    barChart({
      title: "A-4: keys moved by one membership change, ÷ the ideal 1/(N+1)",
      subtitle: `Mean over N = ${a4.disruption[0].rows[0].n}..${a4.disruption[0].rows.at(-1)!.n}; ${
        formatNumber(a4.disruptionKeys)
      } keys; removal: the worst member to lose`,
      xLabel: "Ring",
      yLabel: "moved ÷ ideal",
      yFormat: ratio,
      categories: a4.disruption.map((d) => d.ring),
      series: [
        {
          name: "a member joins",
          values: a4.disruption.map((d) => mean(d.rows.map((r) => r.add.moved / r.add.ideal))),
        },
        {
          name: "a member leaves (worst case)",
          values: a4.disruption.map((d) =>
            mean(d.rows.map((r) => r.remove.worst.moved / r.remove.ideal))
          ),
        },
      ],
      referenceLines: [{ value: 1, label: "ideal" }],
    }),
  ];
}

/** A-4 at scale: max/mean over many keys, N up to 100; `production`: those rings only. */
export function scaleChart(a4: InProcessResults, production = false): Chart {
  const scale = a4.scale.filter((s) => !production || isProductionRing(s.ring));
  return [
    production ? "a4-scale-production.svg" : "a4-scale.svg",
    lineChart({
      title: production
        ? "A-4 at scale, production rings: the busiest replica's load ÷ the average"
        : "A-4 at scale: the busiest replica's load ÷ the average",
      subtitle: `${formatNumber(a4.scaleKeys)} random 6-digit ids in-process` +
        (production ? "" : "; the slot rings hold 56 replicas at most"),
      xLabel: "Replicas (N, log scale)",
      yLabel: "max / mean",
      yFormat: ratio,
      yMin: 1,
      logX: true,
      xTicks: a4.scale[0].rows.map((r) => r.n),
      series: scale.map((s) => ({
        name: s.ring,
        points: s.rows.map((r): [number, number | null] => [r.n, r.stats?.maxOverMean ?? null]),
      })),
      referenceLines: [{ value: 1.05, label: "target 1.05" }],
    }),
  ];
}

/** Per-bucket success rate and latency percentiles of a chaos timeline. */
export function chaosBuckets(chaos: ChaosTimeline, bucketMs: number) {
  const buckets = new Map<number, { ok: number; all: number; ms: number[] }>();
  for (const [at, ms, status] of chaos.samples) {
    const key = Math.floor(at / bucketMs);
    const bucket = buckets.get(key) ?? { ok: 0, all: 0, ms: [] };
    bucket.all++;
    if (status === 200) bucket.ok++;
    bucket.ms.push(ms);
    buckets.set(key, bucket);
  }
  return [...buckets].sort((a, b) => a[0] - b[0]).map(([key, b]) => {
    const sorted = b.ms.sort((x, y) => x - y);
    const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
    return {
      t: ((key + 0.5) * bucketMs) / 1000,
      successPct: (100 * b.ok) / b.all,
      p50: at(0.5),
      p99: at(0.99),
    };
  });
}

// Mark colours stay clear of the first series colours (blue, orange, green).
const KILL = "#000000";
const DETECTED = "#CC79A7";
const SERVING = "#56B4E9";

/** the chaos run's timeline with kill, detection and replacement marks. */
export function a3Chart(chaos: ChaosTimeline): Chart {
  const bucketMs = chaos.durationS > 20 ? 500 : 250;
  const buckets = chaosBuckets(chaos, bucketMs);
  const marks: Mark[] = [];
  for (const k of chaos.kills) {
    const s = k.at / 1000;
    marks.push({ x: s, label: `killed ${k.victim}`, color: KILL });
    if (k.detectedMs !== undefined) {
      marks.push({
        x: s + k.detectedMs / 1000,
        label: `ejected (+${k.detectedMs} ms)`,
        color: DETECTED,
      });
    }
    if (k.servingMs !== undefined) {
      marks.push({
        x: s + k.servingMs / 1000,
        label: `replacement serving (+${k.servingMs} ms)`,
        color: SERVING,
      });
    }
  }
  const failed = Object.values(chaos.failed).reduce((a, b) => a + b, 0);
  return [
    "a3-timeline.svg",
    timelineChart({
      title: `A-3: ${chaos.rate} req/s while a replica is killed every ${
        chaos.killIntervalMs / 1000
      } s`,
      subtitle: `${chaos.provider} replicas (N = ${chaos.replicas}), ${chaos.durationS} s, ` +
        `${formatNumber(chaos.sent)} requests, ${formatNumber(failed)} failed; ` +
        `${bucketMs} ms buckets`,
      xLabel: "Time (s)",
      panels: [
        {
          yLabel: "Success rate",
          yFormat: percent,
          yMin: Math.min(90, ...buckets.map((b) => Math.floor(b.successPct))),
          yMax: 100,
          series: [{
            name: "requests answered 200",
            points: buckets.map((b) => [b.t, b.successPct]),
          }],
        },
        {
          yLabel: "Latency (ms)",
          series: [
            { name: "p50", points: buckets.map((b) => [b.t, b.p50]) },
            { name: "p99", points: buckets.map((b) => [b.t, b.p99]) },
          ],
        },
      ],
      marks,
      markLegend: [
        { label: "replica killed", color: KILL },
        { label: "ejected by the balancer", color: DETECTED },
        { label: "replacement serving", color: SERVING },
      ],
    }),
  ];
}

/** Every chart of the report. */
export function allCharts(
  http: HttpResults,
  a4: InProcessResults,
  chaos: ChaosTimeline | undefined,
): Chart[] {
  const charts = [
    a1SpecChart(http),
    a1RingsChart(http),
    a2BalanceChart(http),
    a2BalanceChart(http, true),
    ...ringsIn(http).map((ring) => a2Chart(http, ring)),
    disruptionChart(a4),
    scaleChart(a4),
    scaleChart(a4, true),
  ];
  if (chaos) charts.push(a3Chart(chaos));
  return charts;
}
