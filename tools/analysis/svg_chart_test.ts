/**
 * Tests of the SVG chart writer: tick maths, escaping, well-formed output, element counts,
 * determinism and empty data. Also writes one sample of each chart to `/tmp/svg_samples/`.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  barChart,
  type BarChartOptions,
  escapeXml,
  formatNumber,
  lineChart,
  type LineChartOptions,
  niceTicks,
  PALETTE,
  timelineChart,
  type TimelineOptions,
} from "./svg_chart.ts";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const TAG = /^<([A-Za-z][\w:.-]*)((?:\s+[A-Za-z_:][\w:.-]*\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>/;
const CLOSE = /^<\/([A-Za-z][\w:.-]*)\s*>/;
const ATTR = /([A-Za-z_:][\w:.-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
const BAD_AMP = /&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/;

/**
 * A tiny well-formedness check: one `<svg>` root, every opened tag closed in order (self-closing
 * allowed), attribute values quoted and balanced, no duplicate attributes, no stray `&` or `<`.
 */
function assertWellFormed(svg: string): void {
  const stack: string[] = [];
  let roots = 0;
  let i = 0;
  while (i < svg.length) {
    const lt = svg.indexOf("<", i);
    const content = svg.slice(i, lt < 0 ? svg.length : lt);
    assert.doesNotMatch(content, BAD_AMP, `bad & in text near ${i}`);
    if (stack.length === 0) assert.match(content, /^\s*$/, `text outside the root near ${i}`);
    if (lt < 0) break;
    const rest = svg.slice(lt);
    const close = CLOSE.exec(rest);
    if (close !== null) {
      assert.equal(stack.pop(), close[1], `mismatched </${close[1]}> at ${lt}`);
      i = lt + close[0].length;
      continue;
    }
    const open = TAG.exec(rest);
    assert.ok(open !== null, `malformed tag at ${lt}: ${rest.slice(0, 80)}`);
    checkAttributes(open[2], lt);
    if (stack.length === 0) roots++;
    if (open[3] !== "/") stack.push(open[1]);
    i = lt + open[0].length;
  }
  assert.deepEqual(stack, [], "unclosed tags");
  assert.equal(roots, 1, "exactly one root element");
  assert.ok(svg.startsWith("<svg "), "root is <svg>");
}

function checkAttributes(attrs: string, at: number): void {
  const names = new Set<string>();
  for (const m of attrs.matchAll(ATTR)) {
    assert.ok(!names.has(m[1]), `duplicate attribute ${m[1]} at ${at}`);
    names.add(m[1]);
    assert.doesNotMatch(m[2] ?? m[3], BAD_AMP, `bad & in attribute ${m[1]} at ${at}`);
  }
}

/** How many times `needle` occurs in `s`. */
function count(s: string, needle: string): number {
  return s.split(needle).length - 1;
}

/** The text of every `<text>` with the given class. */
function texts(svg: string, cls: string): string[] {
  const re = new RegExp(`<text [^>]*class="${cls}"[^>]*>([^<]*)<`, "g");
  return [...svg.matchAll(re)].map((m) => m[1]);
}

/** The whole `<g …>…</g>` element (nested groups included) whose opening tag contains `marker`. */
function groupWith(svg: string, marker: string): string {
  const at = svg.indexOf(marker);
  assert.ok(at >= 0, `no ${marker}`);
  const from = svg.lastIndexOf("<g", at);
  const tags = /<g[\s>][^>]*?(\/?)>|<\/g>/g;
  tags.lastIndex = from;
  let depth = 0;
  for (let m = tags.exec(svg); m !== null; m = tags.exec(svg)) {
    if (m[0] === "</g>") depth--;
    else if (m[1] !== "/") depth++;
    if (depth === 0) return svg.slice(from, m.index + m[0].length);
  }
  throw new Error(`unclosed group ${marker}`);
}

/** Tick labels of the x axis (the y axis ticks come first in the document). */
function xTicks(svg: string): string[] {
  return texts(groupWith(svg, '<g class="x-axis"'), "tick");
}

// ---------------------------------------------------------------------------------------------
// Samples (realistic for the balancer docs)
// ---------------------------------------------------------------------------------------------

const pct = (v: number) => `${formatNumber(v)}%`;

function sampleBar(): BarChartOptions {
  return {
    title: "Requests per replica after 10,000 requests",
    subtitle: "Consistent-hash ring, 3 replicas, 100 virtual nodes each",
    xLabel: "Replica",
    yLabel: "Requests",
    categories: ["replica-1", "replica-2", "replica-3", "replica-4"],
    series: [
      { name: "ring (100 vnodes)", values: [3412, 3190, 3398, null] },
      { name: "round robin", values: [3334, 3333, 3333, null] },
      { name: "ring after adding replica-4", values: [2604, 2391, 2612, 2393] },
    ],
    referenceLines: [{ value: 3333, label: "even share (3,333)" }],
  };
}

function sampleLine(): LineChartOptions {
  const conc = [1, 2, 5, 10, 20, 50, 100, 200];
  return {
    title: "Latency under load",
    subtitle: "p50 and p99 by concurrency; a gap where the run timed out",
    xLabel: "Concurrent clients (log scale)",
    yLabel: "Latency (ms)",
    logX: true,
    series: [
      { name: "p50", points: conc.map((c) => [c, 1.2 + c * 0.04]) },
      {
        name: "p99",
        points: conc.map((c) => [c, c === 50 ? null : 3 + c * 0.21]),
      },
      {
        name: "p99 (direct, no balancer)",
        points: conc.map((c) => [c, 2.5 + c * 0.15]),
        dashed: true,
      },
    ],
    referenceLines: [{ value: 40, label: "SLO 40 ms" }],
  };
}

function sampleTimeline(): TimelineOptions {
  const t = Array.from({ length: 121 }, (_, i) => i * 0.5);
  const killed = (x: number) => (x >= 12 && x < 15) || (x >= 38 && x < 40.5);
  return {
    title: "Chaos run: steady load while replicas are killed",
    subtitle: "Each kill is healed by the balancer; errors stay below 1%",
    xLabel: "Time (s)",
    panels: [
      {
        yLabel: "Requests/s",
        series: [{
          name: "throughput",
          points: t.map((x) => [x, killed(x) ? 610 : 900 + 30 * Math.sin(x)]),
        }],
      },
      {
        yLabel: "Errors",
        yFormat: pct,
        series: [{ name: "error rate", points: t.map((x) => [x, killed(x) ? 0.8 : 0]) }],
        referenceLines: [{ value: 1, label: "1% budget" }],
      },
      {
        yLabel: "p99 latency (ms)",
        series: [
          {
            name: "p99",
            points: t.map((x) => [x, x > 55 ? null : killed(x) ? 48 : 12 + Math.cos(x)]),
          },
        ],
      },
    ],
    marks: [
      { x: 12, label: "kill replica-2", color: "#D55E00" },
      { x: 15, label: "replica-2 healed", color: "#777777" },
      { x: 38, label: "kill replica-1", color: "#D55E00" },
      { x: 40.5, label: "replica-1 healed", color: "#777777" },
    ],
    markLegend: [{ label: "replica killed", color: "#D55E00" }, {
      label: "replica healed",
      color: "#777777",
    }],
  };
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

Deno.test("niceTicks: 1/2/5 × 10^k steps covering the range", () => {
  assert.deepEqual(niceTicks(0, 10), [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(niceTicks(0, 97), [0, 20, 40, 60, 80, 100]);
  assert.deepEqual(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(-3, 7), [-4, -2, 0, 2, 4, 6, 8]);
  assert.deepEqual(niceTicks(1200, 1800), [1200, 1300, 1400, 1500, 1600, 1700, 1800]);
  assert.deepEqual(niceTicks(0, 1.512, 3), [0, 0.5, 1, 1.5, 2]);
  assert.deepEqual(niceTicks(0, 0.0095), [0, 0.002, 0.004, 0.006, 0.008, 0.01]);
  assert.deepEqual(niceTicks(0, 100, 10), [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
  assert.deepEqual(niceTicks(0, 0), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(10, 0), niceTicks(0, 10));
  assert.throws(() => niceTicks(0, Infinity), RangeError);
});

Deno.test("niceTicks: invariants over many ranges", () => {
  for (let i = 1; i < 400; i++) {
    const lo = ((i * 7919) % 1000) / 10 - 30;
    const hi = lo + ((i * 104729) % 100000) / (10 ** (i % 5));
    const ticks = niceTicks(lo, hi);
    const step = ticks[1] - ticks[0];
    const eps = step * 1e-6;
    assert.ok(ticks[0] <= lo + eps && ticks[ticks.length - 1] >= hi - eps, `covers ${lo}..${hi}`);
    assert.ok(ticks.length >= 4 && ticks.length <= 10, `count for ${lo}..${hi}: ${ticks}`);
    const mantissa = step / 10 ** Math.floor(Math.log10(step) + 1e-9);
    assert.ok([1, 2, 5].some((m) => Math.abs(mantissa - m) < 1e-6), `step ${step}`);
  }
});

Deno.test("formatNumber: compact values", () => {
  assert.equal(formatNumber(12345), "12,345");
  assert.equal(formatNumber(1.049), "1.05");
  assert.equal(formatNumber(84.44), "84.4");
  assert.equal(formatNumber(0.01234), "0.0123");
  assert.equal(formatNumber(-1234567.8), "-1,234,568");
  assert.equal(formatNumber(0), "0");
  assert.equal(pct(84.4), "84.4%");
});

Deno.test("escapeXml escapes < & > \" ' in the helper and in every chart text", () => {
  assert.equal(escapeXml(`<&>"'`), "&lt;&amp;&gt;&quot;&apos;");
  const evil = `<b>&"x"'`;
  const svgs = [
    barChart({
      ...sampleBar(),
      title: evil,
      subtitle: evil,
      xLabel: evil,
      yLabel: evil,
      categories: [evil, "b"],
      series: [{ name: evil, values: [1, 2] }, { name: "two", values: [2, 1] }],
      referenceLines: [{ value: 1, label: evil }],
    }),
    lineChart({
      ...sampleLine(),
      title: evil,
      series: [{ name: evil, points: [[1, 1], [2, 2]] }, { name: "b", points: [[1, 2]] }],
      marks: [{ x: 1.5, label: evil }],
    }),
    timelineChart({
      ...sampleTimeline(),
      title: evil,
      panels: [{ yLabel: evil, series: [{ name: evil, points: [[0, 1]] }] }],
      markLegend: [{ label: evil, color: "#000000" }],
    }),
  ];
  for (const svg of svgs) {
    assertWellFormed(svg);
    assert.ok(!svg.includes("<b>"), "raw markup leaked");
    assert.ok(svg.includes("&lt;b&gt;&amp;&quot;x&quot;&apos;"));
  }
});

Deno.test("every chart is well-formed XML with viewBox, background and system font", () => {
  const svgs = [
    barChart(sampleBar()),
    lineChart(sampleLine()),
    timelineChart(sampleTimeline()),
    lineChart({ ...sampleLine(), logX: false, width: 500, height: 300 }),
  ];
  for (const svg of svgs) {
    assertWellFormed(svg);
    assert.match(svg, /viewBox="0 0 \d+ \d+"/);
    assert.match(svg, /<rect class="background"[^>]*fill="#ffffff"/);
    assert.match(svg, /font-family="system-ui,[^"]*sans-serif"/);
  }
  assert.match(svgs[0], /^<svg [^>]*width="720" height="400"/);
  assert.match(svgs[3], /^<svg [^>]*width="500" height="300"/);
});

Deno.test("coordinates are rounded to one decimal place", () => {
  for (
    const svg of [barChart(sampleBar()), lineChart(sampleLine()), timelineChart(sampleTimeline())]
  ) {
    for (const m of svg.matchAll(/ (?:x|y|x1|x2|y1|y2|cx|cy|width|height|d)="([^"]*)"/g)) {
      assert.doesNotMatch(m[1], /\d\.\d\d/, `unrounded: ${m[0]}`);
    }
  }
});

Deno.test("barChart: one bar per non-null value, with tooltips and series groups", () => {
  const o = sampleBar();
  const svg = barChart(o);
  const nonNull = o.series.flatMap((s) => s.values).filter((v) => v !== null).length;
  assert.equal(count(svg, '<rect class="bar"'), nonNull);
  assert.equal(count(svg, '<g class="series"'), 3);
  const group = groupWith(svg, '<g class="series" data-series="round robin"');
  assert.equal(count(group, '<rect class="bar"'), 3);
  assert.ok(svg.includes("<title>round robin, replica-2: 3,333</title>"));
  assert.ok(svg.includes(`fill="${PALETTE[0]}"`) && svg.includes(`fill="${PALETTE[2]}"`));
});

Deno.test("barChart: the legend names every series; a single series has no legend", () => {
  const o = sampleBar();
  const legend = groupWith(barChart(o), '<g class="legend"');
  for (const s of o.series) assert.ok(legend.includes(`>${escapeXml(s.name)}</text>`), s.name);
  const single = barChart({ ...o, series: [o.series[0]] });
  assert.ok(!single.includes('class="legend"'));
});

Deno.test("barChart: value labels by default, off on request or with many bars", () => {
  const o = sampleBar();
  const values = texts(barChart(o), "value");
  assert.equal(values.length, 10);
  assert.ok(values.includes("3,412") && values.includes("2,393"));
  assert.equal(texts(barChart({ ...o, valueLabels: false }), "value").length, 0);
  const many = {
    ...o,
    categories: Array.from({ length: 13 }, (_, i) => `c${i}`),
    series: [
      { name: "a", values: Array.from({ length: 13 }, (_, i) => i) },
      { name: "b", values: Array.from({ length: 13 }, (_, i) => i * 2) },
    ],
  };
  assert.equal(texts(barChart(many), "value").length, 0);
  assert.equal(texts(barChart({ ...many, valueLabels: true }), "value").length, 26);
});

Deno.test("barChart: reference line is drawn and labelled, and fits in the y range", () => {
  const svg = barChart({
    ...sampleBar(),
    series: [{ name: "a", values: [10, 20] }],
    categories: ["x", "y"],
    referenceLines: [{ value: 95, label: "target" }],
  });
  assert.equal(count(svg, 'class="reference"'), 1);
  assert.ok(svg.includes(">target</text>"));
  const ticks = texts(svg, "tick").map(Number);
  assert.equal(ticks[0], 0);
  assert.ok(ticks[ticks.length - 1] >= 95);
});

Deno.test("barChart: y axis from 0 to a nice value above the data; yFormat applies", () => {
  const svg = barChart({
    ...sampleBar(),
    yFormat: pct,
    categories: ["a", "b"],
    series: [{ name: "hit rate", values: [84.4, 61] }],
    referenceLines: [],
  });
  const ticks = texts(svg, "tick");
  assert.equal(ticks[0], "0%");
  assert.equal(ticks[ticks.length - 1], "100%");
  assert.deepEqual(texts(svg, "value"), ["84.4%", "61%"]);
});

Deno.test("barChart: long category labels are rotated -30°", () => {
  const o = sampleBar();
  assert.ok(!barChart(o).includes("rotate(-30"));
  const long = barChart({
    ...o,
    categories: o.categories.map((c) => `${c}.internal.example.org:8080`),
  });
  assert.equal(count(long, "rotate(-30"), 4);
  assertWellFormed(long);
});

Deno.test("lineChart: a null y breaks one series into two path segments", () => {
  const svg = lineChart({
    title: "gap",
    xLabel: "x",
    yLabel: "y",
    series: [{ name: "s", points: [[0, 1], [1, 2], [2, null], [3, 2], [4, 3]] }],
  });
  const series = groupWith(svg, '<g class="series" data-series="s"');
  assert.equal(count(series, '<path class="line"'), 2);
  assert.equal(count(series, '<circle class="dot"'), 4);
  assert.ok(!svg.includes('class="legend"'), "one series needs no legend");
});

Deno.test("lineChart: legend, dashed series, reference line and marks", () => {
  const o = sampleLine();
  const svg = lineChart({ ...o, marks: [{ x: 20, label: "cache warm" }] });
  const legend = groupWith(svg, '<g class="legend"');
  for (const s of o.series) assert.ok(legend.includes(`>${escapeXml(s.name)}</text>`));
  assert.ok(svg.includes('stroke-dasharray="6 4"'));
  assert.equal(count(svg, 'class="reference"'), 1);
  assert.equal(count(svg, '<line class="mark"'), 1);
  assert.ok(svg.includes(">cache warm</text>"));
});

Deno.test("lineChart: log x axis has 1/2/5 ticks and rejects x <= 0", () => {
  const svg = lineChart(sampleLine());
  assert.deepEqual(xTicks(svg), ["1", "2", "5", "10", "20", "50", "100", "200"]);
  const base = { title: "t", xLabel: "x", yLabel: "y", logX: true };
  assert.throws(
    () => lineChart({ ...base, series: [{ name: "s", points: [[0, 1], [10, 2]] }] }),
    (e: unknown) => e instanceof RangeError && /x > 0.*"s".*x = 0/.test(e.message),
  );
  assert.throws(
    () => lineChart({ ...base, series: [], marks: [{ x: -1, label: "m" }] }),
    RangeError,
  );
  const wide = lineChart({ ...base, series: [{ name: "s", points: [[1, 1], [1e6, 2]] }] });
  assert.deepEqual(xTicks(wide), ["1", "10", "100", "1,000", "10,000", "100,000", "1,000,000"]);
});

Deno.test("lineChart: dots default on for short series, off for long ones", () => {
  const pts = (n: number): [number, number][] => Array.from({ length: n }, (_, i) => [i, i]);
  const base = { title: "t", xLabel: "x", yLabel: "y" };
  assert.equal(
    count(lineChart({ ...base, series: [{ name: "a", points: pts(30) }] }), 'class="dot"'),
    30,
  );
  assert.equal(
    count(lineChart({ ...base, series: [{ name: "a", points: pts(31) }] }), 'class="dot"'),
    0,
  );
  assert.equal(
    count(
      lineChart({ ...base, dots: false, series: [{ name: "a", points: pts(5) }] }),
      'class="dot"',
    ),
    0,
  );
});

Deno.test("lineChart: negative data extends the y axis below 0", () => {
  const svg = lineChart({
    title: "t",
    xLabel: "x",
    yLabel: "y",
    series: [{ name: "a", points: [[0, -3], [1, 7]] }],
  });
  const ticks = texts(svg, "tick");
  assert.ok(ticks.includes("-4") && ticks.includes("8"), ticks.join(" "));
  assert.ok(svg.includes('class="zero"'));
});

Deno.test("timelineChart: one plot group per panel, marks repeated in each", () => {
  const o = sampleTimeline();
  const svg = timelineChart(o);
  assertWellFormed(svg);
  assert.equal(count(svg, '<g class="panel"'), 3);
  assert.equal(count(svg, '<line class="mark"'), 4 * 3);
  const legend = groupWith(svg, '<g class="legend"');
  for (const name of ["throughput", "error rate", "p99", "replica killed", "replica healed"]) {
    assert.ok(legend.includes(`>${name}</text>`), name);
  }
  assert.ok(!svg.includes('class="mark-label"'), "with markLegend, labels are tooltips only");
  const unlabelled = timelineChart({ ...o, markLegend: undefined });
  assert.equal(count(unlabelled, 'class="mark-label"'), 4);
  assert.ok(svg.includes("<title>kill replica-2</title>"));
  assert.ok(texts(svg, "tick").includes("1%"), "panel yFormat applies");
});

Deno.test("the same input gives the same string", () => {
  assert.equal(barChart(sampleBar()), barChart(sampleBar()));
  assert.equal(lineChart(sampleLine()), lineChart(sampleLine()));
  assert.equal(timelineChart(sampleTimeline()), timelineChart(sampleTimeline()));
});

Deno.test("empty series and all-null values draw axes and a no-data note", () => {
  const frame = { title: "empty", xLabel: "x", yLabel: "y" };
  const svgs = [
    barChart({ ...frame, categories: [], series: [] }),
    barChart({ ...frame, categories: ["a", "b"], series: [{ name: "s", values: [null, null] }] }),
    lineChart({ ...frame, series: [] }),
    lineChart({ ...frame, series: [{ name: "s", points: [[1, null], [2, null]] }] }),
    lineChart({ ...frame, logX: true, series: [{ name: "s", points: [] }] }),
    timelineChart({ ...frame, panels: [] }),
    timelineChart({
      ...frame,
      panels: [{ yLabel: "y", series: [] }],
      marks: [{ x: 3, label: "m" }],
    }),
  ];
  for (const svg of svgs) {
    assertWellFormed(svg);
    assert.ok(svg.includes(">No data</text>"));
    assert.ok(texts(svg, "tick").every((t) => !t.startsWith("-")), "y axis from 0 up");
    assert.ok(!/NaN|Infinity/.test(svg), "no NaN/Infinity coordinates");
  }
});

Deno.test("writes one sample of each chart to /tmp/svg_samples", async () => {
  const dir = "/tmp/svg_samples";
  await Deno.mkdir(dir, { recursive: true });
  const samples: Record<string, string> = {
    bar: barChart(sampleBar()),
    bar_rotated: barChart({
      title: "Median latency by backend host",
      xLabel: "Backend",
      yLabel: "Latency (ms)",
      categories: Array.from({ length: 9 }, (_, i) => `replica-${i + 1}.balancer.internal:80${i}0`),
      series: [{ name: "p50", values: [1.21, 1.18, 1.4, null, 1.05, 1.33, 1.27, 1.19, 2.02] }],
    }),
    line_log: lineChart(sampleLine()),
    line_marks: lineChart({
      title: "Throughput during a rolling restart",
      xLabel: "Time (s)",
      yLabel: "Requests/s",
      series: [
        { name: "balancer", points: Array.from({ length: 60 }, (_, i) => [i, 800 + (i % 7) * 9]) },
      ],
      marks: [{ x: 10, label: "restart r1" }, { x: 12, label: "r1 up" }, {
        x: 30,
        label: "restart r2",
      }],
    }),
    timeline: timelineChart(sampleTimeline()),
    empty: lineChart({ title: "Nothing measured yet", xLabel: "x", yLabel: "y", series: [] }),
  };
  for (const [name, svg] of Object.entries(samples)) {
    assertWellFormed(svg);
    await Deno.writeTextFile(`${dir}/${name}.svg`, svg);
  }
});
