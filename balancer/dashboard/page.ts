/**
 * The dashboard's page: HTML, CSS and script in one string, served by the balancer itself (no
 * build step, no CDN, nothing fetched from elsewhere). It draws what `/dashboard/stream` sends.
 *
 * @module
 */

/** The page `GET /dashboard` answers. */
export const DASHBOARD_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ringlb dashboard</title>
<style>
  :root { color-scheme: light dark; --muted: #888; --line: #8884; }
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; padding: 16px 24px; }
  header { display: flex; gap: 24px; align-items: baseline; flex-wrap: wrap; }
  h1 { font-size: 20px; margin: 0; }
  .stat b { font-size: 18px; }
  .muted { color: var(--muted); }
  main { display: grid; grid-template-columns: 340px 1fr; gap: 24px; margin-top: 16px; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
  .dot { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 6px; }
  .up { color: #2a2; } .down { color: #d33; } .starting { color: #c90; }
  ul#events { list-style: none; padding: 0; margin: 0; max-height: 260px; overflow: auto; }
  ul#events li { padding: 2px 0; border-bottom: 1px solid var(--line); }
  #keybox input { width: 160px; padding: 4px; }
  #keyresult { margin-top: 6px; }
  section h2 { font-size: 15px; margin: 16px 0 6px; }
  #status.off { color: #d33; }
</style>
</head>
<body>
<header>
  <h1>ringlb</h1>
  <span class="stat">N <b id="n">–</b></span>
  <span class="stat">ring <b id="kind">–</b></span>
  <span class="stat">members <b id="members">–</b></span>
  <span id="status" class="muted">connecting…</span>
</header>
<main>
  <div>
    <svg id="ring" viewBox="-160 -160 320 320" width="320" height="320" role="img"
      aria-label="the ring: each replica's share of keys, and its points"></svg>
    <section id="keybox">
      <h2>Where does a key go?</h2>
      <form id="keyform"><input id="key" name="key" placeholder="e.g. 123456" autocomplete="off">
      <button>Look up</button></form>
      <div id="keyresult" class="muted"></div>
    </section>
  </div>
  <div>
    <table>
      <thead><tr><th>replica</th><th>state</th><th class="num">req/s</th><th class="num">mean ms</th>
      <th class="num">in flight</th><th class="num">share of keys</th></tr></thead>
      <tbody id="replicas"></tbody>
    </table>
    <section>
      <h2>Recent events</h2>
      <ul id="events"></ul>
    </section>
  </div>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
// Colours by each name's place among the names seen, a golden angle apart: neighbours differ.
const palette = new Map();
const color = (name) => {
  if (!palette.has(name)) palette.set(name, "hsl(" + Math.round((palette.size * 137.508) % 360) + " 65% 48%)");
  return palette.get(name);
};
const text = (tag, value, cls) => { const e = document.createElement(tag); e.textContent = value; if (cls) e.className = cls; return e; };
let layout = { points: [], shares: {} };

function drawRing() {
  const svg = $("ring");
  const ns = "http://www.w3.org/2000/svg";
  svg.replaceChildren();
  const el = (tag, attrs) => { const e = document.createElementNS(ns, tag); for (const k in attrs) e.setAttribute(k, attrs[k]); svg.appendChild(e); return e; };
  el("circle", { r: 120, fill: "none", stroke: "#8886", "stroke-width": 1 });
  // Outer arcs: each member's share of keys.
  let start = -Math.PI / 2;
  for (const [name, share] of Object.entries(layout.shares).sort()) {
    if (share <= 0) continue;
    const end = start + share * 2 * Math.PI;
    const large = end - start > Math.PI ? 1 : 0;
    const p = (a, r) => (r * Math.cos(a)).toFixed(2) + " " + (r * Math.sin(a)).toFixed(2);
    const d = share >= 0.9999 ? "M 0 -140 A 140 140 0 1 1 -0.01 -140"
      : "M " + p(start, 140) + " A 140 140 0 " + large + " 1 " + p(end, 140);
    const arc = el("path", { d, fill: "none", stroke: color(name), "stroke-width": 14 });
    arc.appendChild(document.createElementNS(ns, "title")).textContent = name + ": " + (share * 100).toFixed(1) + "% of keys";
    start = end;
  }
  // Inner dots: the ring's points (slot ring, Ketama), where it has them.
  for (const { at, name } of layout.points) {
    const a = at * 2 * Math.PI - Math.PI / 2;
    el("circle", { cx: (120 * Math.cos(a)).toFixed(2), cy: (120 * Math.sin(a)).toFixed(2), r: 3, fill: color(name) });
  }
  if (layout.points.length === 0) {
    el("text", { y: 4, "text-anchor": "middle", fill: "#888", "font-size": 12 }).textContent = "shares of keys";
  }
}

function render(s) {
  $("n").textContent = s.N;
  $("kind").textContent = s.ring.kind;
  $("members").textContent = s.ring.members;
  for (const r of [...s.replicas].sort((x, y) => x.name < y.name ? -1 : 1)) color(r.name);
  if (s.layout) { layout = s.layout; drawRing(); }
  const rows = s.replicas.map((r) => {
    const tr = document.createElement("tr");
    tr.dataset.replica = r.name;
    const name = text("td", "");
    const dot = text("span", "", "dot"); dot.style.background = color(r.name);
    name.append(dot, r.name + (r.spare ? " (spare)" : ""));
    const up = r.state === "ready" && r.inRing;
    const state = up ? "up" : r.state === "ready" ? "ejected" : r.state;
    tr.append(name, text("td", state, up ? "up" : r.state === "starting" ? "starting" : "down"),
      text("td", r.rps.toFixed(1), "num"), text("td", r.meanMs === null ? "–" : r.meanMs.toFixed(2), "num"),
      text("td", String(r.inFlight), "num"),
      text("td", layout.shares[r.name] === undefined ? "–" : (layout.shares[r.name] * 100).toFixed(1) + "%", "num"));
    return tr;
  });
  $("replicas").replaceChildren(...rows);
  const items = [...s.events].reverse().map((e) => {
    const li = document.createElement("li");
    li.dataset.event = e.event;
    li.append(text("span", new Date(e.time).toLocaleTimeString() + " ", "muted"),
      text("b", e.what), " " + (e.name ?? "") + (e.detail ? " — " + e.detail : ""));
    return li;
  });
  $("events").replaceChildren(...items);
}

const source = new EventSource("/dashboard/stream");
source.addEventListener("snapshot", (e) => {
  $("status").textContent = "live"; $("status").className = "muted";
  render(JSON.parse(e.data));
});
source.onerror = () => { $("status").textContent = "disconnected (retrying)"; $("status").className = "off"; };

$("keyform").addEventListener("submit", async (e) => {
  e.preventDefault();
  const key = $("key").value.trim();
  if (!key) return;
  const res = await fetch("/dashboard/key?key=" + encodeURIComponent(key));
  const body = await res.json();
  const out = $("keyresult");
  out.replaceChildren();
  if (!res.ok) { out.textContent = body.message; return; }
  out.append(text("div", "key " + body.key + " → owner "), );
  out.firstChild.append(text("b", body.owner ?? "none"));
  out.append(text("div", "then: " + body.order.slice(1).map((o) => o.name + " (" + o.state + ")").join(", ")));
  out.id = "keyresult";
  out.dataset.owner = body.owner ?? "";
});
</script>
</body>
</html>
`;
