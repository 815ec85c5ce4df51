/**
 * docs/analysis/REPORT.md from the results: tables, the charts, and what each finding means.
 * Pure: every number in the text comes from the results passed in.
 *
 * @module
 */

import { SLOT_HASHES } from "../../ring/mod.ts";
import { chaosBuckets, type Chart, isProductionRing, slug } from "./charts.ts";
import type { ChaosTimeline, HttpResults, InProcessResults } from "./results.ts";

const pct = (share: number, digits = 1) => `${(100 * share).toFixed(digits)} %`;
const int = (n: number) => Math.round(n).toLocaleString("en-US");
const x = (r: number) => `${r.toFixed(2)}×`;

/** A Markdown table; the first column left-aligned, the others right-aligned unless `text`. */
function table(head: string[], rows: (string | number)[][], text = false): string {
  return [
    `| ${head.join(" | ")} |`,
    `|${head.map((_, i) => (i === 0 || text ? "---" : "---:")).join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function a1Section(http: HttpResults): string {
  const runs = http.runs.filter((r) => r.n === 3);
  const spec = runs.find((r) => r.ring === "spec")!;
  const names = ["Server 1", "Server 2", "Server 3"];
  const rows = runs.map((r) => [
    `\`${r.ring}\``,
    ...names.map((n) =>
      `${int(r.stats.counts[n] ?? 0)} (${pct((r.stats.counts[n] ?? 0) / r.requests)})`
    ),
    x(r.stats.maxOverMean),
    r.failed,
    int(r.requests / (r.elapsedMs / 1000)),
  ]);
  return `## A-1: ${int(spec.requests)} requests over N = 3

Each ring got its own balancer on loopback with 3 process replicas (\`Server 1..3\`), and the same
${int(spec.requests)} random 6-digit ids (seed ${http.meta.seed}), ${http.concurrency} requests in
flight at a time. Counts come from the replies (\`Hello from Server: …\`), not from the balancer.

![A-1: the assignment's ring](a1-spec.svg)

${table(["ring", ...names, "max/mean", "failed", "req/s"], rows)}

![A-1 for every ring](a1-rings.svg)

The assignment's ring sends ${pct((spec.stats.counts["Server 1"] ?? 0) / spec.requests)} of the
requests to Server 1. The production rings are within ${
    pct(
      Math.max(
        ...runs.filter((r) => isProductionRing(r.ring)).map((r) => r.stats.maxOverMean - 1),
      ),
    )
  } of an even share.`;
}

function a2Section(http: HttpResults): string {
  const ns = [...new Set(http.runs.map((r) => r.n))].sort((a, b) => a - b);
  const rings = [...new Set(http.runs.map((r) => r.ring))];
  const rows = rings.map((ring) => [
    `\`${ring}\``,
    ...ns.map((n) => {
      const run = http.runs.find((r) => r.ring === ring && r.n === n);
      return run ? x(run.stats.maxOverMean) : "–";
    }),
  ]);
  const spec = http.runs.filter((r) => r.ring === "spec").sort((a, b) => a.n - b.n);
  const last = spec.at(-1)!;
  return `## A-2: N = ${ns[0]}..${ns.at(-1)}

The same ${int(http.runs[0].requests)} ids for every N and every ring. The table is the busiest
replica's load divided by the average (1.00 is perfectly even).

${table(["ring", ...ns.map((n) => `N = ${n}`)], rows)}

![A-2: max/mean for every ring](a2-max-mean.svg)

![A-2: max/mean, production rings](a2-max-mean-production.svg)

With the assignment's ring the average falls as 1/N, as it must, but the busiest replica barely
moves: at N = ${last.n} one replica still answers ${int(last.stats.max)} of ${int(last.requests)}
requests (${x(last.stats.maxOverMean)} its share) and the least busy ${int(last.stats.min)}. Adding
replicas does not spread this load.

![A-2: the assignment's ring](a2-spec.svg)

Per ring: ${rings.map((r) => `[${r}](a2-${slug(r)}.svg)`).join(" · ")}.`;
}

function a3Section(chaos: ChaosTimeline | undefined, source: string): string {
  if (!chaos) {
    return `## A-3: failures under load

Not run (\`--skip-chaos\`). Run \`deno task analyze\` without it, or chart an existing run with
\`deno task analyze --chaos out/chaos-….json\`.`;
  }
  const failed = Object.values(chaos.failed).reduce((a, b) => a + b, 0);
  const detected = chaos.kills.flatMap((k) => (k.detectedMs === undefined ? [] : [k.detectedMs]));
  const serving = chaos.kills.flatMap((k) => (k.servingMs === undefined ? [] : [k.servingMs]));
  const restored = chaos.kills.flatMap((k) => (k.restoredMs === undefined ? [] : [k.restoredMs]));
  const range = (v: number[]) =>
    v.length ? `${Math.min(...v)} / ${median(v)} / ${Math.max(...v)} ms` : "–";
  const worst = Math.min(...chaosBuckets(chaos, 500).map((b) => b.successPct));
  return `## A-3: failures under load

\`deno task chaos\` (from ${source}): ${chaos.rate} requests/s, open loop, for ${chaos.durationS} s,
while a random serving replica is killed with SIGKILL every ${chaos.killIntervalMs / 1000} s.

${
    table(["", ""], [
      ["replicas", `${chaos.replicas} (${chaos.provider})`],
      ["requests sent", int(chaos.sent)],
      ["failed", `${failed}${failed ? ` (${JSON.stringify(chaos.failed)})` : ""}`],
      [
        "latency p50 / p99 / max",
        `${chaos.latencyMs.p50.toFixed(1)} / ${chaos.latencyMs.p99.toFixed(1)} / ${
          (chaos.latencyMs.max ?? 0).toFixed(1)
        } ms`,
      ],
      ["kills", chaos.kills.length],
      ["kill → ejected (min / median / max)", range(detected)],
      ["kill → /rep shows N again", range(restored)],
      ["kill → replacement serving", range(serving)],
      ["worst 500 ms window, success rate", `${worst.toFixed(1)} %`],
    ])
  }

![A-3: the chaos timeline](a3-timeline.svg)

A killed process closes its sockets, so the balancer sees the exit at once and the requests that
would have gone to it are retried on the next replica in ring order; clients see a latency blip,
not an error. The replacement gets the dead replica's ordinal, so with the assignment's ring it
takes back exactly the dead replica's slots.`;
}

function a4Section(http: HttpResults, a4: InProcessResults): string {
  const anatomy = a4.anatomy;
  const vnodes = anatomy.virtualNodes;
  const specRun = http.runs.find((r) => r.ring === "spec" && r.n === 3);
  const disruptionRows = a4.disruption.map((d) => {
    const adds = d.rows.map((r) => r.add.moved / r.add.ideal);
    const leaves = d.rows.map((r) => r.remove.worst.moved / r.remove.ideal);
    const stray = Math.max(...d.rows.flatMap((r) => [r.add.stray, r.remove.worst.stray]));
    return [
      `\`${d.ring}\``,
      `${x(adds.reduce((a, b) => a + b) / adds.length)} (${x(Math.min(...adds))}–${
        x(Math.max(...adds))
      })`,
      `${x(leaves.reduce((a, b) => a + b) / leaves.length)} (${x(Math.max(...leaves))})`,
      pct(stray, 2),
    ];
  });
  const ns = a4.scale[0].rows.map((r) => r.n);
  const scaleRows = a4.scale.map((s) => [
    `\`${s.ring}\``,
    ...s.rows.map((r) => (r.stats ? x(r.stats.maxOverMean) : "full")),
    `${Math.round(Math.max(...s.rows.map((r) => r.lookupNs ?? 0)))} ns`,
  ]);
  const hashRows = Object.entries(SLOT_HASHES).map(([name, pair]) => [
    `\`${name === "spec" ? "spec" : `slot/${name}`}\``,
    pair.description,
  ]);
  const dn = a4.disruption[0].rows;
  return `## A-4: other hash functions, other rings

The slot ring (M = 512 slots, K = 9 virtual nodes per replica) with three H/Φ pairs, and the rings
production balancers use, all behind the same \`Ring\` interface (\`--ring\`, \`--slot-hash\`):

${
    table(["ring", "what it is"], [
      ...hashRows,
      [
        "`ketama`",
        "ketama / nginx `hash … consistent`: 1000 points per replica at xxh32(`name-i`), binary search",
      ],
      [
        "`maglev`",
        "Maglev (Eisenbud et al., NSDI 2016): a 65,537-entry table filled from per-replica permutations, one array read",
      ],
      [
        "`rendezvous`",
        "highest random weight: every replica scores the key, the best wins; O(N) per lookup",
      ],
    ], true)
  }

A-1 and A-2 above were run for every one of them. Two further measures, in-process:

### Disruption: keys moved by one membership change

For N = ${dn[0].n}..${dn.at(-1)!.n}: ${int(a4.disruptionKeys)} ids, owners before and after
\`Server N+1\` joins, and after each of the N+1 replicas leaves in turn. The ideal is 1/(N+1) of
the keys, all of them to or from the replica that changed. "Stray" keys moved between replicas
that were there before and after: a perfectly consistent ring moves none.

${
    table([
      "ring",
      "join: moved ÷ ideal, mean (range)",
      "leave: worst replica ÷ ideal, mean (max)",
      "stray, worst",
    ], disruptionRows)
  }

![A-4: disruption](a4-disruption.svg)

${disruptionFindings(a4)}

### Balance at scale

${int(a4.scaleKeys)} random 6-digit ids in-process; max/mean (the slot ring holds at most 56
replicas: "full"). The last column is the slowest mean lookup seen in the run, a side figure:
\`deno bench ring/\` is the benchmark.

${table(["ring", ...ns.map((n) => `N = ${n}`), "lookup"], scaleRows)}

![A-4: balance at scale](a4-scale.svg)

![A-4: balance at scale, production rings](a4-scale-production.svg)

### Why the assignment's ring skews

Two things, both visible in the numbers:

1. **H reaches few slots.** H(i) = i² + 2i + 17 = (i + 1)² + 16, so H mod 512 is a square mod 512
   plus 16, and only about one residue in six is a square modulo a power of two. Over all 900,000
   six-digit ids, H mod 512 lands on **${anatomy.reachableSlots} of the 512 slots**.
2. **Φ crowds every virtual node into one arc.** Φ(i, j) = i² + (j + 1)² + 24 grows slowly in both
   i and j: for servers 1–3 all ${vnodes.length} virtual nodes sit in slots ${vnodes[0].slot}..${
    vnodes.at(-1)!.slot
  } (${pct((vnodes.at(-1)!.slot - vnodes[0].slot + 1) / 512)} of the ring). Everything clockwise
   from slot ${vnodes.at(-1)!.slot + 1} round to slot ${vnodes[0].slot} belongs to the first
   virtual node after the gap, **${anatomy.wrapOwner}'s at slot ${vnodes[0].slot}**: that arc
   alone carries ${pct(anatomy.wrapShare)} of all six-digit ids${
    specRun
      ? ` (A-1 measured ${
        pct((specRun.stats.counts["Server 1"] ?? 0) / specRun.requests)
      } for Server 1 over HTTP)`
      : ""
  }.

Adding replicas puts more virtual nodes into the same crowded arc (Φ of server i starts at
i² + 25), so the wrap-around arc and its owner stay: A-2's busiest replica hardly changes with N.

${betterHashFindings(http, a4)}

### What ketama and Maglev fix

- **ketama** gives each replica 1000 points on a 2³² circle: a replica's share is the sum of
  1000 arcs, whose spread shrinks like 1/√1000 (≈ 3 %). It is exactly consistent (no stray
  keys) and supports weights by giving more points.
- **Maglev** fills a 65,537-entry table by letting replicas take turns claiming entries from
  their own permutation: every replica owns M/N entries give or take one, so max/mean is set by
  the request sample's noise, not by the ring. The price is a small number of stray keys on a
  membership change (the table is refilled) and a table rebuild per change.
- **rendezvous** is as even and exactly consistent, with no table at all, but costs N hash
  mixes per lookup: fine for tens of replicas, slow for a thousand.
- **Bounded loads** (\`--bounded-load ε\`) is a cap on top of any of them: a replica with
  ⌈(1+ε)·average⌉ requests in flight is skipped for the next one in the key's ring order, which
  protects against a hot key rather than an uneven ring.`;
}

/** The whole report. `chaosSource` says where the A-3 timeline came from. */
export function renderReport(
  http: HttpResults,
  a4: InProcessResults,
  chaos: ChaosTimeline | undefined,
  chaosSource: string,
  charts: readonly Chart[],
): string {
  const meta = http.meta;
  const quick = meta.quick
    ? "\n> **Quick run** (`--quick`): small counts for CI. The figures are noisy; run " +
      "`deno task analyze` for the real ones.\n"
    : "";
  return `# Analysis report: the assignment's ring against production rings

Generated by \`deno task analyze${meta.quick ? " --quick" : ""}\` on ${
    meta.startedAt.slice(0, 16).replace("T", " ")
  } UTC${
    meta.commit ? ` at commit \`${meta.commit}\`` : ""
  } with Deno ${meta.deno}, on a machine with ${meta.cpus} CPUs shared by the balancer, its
replicas and the load generator. Seed ${meta.seed}: the same command gives the same request ids and
the same counts (every ring places its members in a canonical order, whatever order they join in). Raw results (in \`data/\`): \`a1-a2-http.json\`,
\`a3-chaos.json\`, \`a4-in-process.json\`. Charts: ${charts.length} SVGs beside this
file, written by \`tools/analysis/svg_chart.ts\`.
${quick}
${a1Section(http)}

${a2Section(http)}

${a3Section(chaos, chaosSource)}

${a4Section(http, a4)}
`;
}

function worstOf(values: number[]): number {
  return Math.max(...values);
}

/** What the disruption table says, in words, from its numbers. */
function disruptionFindings(a4: InProcessResults): string {
  const of = (ring: string) => a4.disruption.find((d) => d.ring === ring);
  const spec = of("spec");
  const lines: string[] = [];
  if (spec) {
    const joins = spec.rows.map((r) => r.add.moved / r.add.ideal);
    const leaves = spec.rows.map((r) => r.remove.worst.moved / r.remove.ideal);
    lines.push(
      `- **The slot rings are consistent but uneven.** No key ever moves between replicas that ` +
        `stay, but how many move depends on which arcs a replica's 9 points cut: with the ` +
        `assignment's ring a joining replica takes as little as ${x(Math.min(...joins))} of its ` +
        `fair share, and losing the replica that owns the wrap-around arc moves up to ` +
        `${x(worstOf(leaves))} the ideal: all of its keys must go somewhere.`,
    );
  }
  const production = a4.disruption.filter((d) => isProductionRing(d.ring));
  const moves = production.flatMap((d) =>
    d.rows.flatMap((r) => [r.add.moved / r.add.ideal, r.remove.worst.moved / r.remove.ideal])
  );
  if (moves.length) {
    lines.push(
      `- **The production rings move what they must.** Over every N and every change, ` +
        `${production.map((d) => d.ring).join(", ")} moved at most ${x(worstOf(moves))} the ` +
        `ideal share.`,
    );
  }
  const maglev = of("maglev");
  if (maglev) {
    const stray = worstOf(maglev.rows.flatMap((r) => [r.add.stray, r.remove.worst.stray]));
    lines.push(
      `- **Maglev's price.** Refilling the table moves a few keys between replicas that stay: ` +
        `at most ${pct(stray, 2)} of all keys here. ketama and rendezvous move none.`,
    );
  }
  return lines.join("\n");
}

/** What a better hash alone does for the slot ring, from the numbers. */
function betterHashFindings(http: HttpResults, a4: InProcessResults): string {
  const labels = ["slot/fnv", "slot/xxhash"];
  const httpWorst = worstOf(
    http.runs.filter((r) => labels.includes(r.ring)).map((r) => r.stats.maxOverMean),
  );
  const scaleRows = a4.scale.filter((s) => labels.includes(s.ring)).flatMap((s) => s.rows);
  const scaleWorst = worstOf(scaleRows.map((r) => r.stats?.maxOverMean ?? 0));
  return `A better hash alone (\`slot/fnv\`, \`slot/xxhash\`) spreads the virtual nodes over the
ring, but 9 points per replica on 512 slots still cut arcs of very different lengths: their
max/mean reaches ${x(httpWorst)} at N ≤ ${Math.max(...http.runs.map((r) => r.n))} over HTTP and
${x(scaleWorst)} at scale, against the 1.10 target. The slot count is a second limit: 512 slots
hold 56 replicas, and with N replicas only 9·N slots are ever owned.`;
}
