/**
 * `deno task analyze`: the assignment's experiments A-1..A-4, reproducible with a fixed seed,
 * for the assignment's ring and for the production rings. Writes raw results to `docs/analysis/data/`,
 * SVG charts and `REPORT.md` to `docs/analysis/`.
 *
 *     deno task analyze [--quick] [--seed 42] [--out DIR] [--chaos FILE | --skip-chaos]
 *
 * Traffic goes only to balancers this script starts on 127.0.0.1, in bounded loops.
 *
 * @module
 */

import { allCharts } from "./charts.ts";
import {
  buildRing,
  disruption,
  loadStats,
  ringFlags,
  seededIds,
  specRingAnatomy,
  spread,
  STUDIED_RINGS,
} from "./experiments.ts";
import { countReplies } from "./http_load.ts";
import { progressBar } from "./progress.ts";
import { renderReport } from "./report.ts";
import type {
  ChaosTimeline,
  HttpResults,
  HttpRun,
  InProcessResults,
  RunMeta,
  ScaleRow,
} from "./results.ts";
import { startBalancer } from "../../tests/helpers.ts";
import { type Cli, cli } from "../cli.ts";

const USAGE = `Usage: deno task analyze [options]

Runs the analysis A-1..A-4 for the assignment's ring and the production rings; writes
docs/analysis/data/*.json, docs/analysis/*.svg and docs/analysis/REPORT.md (under --out).

  --quick             small counts (CI): 500 requests per run, 20,000 keys, 6 s chaos
  --seed N            seed of the request ids (42)
  --requests N        requests per balancer run, A-1/A-2 (10000)
  --keys N            keys for balance at scale, A-4 (1000000)
  --chaos FILE        chart this chaos timeline (deno task chaos) instead of running one
  --skip-chaos        no A-3
  --from-results      no runs: redraw the charts and the report from docs/analysis/data/*.json
  --out DIR           where docs/analysis/ goes (.)
  -h, --help          this text

A full run takes about 3 minutes on 2 cores.`;

const CLI: Cli = cli("analyze", USAGE);
const fail: Cli["fail"] = CLI.fail;
const intOption: Cli["int"] = CLI.int;

async function commit(): Promise<string | undefined> {
  try {
    const out = await new Deno.Command("git", {
      args: ["rev-parse", "--short", "HEAD"],
      stdout: "piped",
      stderr: "null",
    }).output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : undefined;
  } catch {
    return undefined;
  }
}

/** The balancer of the HTTP run in progress: stopped on SIGINT/SIGTERM before exiting. */
let running: AsyncDisposable | undefined;

/** a balancer per ring and N, the same ids through each. */
async function httpRuns(meta: RunMeta, requests: number, ns: number[]): Promise<HttpResults> {
  const concurrency = 32;
  const ids = seededIds(requests, meta.seed);
  const runs: HttpRun[] = [];
  const total = STUDIED_RINGS.length * ns.length;
  const bar = progressBar("A-1/A-2 over HTTP", total * requests);
  for (const [r, ring] of STUDIED_RINGS.entries()) {
    for (const [i, n] of ns.entries()) {
      const step = r * ns.length + i;
      const what = `${ring.label} N=${n} (${step + 1}/${total})`;
      bar.update(step * requests, what);
      await using lb = await startBalancer(["--replicas", String(n), ...ringFlags(ring.config)]);
      running = lb;
      const reply = await countReplies(lb.url, ids, {
        concurrency,
        onProgress: (done) => done % 100 === 0 && bar.update(step * requests + done, what),
      });
      if (reply.failed > 0) {
        console.error(`analyze: ${what}: ${reply.failed} failed, e.g. ${reply.errors[0]}`);
      }
      const counts: Record<string, number> = {};
      // Replicas answer as their server numbers (`Hello from Server: 2` is `Server 2`).
      for (let k = 1; k <= n; k++) counts[`Server ${k}`] = reply.counts[String(k)] ?? 0;
      // A reply from any other replica (a replacement after a crash) spoils the count.
      const counted = Object.values(counts).reduce((a, b) => a + b, 0);
      const strays = requests - reply.failed - counted;
      if (strays > 0) {
        console.error(
          `analyze: ${what}: ${strays} answers from replicas other than Server 1..${n}`,
        );
      }
      running = undefined;
      runs.push({
        ring: ring.label,
        config: ring.config,
        n,
        requests,
        failed: reply.failed + strays,
        elapsedMs: Math.round(reply.elapsedMs),
        stats: loadStats(counts),
      });
    }
  }
  bar.done(`${total} balancers, ${(total * requests).toLocaleString("en-US")} requests`);
  return { meta, concurrency, runs };
}

/** A-4 in-process: disruption for N = 2..10, balance at scale for N up to 100. */
function inProcess(meta: RunMeta, disruptionKeys: number, scaleKeys: number): InProcessResults {
  const dKeys = seededIds(disruptionKeys, meta.seed + 1);
  const sKeys = seededIds(scaleKeys, meta.seed + 2);
  const dNs = [2, 3, 4, 5, 6, 7, 8, 9, 10];
  const sNs = [3, 5, 10, 20, 50, 100];
  const bar = progressBar("A-4 in-process", STUDIED_RINGS.length * (dNs.length + sNs.length));
  let step = 0;
  const disruptions = STUDIED_RINGS.map((ring) => ({
    ring: ring.label,
    config: ring.config,
    rows: dNs.map((n) => {
      bar.update(step++, `disruption ${ring.label} N=${n}`);
      return disruption(ring.config, n, dKeys);
    }),
  }));
  const scale = STUDIED_RINGS.map((ring) => ({
    ring: ring.label,
    config: ring.config,
    rows: sNs.map((n): ScaleRow => {
      bar.update(step++, `scale ${ring.label} N=${n}`);
      const built = buildRing(ring.config, n);
      if (!built) return { n, stats: null, lookupNs: null };
      built.lookup(0); // rings build lazily: keep the build out of the timing
      const started = performance.now();
      const { counts: _, ...stats } = spread(built, sKeys);
      const lookupNs = ((performance.now() - started) * 1e6) / sKeys.length;
      return { n, stats, lookupNs: Math.round(lookupNs) };
    }),
  }));
  bar.done(`${STUDIED_RINGS.length} rings, disruption N = 2..10, scale N up to 100`);
  return {
    meta,
    disruptionKeys,
    scaleKeys,
    disruption: disruptions,
    scale,
    anatomy: specRingAnatomy(),
  };
}

/** a chaos run of its own, written straight to `out`. */
async function chaosRun(out: string, durationS: number): Promise<ChaosTimeline | undefined> {
  console.error(`A-3 chaos: ${durationS} s of load with a kill every 2 s…`);
  const here = new URL(".", import.meta.url);
  const result = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-q",
      "-P=tools",
      `--config=${new URL("../../deno.json", here).pathname}`,
      new URL("../chaos.ts", here).pathname,
      "--duration",
      String(durationS),
      "--out",
      out,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const text = new TextDecoder().decode(result.stdout);
  const failedLine = text.split("\n").find((line) => line.startsWith("| failed"));
  console.error(`A-3 chaos: exit ${result.code}; ${failedLine ?? "no report"}`);
  try {
    return JSON.parse(await Deno.readTextFile(out)) as ChaosTimeline;
  } catch {
    return undefined;
  }
}

/** Writes the charts and REPORT.md; returns the charts. */
async function render(
  docsDir: string,
  http: HttpResults,
  a4: InProcessResults,
  chaos: ChaosTimeline | undefined,
  chaosSource: string,
) {
  const charts = allCharts(http, a4, chaos);
  for (const [name, svg] of charts) await Deno.writeTextFile(`${docsDir}/${name}`, svg);
  await Deno.writeTextFile(
    `${docsDir}/REPORT.md`,
    renderReport(http, a4, chaos, chaosSource, charts),
  );
  return charts;
}

/** `--from-results`: the charts and report again from the JSON of an earlier run. */
async function rerender(resultsDir: string, docsDir: string): Promise<number> {
  const read = async <T>(name: string, optional = false): Promise<T | undefined> => {
    try {
      return JSON.parse(await Deno.readTextFile(`${resultsDir}/${name}`)) as T;
    } catch (error) {
      if (optional && error instanceof Deno.errors.NotFound) return undefined;
      fail(`cannot read ${resultsDir}/${name}: ${(error as Error).message.split("\n")[0]}`);
    }
  };
  const http = (await read<HttpResults>("a1-a2-http.json"))!;
  const a4 = (await read<InProcessResults>("a4-in-process.json"))!;
  const chaos = await read<ChaosTimeline>("a3-chaos.json", true);
  const source = await read<{ chaosSource: string }>("report-source.json", true);
  const charts = await render(docsDir, http, a4, chaos, source?.chaosSource ?? "an earlier run");
  console.log(`analyze: redrew ${charts.length} charts and REPORT.md in ${docsDir}/`);
  return 0;
}

async function main(): Promise<number> {
  const { values } = CLI.parse({
    options: {
      quick: { type: "boolean" },
      seed: { type: "string", default: "42" },
      requests: { type: "string" },
      keys: { type: "string" },
      chaos: { type: "string" },
      "skip-chaos": { type: "boolean" },
      "from-results": { type: "boolean" },
      out: { type: "string", default: "." },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  const quick = values.quick ?? false;
  const requests = intOption(values.requests ?? (quick ? "500" : "10000"), "requests", 10, 1e6);
  const keys = intOption(values.keys ?? (quick ? "20000" : "1000000"), "keys", 100, 1e7);
  const seed = intOption(values.seed, "seed", 0, 2 ** 31 - 1);
  if (values.chaos && values["skip-chaos"]) fail("--chaos and --skip-chaos do not go together");
  const out = values.out.replace(/\/$/, "");
  const resultsDir = `${out}/docs/analysis/data`;
  const docsDir = `${out}/docs/analysis`;
  await Deno.mkdir(resultsDir, { recursive: true });
  await Deno.mkdir(docsDir, { recursive: true });

  const started = performance.now();
  if (values["from-results"]) return await rerender(resultsDir, docsDir);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, async () => {
      console.error(`\nanalyze: ${signal}: stopping the balancer in use`);
      try {
        await running?.[Symbol.asyncDispose]();
      } finally {
        Deno.exit(130);
      }
    });
  }
  const meta: RunMeta = {
    startedAt: new Date().toISOString(),
    quick,
    seed,
    deno: Deno.version.deno,
    cpus: navigator.hardwareConcurrency,
    commit: await commit(),
  };
  const a4 = inProcess(meta, quick ? 10_000 : 100_000, keys);
  const http = await httpRuns(meta, requests, [2, 3, 4, 5, 6]);
  let chaos: ChaosTimeline | undefined;
  let chaosSource = "";
  const chaosFile = `${resultsDir}/a3-chaos.json`;
  if (values.chaos) {
    try {
      chaos = JSON.parse(await Deno.readTextFile(values.chaos)) as ChaosTimeline;
    } catch (error) {
      fail(`cannot read --chaos ${values.chaos}: ${(error as Error).message}`);
    }
    if (!Array.isArray(chaos.samples) || !Array.isArray(chaos.kills)) {
      fail(`--chaos ${values.chaos} is not a timeline written by deno task chaos`);
    }
    await Deno.copyFile(values.chaos, chaosFile);
    chaosSource = `\`${values.chaos}\``;
  } else if (!values["skip-chaos"]) {
    chaos = await chaosRun(chaosFile, quick ? 6 : 30);
    chaosSource = `a run made by this analysis, \`data/a3-chaos.json\``;
  }

  const write = (path: string, data: unknown) =>
    Deno.writeTextFile(path, JSON.stringify(data, null, 1) + "\n");
  await write(`${resultsDir}/a1-a2-http.json`, http);
  await write(`${resultsDir}/a4-in-process.json`, a4);
  await write(`${resultsDir}/report-source.json`, { chaosSource });
  const charts = await render(docsDir, http, a4, chaos, chaosSource);

  const failed = http.runs.reduce((a, r) => a + r.failed, 0);
  console.log(
    `analyze: wrote ${charts.length} charts and REPORT.md to ${docsDir}/, results to ` +
      `${resultsDir}/ in ${((performance.now() - started) / 1000).toFixed(0)} s` +
      (failed ? `; ${failed} requests failed` : ""),
  );
  return failed > 0 || (!values["skip-chaos"] && !chaos) ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main());
