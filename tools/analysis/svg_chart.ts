/**
 * A small, dependency-free, deterministic SVG chart writer for the analysis docs
 * (`docs/analysis/*.svg`): grouped bar charts, line charts and stacked timelines.
 *
 * Every chart has a white background, a title (optional subtitle), axis titles, "nice" ticks
 * (1/2/5 × 10^k), light horizontal gridlines, a legend when there is more than one series, and
 * the Okabe-Ito colourblind-friendly palette. Output depends only on the input: the same
 * options always give the same string, with coordinates rounded to one decimal place.
 *
 * @example
 * ```ts
 * const svg = barChart({
 *   title: "Requests per replica",
 *   xLabel: "Replica",
 *   yLabel: "Requests",
 *   categories: ["r1", "r2", "r3"],
 *   series: [{ name: "before", values: [120, 98, 131] }],
 * });
 * ```
 *
 * @module
 */

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

/** What every single-plot chart has: titles, size and the y axis format. */
export interface ChartFrame {
  /** Chart title, drawn top-left. */
  title: string;
  /** Smaller grey line under the title. */
  subtitle?: string;
  /** Width in px (default 720). */
  width?: number;
  /** Height in px (default 400). */
  height?: number;
  /** Title of the x axis. */
  xLabel: string;
  /** Title of the y axis. */
  yLabel: string;
  /** Formats y tick labels, value labels and tooltips (default: compact, e.g. `12,345`). */
  yFormat?: (v: number) => string;
}

/** A dashed horizontal line at `value`, labelled at its right end. */
export interface ReferenceLine {
  /** Y value of the line. */
  value: number;
  /** Text drawn above the right end of the line. */
  label: string;
}

/** A vertical line across the plot at `x` (e.g. a timeline event). */
export interface Mark {
  /** X value of the line. */
  x: number;
  /** Label (drawn above the plot, and always as the line's tooltip). */
  label: string;
  /** Line colour (default grey). */
  color?: string;
}

/** One bar series: one value per category; `null` means no bar. */
export interface BarSeries {
  /** Series name (legend, tooltips). */
  name: string;
  /** One value per category, in category order. */
  values: (number | null)[];
}

/** Options of {@link barChart}. */
export interface BarChartOptions extends ChartFrame {
  /** Category names along the x axis. */
  categories: string[];
  /** One bar per series within each category group. */
  series: BarSeries[];
  /** Y axis minimum (default 0, or a nice value below negative data). */
  yMin?: number;
  /** Y axis maximum (default a nice value above the data and reference lines). */
  yMax?: number;
  /** Print each value above its bar (default: true when there are at most 24 bars). */
  valueLabels?: boolean;
  /** Dashed horizontal lines. */
  referenceLines?: ReferenceLine[];
}

/** One line series; a `null` y breaks the line. Points are drawn in the given order. */
export interface LineSeries {
  /** Series name (legend, tooltips). */
  name: string;
  /** `[x, y]` points; `y === null` (or a non-finite number) breaks the line. */
  points: [number, number | null][];
  /** Draw the line dashed. */
  dashed?: boolean;
}

/** Options of {@link lineChart}. */
export interface LineChartOptions extends ChartFrame {
  /** The lines. */
  series: LineSeries[];
  /** Logarithmic x axis (every x must then be positive). */
  logX?: boolean;
  /** Formats x tick labels. */
  xFormat?: (v: number) => string;
  /** Explicit x tick positions (the x range grows to include them). */
  xTicks?: number[];
  /** Y axis minimum (default 0, or a nice value below negative data). */
  yMin?: number;
  /** Y axis maximum (default a nice value above the data and reference lines). */
  yMax?: number;
  /** Dashed horizontal lines. */
  referenceLines?: ReferenceLine[];
  /** Vertical event lines. */
  marks?: Mark[];
  /** Circles at the points (default: true when no series has more than 30 points). */
  dots?: boolean;
}

/** One panel of {@link timelineChart}: its own y axis, sharing the x axis. */
export interface Panel {
  /** Title of this panel's y axis. */
  yLabel: string;
  /** The lines of this panel. A name used in several panels keeps one colour. */
  series: LineSeries[];
  /** Y axis minimum (default 0, or a nice value below negative data). */
  yMin?: number;
  /** Y axis maximum (default a nice value above the data). */
  yMax?: number;
  /** Formats this panel's y tick labels and tooltips. */
  yFormat?: (v: number) => string;
  /** Dashed horizontal lines. */
  referenceLines?: ReferenceLine[];
}

/** Options of {@link timelineChart}. */
export interface TimelineOptions {
  /** Chart title. */
  title: string;
  /** Smaller grey line under the title. */
  subtitle?: string;
  /** Width in px (default 720). */
  width?: number;
  /** Height in px (default 400, or 110 + 160 per panel when that is more). */
  height?: number;
  /** Title of the shared x axis. */
  xLabel: string;
  /** Panels, top to bottom. */
  panels: Panel[];
  /** Vertical lines drawn in every panel. */
  marks?: Mark[];
  /**
   * Legend entries for the marks. When given, mark labels are only tooltips; when absent,
   * they are printed above the top panel.
   */
  markLegend?: { label: string; color: string }[];
}

/** The Okabe-Ito colourblind-friendly palette, in the order series get their colours. */
export const PALETTE: readonly string[] = [
  "#0072B2",
  "#E69F00",
  "#009E73",
  "#D55E00",
  "#CC79A7",
  "#56B4E9",
  "#F0E442",
  "#000000",
];

// ---------------------------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------------------------

/**
 * "Nice" tick values covering `[min, max]`: a step of 1, 2 or 5 × 10^k giving about `count`
 * intervals (between `count / √2` and `count · √2`, as in d3), from the largest multiple of the
 * step ≤ `min` to the smallest ≥ `max`.
 *
 * Bounds are compared with a tolerance of 1e-9 step, so rounding noise such as
 * `0.1 + 0.2` does not add a tick.
 *
 * @example niceTicks(0, 97) // [0, 20, 40, 60, 80, 100]
 * @throws {RangeError} when a bound is not finite.
 */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) {
    throw new RangeError(`niceTicks: bounds must be finite numbers, got ${min} and ${max}`);
  }
  let lo = Math.min(min, max);
  let hi = Math.max(min, max);
  if (lo === hi) {
    const d = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    if (lo !== 0) lo -= d;
    hi += d;
  }
  const step = niceStep((hi - lo) / Math.max(1, Math.floor(count)));
  const first = Math.floor(lo / step + 1e-9);
  const last = Math.ceil(hi / step - 1e-9);
  const dec = decimalsFor(step);
  const ticks: number[] = [];
  for (let i = first; i <= last; i++) ticks.push(Number((i * step).toFixed(dec)) + 0);
  return ticks;
}

/** The 1/2/5 × 10^k step nearest to `rough` (on a log scale, as d3 does). */
function niceStep(rough: number): number {
  const mag = 10 ** Math.floor(Math.log10(rough));
  const norm = rough / mag;
  const m = norm >= Math.sqrt(50) ? 10 : norm >= Math.sqrt(10) ? 5 : norm >= Math.sqrt(2) ? 2 : 1;
  return Number((m * mag).toPrecision(2));
}

/** Decimal places needed to print multiples of `step` exactly. */
function decimalsFor(step: number): number {
  return Math.min(20, Math.max(0, -Math.floor(Math.log10(step) + 1e-9)));
}

/** `"-12345.5"` → `"-12,345.5"`. */
function groupThousands(s: string): string {
  const [int, frac] = s.split(".");
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return frac === undefined ? grouped : `${grouped}.${frac}`;
}

/** Drops trailing zeros of a fixed-point string: `"1.50"` → `"1.5"`, `"2.00"` → `"2"`. */
function trimZeros(s: string): string {
  return s.includes(".") ? s.replace(/\.?0+$/, "") : s;
}

/**
 * Formats a value compactly with about three significant digits and thousands separators:
 * `12345` → `"12,345"`, `84.44` → `"84.4"`, `1.049` → `"1.05"`, `0.01234` → `"0.0123"`.
 * For a percentage pass e.g. `(v) => formatNumber(v) + "%"` as a chart's `yFormat`.
 */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  let s: string;
  if (a >= 100) s = v.toFixed(0);
  else if (a >= 10) s = trimZeros(v.toFixed(1));
  else if (a >= 1) s = trimZeros(v.toFixed(2));
  else if (a === 0) s = "0";
  else s = trimZeros(v.toPrecision(3));
  return s === "-0" ? "0" : groupThousands(s);
}

/** A tick formatter printing every multiple of `step` with the same number of decimals. */
function tickFormat(step: number): (v: number) => string {
  const dec = Number.isFinite(step) && step > 0 ? decimalsFor(step) : 0;
  return (v) => {
    const s = v.toFixed(dec);
    return groupThousands(/^-0(\.0*)?$/.test(s) ? s.slice(1) : s);
  };
}

/** Finite numbers only (drops `null`, `NaN`, `±Infinity`). */
function finite(values: readonly (number | null | undefined)[]): number[] {
  return values.filter((v): v is number => typeof v === "number" && Number.isFinite(v));
}

// ---------------------------------------------------------------------------------------------
// SVG text helpers
// ---------------------------------------------------------------------------------------------

/** Escapes `& < > " '` for use in SVG/XML text and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => XML_ESCAPES[c]);
}

const XML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
};

/** A coordinate rounded to one decimal place, never `-0`. */
function num(v: number): string {
  const r = Math.round(v * 10) / 10;
  return String(r === 0 ? 0 : r);
}

type Attrs = Record<string, string | number | undefined>;

/** ` k="v"` pairs; numbers are rounded with {@link num}, strings escaped, `undefined` skipped. */
function attrText(attrs: Attrs): string {
  let s = "";
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== undefined) s += ` ${k}="${typeof v === "number" ? num(v) : escapeXml(v)}"`;
  }
  return s;
}

/** One element; children are raw SVG, concatenated. */
function el(tag: string, attrs: Attrs, ...children: string[]): string {
  const body = children.join("");
  const a = attrText(attrs);
  return body === "" ? `<${tag}${a}/>` : `<${tag}${a}>${body}</${tag}>`;
}

/** A group whose children go one per line. */
function group(attrs: Attrs, children: string[]): string {
  const body = children.filter((c) => c !== "");
  const a = attrText(attrs);
  return body.length === 0 ? `<g${a}/>` : `<g${a}>\n${body.join("\n")}\n</g>`;
}

/** A `<text>` element with escaped content. */
function text(x: number, y: number, content: string, attrs: Attrs = {}): string {
  return el("text", { x, y, ...attrs }, escapeXml(content));
}

/** A `<title>` (tooltip) element with escaped content. */
function tooltip(content: string): string {
  return el("title", {}, escapeXml(content));
}

/** White outline behind text drawn over data. */
const HALO: Attrs = {
  "paint-order": "stroke",
  stroke: "#ffffff",
  "stroke-width": 3,
  "stroke-linejoin": "round",
};

/** Rough rendered width of `s` in a sans-serif font of `size` px. */
function textWidth(s: string, size: number): number {
  let w = 0;
  for (const ch of s) {
    if ("il.,:;|!'`".includes(ch)) w += 0.28;
    else if ("fjrtI()[]{} -/".includes(ch)) w += 0.36;
    else if ("mwMW@%".includes(ch)) w += 0.88;
    else if (ch >= "A" && ch <= "Z") w += 0.68;
    else w += 0.6;
  }
  return w * size;
}

/** `s` cut to `max` characters with an ellipsis. */
function truncate(s: string, max: number): string {
  const chars = [...s];
  return chars.length <= max ? s : `${chars.slice(0, max - 1).join("")}…`;
}

/** FNV-1a hash in base 36: makes clip-path ids differ between charts inlined in one page. */
function hash(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(36);
}

// ---------------------------------------------------------------------------------------------
// Layout pieces
// ---------------------------------------------------------------------------------------------

const FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif";
const INK = "#1a1a1a";
const MUTED = "#555555";
const GRID = "#e5e5e5";
const AXIS = "#888888";
const PAD = 16;

/** The plot rectangle. */
interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** A map from data value to pixel. */
type Scale = (v: number) => number;

function linearScale(d0: number, d1: number, r0: number, r1: number): Scale {
  const k = d1 === d0 ? 0 : (r1 - r0) / (d1 - d0);
  return (v) => r0 + (v - d0) * k;
}

function logScale(d0: number, d1: number, r0: number, r1: number): Scale {
  const s = linearScale(Math.log10(d0), Math.log10(d1), r0, r1);
  return (v) => s(Math.log10(v));
}

/** The SVG root with background and accessible title. */
function svgRoot(width: number, height: number, title: string, body: string[]): string {
  const open = `<svg${
    attrText({
      xmlns: "http://www.w3.org/2000/svg",
      width,
      height,
      viewBox: `0 0 ${num(width)} ${num(height)}`,
      role: "img",
      "font-family": FONT,
      "font-size": 12,
      fill: INK,
    })
  }>`;
  return [
    open,
    tooltip(title),
    el("rect", { class: "background", x: 0, y: 0, width, height, fill: "#ffffff" }),
    ...body.filter((b) => b !== ""),
    "</svg>",
    "",
  ].join("\n");
}

/** A legend entry. */
interface LegendItem {
  label: string;
  color: string;
  swatch: "bar" | "line" | "dashed" | "mark";
}

function swatch(item: LegendItem, x: number, y: number): string {
  switch (item.swatch) {
    case "bar":
      return el("rect", { x, y: y - 6, width: 12, height: 12, rx: 2, fill: item.color });
    case "mark":
      return el("line", {
        x1: x + 6,
        y1: y - 7,
        x2: x + 6,
        y2: y + 7,
        stroke: item.color,
        "stroke-width": 2,
      });
    default:
      return el("line", {
        x1: x,
        y1: y,
        x2: x + 20,
        y2: y,
        stroke: item.color,
        "stroke-width": 2.5,
        "stroke-dasharray": item.swatch === "dashed" ? "5 3" : undefined,
      });
  }
}

function swatchWidth(item: LegendItem): number {
  return item.swatch === "line" || item.swatch === "dashed" ? 20 : 12;
}

/** Title, subtitle and a wrapping one-line-per-row legend; `bottom` is the y below them. */
function header(
  title: string,
  subtitle: string | undefined,
  items: LegendItem[],
  width: number,
): { svg: string; bottom: number } {
  const parts: string[] = [];
  const avail = width - 2 * PAD;
  const titleSize = textWidth(title, 18) * BOLD <= avail ? 18 : 16;
  let y = 6;
  for (const line of wrapWords(title, titleSize * BOLD, avail)) {
    y += titleSize + 4;
    parts.push(text(PAD, y, line, { class: "title", "font-size": titleSize, "font-weight": 600 }));
  }
  if (subtitle !== undefined && subtitle !== "") {
    y += 3;
    for (const line of wrapWords(subtitle, 13, avail)) {
      y += 17;
      parts.push(text(PAD, y, line, { class: "subtitle", "font-size": 13, fill: MUTED }));
    }
  }
  if (items.length > 0) {
    const legend = legendRows(items, width, y + 20);
    parts.push(legend.svg);
    y = legend.lastRowY;
  }
  return { svg: parts.join("\n"), bottom: y + 12 };
}

/** Bold text is about this much wider than regular text. */
const BOLD = 1.18;

/** Greedy word wrap of `s` into lines of at most `maxWidth` px (a long word stays whole). */
function wrapWords(s: string, size: number, maxWidth: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of s.split(/\s+/).filter((w) => w !== "")) {
    const next = line === "" ? word : `${line} ${word}`;
    if (line !== "" && textWidth(next, size) > maxWidth) {
      lines.push(line);
      line = word;
    } else line = next;
  }
  return line === "" && lines.length > 0 ? lines : [...lines, line];
}

function legendRows(
  items: LegendItem[],
  width: number,
  firstRowY: number,
): { svg: string; lastRowY: number } {
  const out: string[] = [];
  let x = PAD;
  let y = firstRowY;
  for (const item of items) {
    const w = swatchWidth(item) + 6 + textWidth(item.label, 12);
    if (x > PAD && x + w > width - PAD) {
      x = PAD;
      y += 20;
    }
    out.push(group({ class: "legend-item", "data-legend": item.label }, [
      swatch(item, x, y),
      text(x + swatchWidth(item) + 6, y, item.label, { dy: "0.35em", fill: "#333333" }),
    ]));
    x += w + 16;
  }
  return { svg: group({ class: "legend" }, out), lastRowY: y };
}

/** A y axis: domain, ticks inside it, and the tick formatter. */
interface YAxis {
  lo: number;
  hi: number;
  ticks: number[];
  format: (v: number) => string;
}

/** Y range settings shared by all charts. */
interface YRange {
  yMin?: number;
  yMax?: number;
  yFormat?: (v: number) => string;
}

/**
 * Y domain from data and reference lines: includes 0, explicit bounds win, otherwise extended
 * to nice ticks; `headroom` (a fraction of the range) leaves space above the data for labels.
 */
function yAxisModel(values: number[], r: YRange, count: number, headroom: number): YAxis {
  if (r.yMin !== undefined && r.yMax !== undefined && !(r.yMax > r.yMin)) {
    throw new RangeError(`yMax (${r.yMax}) must be greater than yMin (${r.yMin})`);
  }
  const data = finite(values);
  let lo = r.yMin ?? Math.min(0, ...data);
  let hi = r.yMax ?? Math.max(0, ...data);
  if (r.yMax === undefined) {
    hi = Math.max(hi, lo);
    if (hi > lo && data.length > 0) hi += (hi - lo) * headroom;
    if (hi === lo) hi = lo + (Math.abs(lo) || 1);
  } else if (lo >= hi) {
    lo = hi - (Math.abs(hi) || 1);
  }
  const nice = niceTicks(lo, hi, count);
  const dLo = r.yMin ?? nice[0];
  let dHi = r.yMax ?? nice[nice.length - 1];
  if (!(dHi > dLo)) dHi = dLo + 1;
  const eps = (dHi - dLo) * 1e-9;
  const ticks = nice.filter((t) => t >= dLo - eps && t <= dHi + eps);
  const step = nice.length > 1 ? nice[1] - nice[0] : 1;
  return { lo: dLo, hi: dHi, ticks, format: r.yFormat ?? tickFormat(step) };
}

/** Space the y tick labels and the rotated y title need left of the plot. */
function leftMargin(axis: YAxis): number {
  const widest = Math.max(0, ...axis.ticks.map((t) => textWidth(axis.format(t), 12)));
  return PAD + 16 + 10 + widest + 8;
}

/** Tick count for a plot of height `h`. */
function yTickCount(h: number): number {
  return Math.max(3, Math.min(8, Math.round(h / 55)));
}

/** Gridlines, y tick labels and the rotated y title. */
function yAxisSvg(box: Box, axis: YAxis, y: Scale, label: string): string {
  const parts: string[] = [];
  for (const t of axis.ticks) {
    const py = y(t);
    parts.push(el("line", {
      class: "grid",
      x1: box.x,
      y1: py,
      x2: box.x + box.w,
      y2: py,
      stroke: GRID,
      "stroke-width": 1,
    }));
    parts.push(
      text(box.x - 8, py, axis.format(t), { class: "tick", dy: "0.32em", "text-anchor": "end" }),
    );
  }
  const cy = box.y + box.h / 2;
  const widest = Math.max(0, ...axis.ticks.map((t) => textWidth(axis.format(t), 12)));
  const tx = Math.max(PAD + 14, box.x - 8 - widest - 12);
  const size = Math.max(9, Math.min(13, box.h / Math.max(1, textWidth(label, 1))));
  parts.push(text(tx, cy, label, {
    class: "axis-title",
    "font-size": size,
    fill: "#333333",
    "text-anchor": "middle",
    transform: `rotate(-90 ${num(tx)} ${num(cy)})`,
  }));
  return group({ class: "y-axis" }, parts);
}

/** The baseline of the plot, plus a darker zero line when 0 is inside the y domain. */
function baselines(box: Box, axis: YAxis, y: Scale): string {
  const parts = [el("line", {
    class: "axis",
    x1: box.x,
    y1: box.y + box.h,
    x2: box.x + box.w,
    y2: box.y + box.h,
    stroke: AXIS,
    "stroke-width": 1,
  })];
  if (axis.lo < 0 && axis.hi > 0) {
    parts.push(el("line", {
      class: "zero",
      x1: box.x,
      y1: y(0),
      x2: box.x + box.w,
      y2: y(0),
      stroke: "#999999",
      "stroke-width": 1,
    }));
  }
  return parts.join("\n");
}

function xTitle(box: Box, height: number, label: string): string {
  return text(box.x + box.w / 2, height - 14, label, {
    class: "axis-title",
    "font-size": 13,
    fill: "#333333",
    "text-anchor": "middle",
  });
}

function noData(box: Box): string {
  return text(box.x + box.w / 2, box.y + box.h / 2, "No data", {
    class: "no-data",
    "font-size": 14,
    fill: "#999999",
    "text-anchor": "middle",
    dy: "0.32em",
  });
}

/** Dashed reference lines with their labels at the right end (outside the domain: skipped). */
function referenceLinesSvg(box: Box, axis: YAxis, y: Scale, refs: ReferenceLine[]): string {
  const parts: string[] = [];
  for (const r of refs) {
    if (!Number.isFinite(r.value) || r.value < axis.lo || r.value > axis.hi) continue;
    const py = y(r.value);
    parts.push(group({ class: "reference", "data-value": String(r.value) }, [
      el("line", {
        x1: box.x,
        y1: py,
        x2: box.x + box.w,
        y2: py,
        stroke: "#444444",
        "stroke-width": 1.2,
        "stroke-dasharray": "6 4",
      }),
      text(box.x + box.w - 4, py - 5, r.label, {
        "font-size": 11,
        fill: "#333333",
        "text-anchor": "end",
        ...HALO,
      }),
    ]));
  }
  return parts.join("\n");
}

// ---------------------------------------------------------------------------------------------
// Bar chart
// ---------------------------------------------------------------------------------------------

/**
 * A grouped bar chart: categories along x, one bar per series within each category. Each bar
 * has a `<title>` tooltip "series, category: value"; each series is a
 * `<g class="series" data-series="…">`; a single series gets no legend.
 */
export function barChart(o: BarChartOptions): string {
  const width = o.width ?? 720;
  const height = o.height ?? 400;
  const values = finite(o.series.flatMap((s) => s.values));
  const refs = o.referenceLines ?? [];
  const showValues = o.valueLabels ?? values.length <= 24;
  const fmt = o.yFormat ?? formatNumber;
  const legend = o.series.length > 1
    ? o.series.map((s, i): LegendItem => ({ label: s.name, color: color(i), swatch: "bar" }))
    : [];
  const head = header(o.title, o.subtitle, legend, width);
  const top = head.bottom + 14;
  const headroom = showValues || refs.length > 0 ? 0.08 : 0;
  const axis = yAxisModel(
    [...values, ...refs.map((r) => r.value)],
    o,
    yTickCount(height - top - 60),
    headroom,
  );
  const labels = o.categories.map((c) => truncate(c, 32));
  const layout = barLayout(labels, width, height, top, leftMargin(axis));
  const { box } = layout;
  const y = linearScale(axis.lo, axis.hi, box.y + box.h, box.y);
  const bars = barsSvg(o, box, axis, y, showValues, fmt);
  return svgRoot(width, height, o.title, [
    head.svg,
    yAxisSvg(box, axis, y, o.yLabel),
    bars.bars,
    baselines(box, axis, y),
    referenceLinesSvg(box, axis, y, refs),
    bars.labels,
    categoryLabels(box, labels, o.categories, layout.rotate),
    xTitle(box, height, o.xLabel),
    values.length === 0 ? noData(box) : "",
  ]);
}

function color(i: number): string {
  return PALETTE[i % PALETTE.length];
}

/** The plot box of a bar chart and whether category labels must be rotated. */
function barLayout(
  labels: string[],
  width: number,
  height: number,
  top: number,
  left: number,
): { box: Box; rotate: boolean } {
  const n = Math.max(1, labels.length);
  const widths = labels.map((l) => textWidth(l, 12));
  const widest = Math.max(0, ...widths);
  let band = (width - left - PAD * 1.5) / n;
  const rotate = widest > band - 8;
  let bottom = 58;
  if (rotate) {
    bottom = 54 + widest * 0.5;
    // The first label hangs left of its band centre: keep it inside the image.
    const half = 1 / (2 * n);
    const need = ((widths[0] ?? 0) * 0.87 + PAD - (width - PAD * 1.5) * half) / (1 - half);
    left = Math.max(left, need);
    band = (width - left - PAD * 1.5) / n;
  }
  const h = Math.max(40, height - top - bottom);
  return { box: { x: left, y: top, w: band * n, h }, rotate };
}

/** The bars (grouped by series) and, separately, their value labels (drawn on top). */
function barsSvg(
  o: BarChartOptions,
  box: Box,
  axis: YAxis,
  y: Scale,
  showValues: boolean,
  fmt: (v: number) => string,
): { bars: string; labels: string } {
  const n = Math.max(1, o.categories.length);
  const band = box.w / n;
  const groupW = band * 0.8;
  const k = Math.max(1, o.series.length);
  const barW = groupW / k;
  const gap = k > 1 ? Math.min(2, barW * 0.1) : 0;
  const clamp = (v: number) => Math.min(axis.hi, Math.max(axis.lo, v));
  const base = y(clamp(0));
  const groups: string[] = [];
  const labels: string[] = [];
  const labelSize = barW < 24 ? 10 : 11;
  o.series.forEach((s, si) => {
    const rects: string[] = [];
    o.categories.forEach((cat, ci) => {
      const v = s.values[ci];
      if (typeof v !== "number" || !Number.isFinite(v)) return;
      const x = box.x + ci * band + (band - groupW) / 2 + si * barW + gap / 2;
      const py = y(clamp(v));
      rects.push(el(
        "rect",
        {
          class: "bar",
          x,
          y: Math.min(py, base),
          width: Math.max(0.5, barW - gap),
          height: Math.abs(base - py),
          fill: color(si),
        },
        tooltip(`${s.name}, ${cat}: ${fmt(v)}`),
      ));
      if (showValues) {
        labels.push(text(x + (barW - gap) / 2, v >= 0 ? py - 5 : py + 13, fmt(v), {
          class: "value",
          "font-size": labelSize,
          "text-anchor": "middle",
          fill: "#333333",
          ...HALO,
        }));
      }
    });
    groups.push(group({ class: "series", "data-series": s.name }, rects));
  });
  return {
    bars: groups.join("\n"),
    labels: labels.length > 0 ? group({ class: "values" }, labels) : "",
  };
}

/** Category names under the plot, rotated -30° when they would overlap. */
function categoryLabels(box: Box, labels: string[], full: string[], rotate: boolean): string {
  const band = box.w / Math.max(1, labels.length);
  const y = box.y + box.h + (rotate ? 14 : 18);
  const parts = labels.map((l, i) => {
    const cx = box.x + band * (i + 0.5);
    const attrs: Attrs = rotate
      ? { "text-anchor": "end", transform: `rotate(-30 ${num(cx)} ${num(y)})` }
      : { "text-anchor": "middle" };
    const title = l === full[i] ? "" : tooltip(full[i]);
    return el("text", { x: cx, y, class: "category", ...attrs }, escapeXml(l), title);
  });
  return group({ class: "x-axis" }, parts);
}

// ---------------------------------------------------------------------------------------------
// Line chart and timeline
// ---------------------------------------------------------------------------------------------

/** An x axis: scale factory, domain and ticks. */
interface XAxis {
  lo: number;
  hi: number;
  ticks: number[];
  log: boolean;
  format: (v: number) => string;
}

/** Linear x axis over `xs`, with nice ticks or the given ones. */
function linearXAxis(xs: number[], count: number, given?: number[]): XAxis {
  const all = finite([...xs, ...(given ?? [])]);
  const lo = all.length > 0 ? Math.min(...all) : 0;
  const hi = all.length > 0 ? Math.max(...all) : 1;
  const nice = niceTicks(lo, hi, count);
  const ticks = given !== undefined ? finite(given) : nice;
  const dLo = given !== undefined ? lo : nice[0];
  let dHi = given !== undefined ? hi : nice[nice.length - 1];
  if (!(dHi > dLo)) dHi = dLo + 1;
  const step = nice.length > 1 ? nice[1] - nice[0] : 1;
  return { lo: dLo, hi: dHi, ticks, log: false, format: tickFormat(step) };
}

/** Log x axis: domain snapped to 1/2/5 × 10^k (or powers of ten over more than 3 decades). */
function logXAxis(xs: number[], given?: number[]): XAxis {
  const all = finite([...xs, ...(given ?? [])]);
  let lo = all.length > 0 ? Math.min(...all) : 1;
  let hi = all.length > 0 ? Math.max(...all) : 10;
  if (lo === hi) {
    lo /= 2;
    hi *= 2;
  }
  const d0 = Math.floor(Math.log10(lo) + 1e-9);
  const d1 = Math.ceil(Math.log10(hi) - 1e-9);
  const mults = d1 - d0 <= 3 ? [1, 2, 5] : [1];
  const candidates: number[] = [];
  for (let d = d0; d <= d1; d++) {
    for (const m of mults) candidates.push(Number((m * 10 ** d).toPrecision(12)));
  }
  const dLo = Math.max(...candidates.filter((c) => c <= lo * (1 + 1e-9)));
  const dHi = Math.min(...candidates.filter((c) => c >= hi * (1 - 1e-9)));
  const ticks = given !== undefined
    ? finite(given)
    : candidates.filter((c) => c >= dLo && c <= dHi);
  return { lo: dLo, hi: dHi, ticks, log: true, format: formatNumber };
}

function xScale(axis: XAxis, box: Box): Scale {
  return axis.log
    ? logScale(axis.lo, axis.hi, box.x, box.x + box.w)
    : linearScale(axis.lo, axis.hi, box.x, box.x + box.w);
}

/** X tick marks and labels under `box`. */
function xAxisSvg(box: Box, axis: XAxis, x: Scale, format: (v: number) => string): string {
  const bottom = box.y + box.h;
  const parts: string[] = [];
  for (const t of axis.ticks) {
    if (t < axis.lo || t > axis.hi) continue;
    const px = x(t);
    parts.push(el("line", { x1: px, y1: bottom, x2: px, y2: bottom + 4, stroke: AXIS }));
    parts.push(text(px, bottom + 18, format(t), { class: "tick", "text-anchor": "middle" }));
  }
  return group({ class: "x-axis" }, parts);
}

/** Throws a RangeError when a log axis would get a non-positive x. */
function checkLogX(series: LineSeries[], marks: Mark[], ticks: number[]): void {
  const bad = (x: number) => !(x > 0);
  for (const s of series) {
    const p = s.points.find(([x]) => bad(x));
    if (p !== undefined) {
      throw new RangeError(
        `lineChart: logX needs x > 0, but series "${s.name}" has x = ${p[0]}`,
      );
    }
  }
  const m = marks.find((mk) => bad(mk.x));
  if (m !== undefined) {
    throw new RangeError(`lineChart: logX needs x > 0, but mark "${m.label}" has x = ${m.x}`);
  }
  const t = ticks.find(bad);
  if (t !== undefined) throw new RangeError(`lineChart: logX needs x > 0, but xTicks has ${t}`);
}

/** A clip path slightly larger than the box (so dots on the edges stay whole). */
function clipDef(id: string, box: Box): string {
  return el(
    "defs",
    {},
    el(
      "clipPath",
      { id },
      el("rect", { x: box.x - 5, y: box.y - 5, width: box.w + 10, height: box.h + 10 }),
    ),
  );
}

/** Style of one drawn line series. */
interface LineStyle {
  color: string;
  dots: boolean;
  clipId: string;
  xFormat: (v: number) => string;
  yFormat: (v: number) => string;
}

/** One series: a `<path class="line">` per unbroken run, dots, isolated points as dots. */
function lineSeriesSvg(s: LineSeries, x: Scale, y: Scale, st: LineStyle): string {
  const runs: [number, number][][] = [[]];
  for (const [px, py] of s.points) {
    if (py === null || !Number.isFinite(py) || !Number.isFinite(px)) {
      if (runs[runs.length - 1].length > 0) runs.push([]);
    } else runs[runs.length - 1].push([px, py]);
  }
  const parts: string[] = [];
  for (const run of runs.filter((r) => r.length > 1)) {
    const d = run.map(([px, py], i) => `${i === 0 ? "M" : "L"}${num(x(px))},${num(y(py))}`);
    parts.push(el("path", {
      class: "line",
      d: d.join(""),
      fill: "none",
      stroke: st.color,
      "stroke-width": 2,
      "stroke-linejoin": "round",
      "stroke-linecap": "round",
      "stroke-dasharray": s.dashed ? "6 4" : undefined,
    }));
  }
  for (const run of runs) {
    if (!st.dots && run.length !== 1) continue;
    for (const [px, py] of run) {
      parts.push(el(
        "circle",
        {
          class: "dot",
          cx: x(px),
          cy: y(py),
          r: 3,
          fill: st.color,
          stroke: "#ffffff",
          "stroke-width": 1,
        },
        tooltip(`${s.name}: ${st.xFormat(px)}, ${st.yFormat(py)}`),
      ));
    }
  }
  return group(
    { class: "series", "data-series": s.name, "clip-path": `url(#${st.clipId})` },
    parts,
  );
}

/** Vertical mark lines across `box` (labels are drawn separately). */
function marksSvg(box: Box, x: Scale, marks: Mark[]): string {
  const parts = marks.filter((m) => Number.isFinite(m.x)).map((m) =>
    el(
      "line",
      {
        class: "mark",
        "data-mark": m.label,
        x1: x(m.x),
        y1: box.y,
        x2: x(m.x),
        y2: box.y + box.h,
        stroke: m.color ?? "#777777",
        "stroke-width": 1.5,
        "stroke-opacity": "0.85",
      },
      tooltip(m.label),
    )
  );
  return parts.length > 0 ? group({ class: "marks" }, parts) : "";
}

/** Mark labels packed greedily into at most 3 rows; labels that do not fit are dropped. */
function packMarkLabels(marks: Mark[], x: Scale): { mark: Mark; px: number; row: number }[] {
  const rowsEnd: number[] = [];
  const placed: { mark: Mark; px: number; row: number }[] = [];
  const sorted = marks.filter((m) => Number.isFinite(m.x) && m.label !== "")
    .map((m) => ({ mark: m, px: x(m.x) }))
    .sort((a, b) => a.px - b.px);
  for (const { mark, px } of sorted) {
    const w = textWidth(mark.label, 11);
    let row = rowsEnd.findIndex((end) => end + 6 <= px - w / 2);
    if (row < 0 && rowsEnd.length < 3) row = rowsEnd.push(-Infinity) - 1;
    if (row < 0) continue;
    rowsEnd[row] = px + w / 2;
    placed.push({ mark, px, row });
  }
  return placed;
}

const MARK_ROW = 14;

/** Mark labels in the strip above `box`, each with a faint connector to the plot. */
function markLabelsSvg(box: Box, placed: { mark: Mark; px: number; row: number }[]): string {
  const rows = Math.max(0, ...placed.map((p) => p.row + 1));
  const parts = placed.map(({ mark, px, row }) => {
    const ty = box.y - 6 - (rows - 1 - row) * MARK_ROW;
    return group({ class: "mark-label" }, [
      el("line", {
        x1: px,
        y1: ty + 3,
        x2: px,
        y2: box.y,
        stroke: mark.color ?? "#777777",
        "stroke-width": 1,
        "stroke-dasharray": "2 2",
      }),
      text(px, ty, mark.label, {
        "font-size": 11,
        "text-anchor": "middle",
        fill: mark.color ?? MUTED,
        ...HALO,
      }),
    ]);
  });
  return parts.length > 0 ? group({ class: "mark-labels" }, parts) : "";
}

/**
 * A line chart. Each series is a `<g class="series" data-series="…">` holding one
 * `<path class="line">` per unbroken run of points (a `null` y breaks the line).
 *
 * @throws {RangeError} with `logX` when a point, mark or x tick has x ≤ 0.
 */
export function lineChart(o: LineChartOptions): string {
  const width = o.width ?? 720;
  const height = o.height ?? 400;
  const marks = o.marks ?? [];
  if (o.logX) checkLogX(o.series, marks, o.xTicks ?? []);
  const refs = o.referenceLines ?? [];
  const fmt = o.yFormat ?? formatNumber;
  const legend = lineLegend(o.series.map((s, i) => ({ s, c: color(i) })));
  const head = header(o.title, o.subtitle, legend.length > 1 ? legend : [], width);
  const ys = o.series.flatMap((s) => s.points.map(([, y]) => y));
  const hasData = o.series.some((s) => s.points.some(([x, y]) => isPoint(x, y)));
  const axis = yAxisModel(
    [...finite(ys), ...refs.map((r) => r.value)],
    o,
    yTickCount(height - head.bottom - 70),
    refs.length > 0 ? 0.06 : 0,
  );
  const xs = [...o.series.flatMap((s) => s.points.map(([x]) => x)), ...marks.map((m) => m.x)];
  const left = leftMargin(axis);
  const plotW = width - left - PAD * 1.5;
  const xAxis = o.logX
    ? logXAxis(xs, o.xTicks)
    : linearXAxis(xs, Math.max(2, Math.round(plotW / 90)), o.xTicks);
  const xFmt = o.xFormat ?? xAxis.format;
  const probe = xScale(xAxis, { x: left, y: 0, w: plotW, h: 0 });
  const placed = packMarkLabels(marks, probe);
  const top = head.bottom + 14 + Math.max(0, ...placed.map((p) => p.row + 1)) * MARK_ROW;
  const box: Box = { x: left, y: top, w: plotW, h: Math.max(40, height - top - 58) };
  const x = xScale(xAxis, box);
  const y = linearScale(axis.lo, axis.hi, box.y + box.h, box.y);
  const clipId = `clip-${hash(o.title)}-0`;
  const maxPoints = Math.max(0, ...o.series.map((s) => s.points.length));
  const dots = o.dots ?? maxPoints <= 30;
  const series = o.series.map((s, i) =>
    lineSeriesSvg(s, x, y, { color: color(i), dots, clipId, xFormat: xFmt, yFormat: fmt })
  );
  return svgRoot(width, height, o.title, [
    clipDef(clipId, box),
    head.svg,
    yAxisSvg(box, axis, y, o.yLabel),
    baselines(box, axis, y),
    marksSvg(box, x, marks),
    ...series,
    referenceLinesSvg(box, axis, y, refs),
    markLabelsSvg(box, placed),
    xAxisSvg(box, xAxis, x, xFmt),
    xTitle(box, height, o.xLabel),
    hasData ? "" : noData(box),
  ]);
}

function isPoint(x: number, y: number | null): boolean {
  return Number.isFinite(x) && y !== null && Number.isFinite(y);
}

function lineLegend(entries: { s: LineSeries; c: string }[]): LegendItem[] {
  return entries.map(({ s, c }) => ({
    label: s.name,
    color: c,
    swatch: s.dashed ? "dashed" : "line",
  }));
}

/**
 * Panels stacked vertically sharing one x axis (`<g class="panel" data-panel="i">` each).
 * Marks are drawn in every panel as thin vertical lines; one legend lists every series name
 * (one colour per name across panels) and the `markLegend` entries.
 */
export function timelineChart(o: TimelineOptions): string {
  const n = o.panels.length;
  const width = o.width ?? 720;
  const height = o.height ?? Math.max(400, 110 + 160 * n);
  const marks = o.marks ?? [];
  const colors = seriesColors(o.panels);
  const legend = timelineLegend(o, colors);
  const head = header(o.title, o.subtitle, legend, width);
  const gap = 30;
  const approxH = (height - head.bottom - 70 - gap * (n - 1)) / Math.max(1, n);
  const axes = o.panels.map((p) =>
    yAxisModel(
      [...p.series.flatMap((s) => s.points.map(([, y]) => y ?? NaN)), ...refValues(p)],
      p,
      Math.max(3, Math.round(approxH / 40)),
      0.04,
    )
  );
  const left = n > 0 ? Math.max(...axes.map(leftMargin)) : leftMargin(yAxisModel([], {}, 3, 0));
  const plotW = width - left - PAD * 1.5;
  const xs = [...o.panels.flatMap((p) => p.series.flatMap((s) => s.points.map(([x]) => x)))];
  const xAxis = linearXAxis([...xs, ...marks.map((m) => m.x)], Math.max(2, Math.round(plotW / 90)));
  const probe = xScale(xAxis, { x: left, y: 0, w: plotW, h: 0 });
  const placed = o.markLegend === undefined ? packMarkLabels(marks, probe) : [];
  const top = head.bottom + 14 + Math.max(0, ...placed.map((p) => p.row + 1)) * MARK_ROW;
  const panelH = Math.max(30, (height - top - 58 - gap * (n - 1)) / Math.max(1, n));
  const boxes = o.panels.map((_, i): Box => ({
    x: left,
    y: top + i * (panelH + gap),
    w: plotW,
    h: panelH,
  }));
  const x = xScale(xAxis, boxes[0] ?? { x: left, y: top, w: plotW, h: panelH });
  const last: Box = boxes[n - 1] ?? { x: left, y: top, w: plotW, h: height - top - 58 };
  const panels = o.panels.map((p, i) =>
    panelSvg(p, i, boxes[i], axes[i], x, marks, colors, `clip-${hash(o.title)}-${i}`, xAxis)
  );
  return svgRoot(width, height, o.title, [
    head.svg,
    ...panels,
    n === 0 ? noData(last) : "",
    markLabelsSvg(boxes[0] ?? last, placed),
    xAxisSvg(last, xAxis, x, xAxis.format),
    xTitle(last, height, o.xLabel),
  ]);
}

function refValues(p: Panel): number[] {
  return (p.referenceLines ?? []).map((r) => r.value);
}

/** One colour per distinct series name, in order of first appearance. */
function seriesColors(panels: Panel[]): Map<string, string> {
  const colors = new Map<string, string>();
  for (const p of panels) {
    for (const s of p.series) if (!colors.has(s.name)) colors.set(s.name, color(colors.size));
  }
  return colors;
}

function timelineLegend(o: TimelineOptions, colors: Map<string, string>): LegendItem[] {
  const seen = new Map<string, LineSeries>();
  for (const p of o.panels) for (const s of p.series) if (!seen.has(s.name)) seen.set(s.name, s);
  const items = lineLegend([...seen.values()].map((s) => ({ s, c: colors.get(s.name) ?? INK })));
  const markItems = (o.markLegend ?? []).map((m): LegendItem => ({
    label: m.label,
    color: m.color,
    swatch: "mark",
  }));
  return items.length > 1 || markItems.length > 0 ? [...items, ...markItems] : [];
}

/** One timeline panel: grid, y axis, references, marks, series, baseline. */
function panelSvg(
  p: Panel,
  i: number,
  box: Box,
  axis: YAxis,
  x: Scale,
  marks: Mark[],
  colors: Map<string, string>,
  clipId: string,
  xAxis: XAxis,
): string {
  const y = linearScale(axis.lo, axis.hi, box.y + box.h, box.y);
  const maxPoints = Math.max(0, ...p.series.map((s) => s.points.length));
  const hasData = p.series.some((s) => s.points.some(([px, py]) => isPoint(px, py)));
  const style = (s: LineSeries): LineStyle => ({
    color: colors.get(s.name) ?? INK,
    dots: maxPoints <= 30,
    clipId,
    xFormat: xAxis.format,
    yFormat: p.yFormat ?? formatNumber,
  });
  return group({ class: "panel", "data-panel": String(i) }, [
    clipDef(clipId, box),
    yAxisSvg(box, axis, y, p.yLabel),
    baselines(box, axis, y),
    marksSvg(box, x, marks),
    ...p.series.map((s) => lineSeriesSvg(s, x, y, style(s))),
    referenceLinesSvg(box, axis, y, p.referenceLines ?? []),
    hasData ? "" : noData(box),
  ]);
}
