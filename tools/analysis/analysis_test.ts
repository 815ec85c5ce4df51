/**
 * The analysis pieces without HTTP: experiments, charts and the report from synthetic runs.
 * (`analyze_test.ts` runs the whole `deno task analyze --quick`.)
 */

import assert from "node:assert/strict";
import { allCharts, chaosBuckets } from "./charts.ts";
import {
  buildRing,
  disruption,
  loadStats,
  seededIds,
  specRingAnatomy,
  spread,
  STUDIED_RINGS,
} from "./experiments.ts";
import { renderReport } from "./report.ts";
import type { ChaosTimeline, HttpResults, InProcessResults, RunMeta } from "./results.ts";

const META: RunMeta = {
  startedAt: "2026-11-25T12:00:00.000Z",
  quick: true,
  seed: 42,
  deno: "2.9.6",
  cpus: 2,
};

Deno.test("seeded ids are 6-digit and reproducible", () => {
  const ids = seededIds(1000, 7);
  assert.deepEqual(ids, seededIds(1000, 7));
  assert.notDeepEqual(ids, seededIds(1000, 8));
  assert.ok(ids.every((id) => id >= 100_000 && id <= 999_999));
});

Deno.test("loadStats: mean, max, min, max/mean, cv", () => {
  const stats = loadStats({ a: 10, b: 20, c: 30 });
  assert.equal(stats.mean, 20);
  assert.equal(stats.max, 30);
  assert.equal(stats.min, 10);
  assert.equal(stats.maxOverMean, 1.5);
  assert.ok(Math.abs(stats.cv - Math.sqrt(200 / 3) / 20) < 1e-12);
  assert.equal(loadStats({}).maxOverMean, 0);
});

Deno.test("disruption: exactly consistent rings move no stray key, and about the ideal", () => {
  const keys = seededIds(20_000, 1);
  for (const algorithm of ["ketama", "rendezvous"] as const) {
    const d = disruption({ algorithm }, 4, keys);
    assert.equal(d.add.stray, 0);
    assert.equal(d.remove.worst.stray, 0);
    assert.equal(d.add.ideal, 0.2);
    // Every key of the leaver moves, so the mean over leavers is exactly 1/(N+1).
    assert.ok(Math.abs(d.remove.mean.moved - 0.2) < 1e-9, `${algorithm}: ${d.remove.mean.moved}`);
  }
  // The slot ring places its members in ordinal order: the joiner (the highest ordinal) moves
  // keys only to itself; a leaver whose virtual nodes had pushed others along by probing lets
  // them go home, which moves a few keys between the members that stay.
  const spec = disruption({ algorithm: "spec" }, 4, keys);
  assert.equal(spec.add.stray, 0);
  assert.ok(spec.remove.worst.stray < 0.05, String(spec.remove.worst.stray));
  assert.ok(spec.remove.mean.moved >= 0.2 - 1e-9, String(spec.remove.mean.moved));
  const ketama = disruption({ algorithm: "ketama" }, 4, keys);
  assert.ok(Math.abs(ketama.add.moved - 0.2) < 0.03, String(ketama.add.moved));
});

Deno.test("the spec ring's anatomy: 87 reachable slots, Server 1 owns the wrap-around arc", () => {
  const anatomy = specRingAnatomy();
  assert.equal(anatomy.reachableSlots, 87);
  assert.equal(anatomy.virtualNodes.length, 27);
  assert.equal(anatomy.virtualNodes[0].slot, 26);
  assert.equal(anatomy.wrapOwner, "Server 1");
  assert.ok(anatomy.wrapShare > 0.75 && anatomy.wrapShare < 0.85, String(anatomy.wrapShare));
});

/** Synthetic results: the rings' real in-process spread stands in for the HTTP counts. */
function synthetic(): { http: HttpResults; a4: InProcessResults; chaos: ChaosTimeline } {
  const ids = seededIds(2000, 42);
  const http: HttpResults = {
    meta: META,
    concurrency: 32,
    runs: STUDIED_RINGS.flatMap((ring) =>
      [2, 3, 4].map((n) => ({
        ring: ring.label,
        config: ring.config,
        n,
        requests: ids.length,
        failed: 0,
        elapsedMs: 1000,
        stats: spread(buildRing(ring.config, n)!, ids),
      }))
    ),
  };
  const keys = seededIds(5000, 43);
  const a4: InProcessResults = {
    meta: META,
    disruptionKeys: keys.length,
    scaleKeys: keys.length,
    disruption: STUDIED_RINGS.map((ring) => ({
      ring: ring.label,
      config: ring.config,
      rows: [2, 3].map((n) => disruption(ring.config, n, keys)),
    })),
    scale: STUDIED_RINGS.map((ring) => ({
      ring: ring.label,
      config: ring.config,
      rows: [3, 100].map((n) => {
        const built = buildRing(ring.config, n);
        if (!built) return { n, stats: null, lookupNs: null };
        const { counts: _, ...stats } = spread(built, keys);
        return { n, stats, lookupNs: 50 };
      }),
    })),
    anatomy: specRingAnatomy(),
  };
  const chaos: ChaosTimeline = {
    provider: "process",
    replicas: 3,
    rate: 100,
    durationS: 4,
    killIntervalMs: 2000,
    sent: 400,
    shed: 0,
    failed: { "HTTP 502": 1 },
    latencyMs: { p50: 2, p99: 9, max: 40 },
    kills: [{ at: 2000, victim: "Server 2", detectedMs: 10, restoredMs: 50, servingMs: 100 }],
    samples: Array.from({ length: 400 }, (_, i) => [i * 10, 2 + (i % 7), i === 201 ? 502 : 200]),
  };
  return { http, a4, chaos };
}

Deno.test("the report: every chart it shows exists, and no number is missing", () => {
  const { http, a4, chaos } = synthetic();
  const charts = allCharts(http, a4, chaos);
  const names = charts.map(([name]) => name);
  assert.ok(names.includes("a1-spec.svg") && names.includes("a3-timeline.svg"));
  for (const [, svg] of charts) {
    assert.match(svg, /^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.ok(svg.trimEnd().endsWith("</svg>"));
    assert.doesNotMatch(svg, /NaN|undefined|Infinity/);
  }
  const report = renderReport(http, a4, chaos, "a test", charts);
  const linked = [...report.matchAll(/\]\(([a-z0-9-]+\.svg)\)/g)].map((m) => m[1]);
  for (const name of linked) assert.ok(names.includes(name), `REPORT.md links a missing ${name}`);
  for (const name of names) assert.ok(linked.includes(name), `${name} is not in REPORT.md`);
  assert.doesNotMatch(report, /NaN|undefined|Infinity|\[object/);
  assert.match(report, /87 of the 512 slots/);
  assert.match(report, /Quick run/);
  // The A-3 table counts the injected failure.
  assert.match(report, /\| failed \| 1 /);
});

Deno.test("chaos buckets: success rate and percentiles per window", () => {
  const { chaos } = synthetic();
  const buckets = chaosBuckets(chaos, 1000);
  assert.equal(buckets.length, 4);
  assert.equal(buckets[0].t, 0.5);
  assert.equal(buckets[2].successPct, 99);
  assert.equal(buckets[1].successPct, 100);
  assert.ok(buckets.every((b) => b.p50 <= b.p99));
});

Deno.test("the report without a chaos run says how to get one", () => {
  const { http, a4 } = synthetic();
  const charts = allCharts(http, a4, undefined);
  assert.ok(!charts.some(([name]) => name === "a3-timeline.svg"));
  const report = renderReport(http, a4, undefined, "", charts);
  assert.match(report, /Not run \(`--skip-chaos`\)/);
  assert.doesNotMatch(report, /a3-timeline\.svg/);
});
