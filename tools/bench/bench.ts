/**
 * `deno task bench`: ringlb next to nginx and HAProxy, on the same machine in the same run.
 *
 *     deno task bench [--seconds 10] [--reps 3] [--connections 64] [--ring maglev]
 *                     [--only ringlb,nginx,haproxy,direct] [--soak] [--out out]
 *
 * Three backends (one nginx serving three ports, or three Deno replicas without nginx) and
 * wrk share CPU 1; each balancer runs alone on CPU 0 (taskset), one worker. Runs are
 * interleaved, in a rotating order, with a warm-up for each. Traffic goes only to loopback.
 *
 * @module
 */

import {
  BACKEND_NAMES,
  installed,
  type Peer,
  startBackends,
  startHaproxy,
  startNginx,
  startProbe,
  startRinglb,
  versions,
} from "./peers.ts";
import { treeCpuTime, treeRssKiB } from "./proc_stats.ts";
import { pacedScript, runWrk, WRK_SCRIPT, type WrkResult } from "./wrk.ts";
import { type Cli, cli } from "../cli.ts";
import type { SlowlorisResult } from "./slowloris.ts";

const ROOT = new URL("../../", import.meta.url);
const BALANCER_CPUS = "0";
const LOAD_CPUS = "1";
/**
 * The light-load run, for the latency a balancer adds far from saturation: this many
 * connections, each pausing this long between requests (about 6,000 req/s offered).
 */
/** What `--only` can name (all by default). */
const TARGETS = [
  "ringlb",
  "ringlb-serve",
  "ringlb-2",
  "nginx",
  "haproxy",
  "direct",
  "probe",
  "strict",
];

const LIGHT_CONNECTIONS = 16;
const LIGHT_DELAY_MS = 2;

const USAGE = `Usage: deno task bench [options]

Benchmarks ringlb, nginx and HAProxy (consistent hashing on ?id=) and the direct backend with
wrk, on loopback. Needs wrk; nginx and HAProxy are used when installed (apt-get install wrk
nginx-light haproxy) and skipped, with a note, when not.

  --seconds N        length of each measured run (10)
  --reps N           measured runs per target, interleaved (3)
  --connections N    wrk connections (64); wrk uses 1 thread
  --ring NAME        ringlb's ring (maglev)
  --only LIST        targets, comma-separated: ringlb, ringlb-serve (--front serve),
                     ringlb-2 (2 workers on both CPUs), nginx, haproxy, direct, probe (the
                     relay probe: the least a Deno relay does, a floor), strict (the probe
                     with ringlb's strict parsing and header rewriting) (all)
  --soak             also 5 minutes of load on ringlb, sampling its memory (RSS drift)
  --high N           one more run per balancer with N connections (4000; 0: none)
  --slowloris N      N clients trickling a head that never ends while the normal load runs,
                     against ringlb and nginx (3000; 0: none)
  --out DIR          where bench-<time>.json and bench.md go (out; the committed figures are in docs/performance/)
  -h, --help         this text`;

const CLI: Cli = cli("bench", USAGE);
const fail: Cli["fail"] = CLI.fail;
const intOption: Cli["int"] = CLI.int;

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** One measured run of one target. */
interface Run extends WrkResult {
  target: string;
  rep: number;
  /** Balancer CPU per request, µs (none for direct). */
  cpuUsPerRequest: number | null;
  /** Of which in the kernel (system time: the sockets' system calls), µs. */
  kernelUsPerRequest: number | null;
}

/** Shares of 3,000 requests per backend, through a target: max / mean. */
async function keySpread(url: string): Promise<number> {
  const counts = new Map<string, number>();
  let next = 0;
  const worker = async () => {
    while (next < 3000) {
      const id = 100_000 + ((next++ * 7919) % 900_000);
      const body = await (await fetch(`${url}/home?id=${id}`)).text();
      const name = body.match(/Server: ([a-z])"/)?.[1] ?? "?";
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return Math.max(...counts.values()) / (3000 / BACKEND_NAMES.length);
}

async function main(): Promise<number> {
  const { values } = CLI.parse({
    options: {
      seconds: { type: "string", default: "10" },
      reps: { type: "string", default: "3" },
      connections: { type: "string", default: "64" },
      ring: { type: "string", default: "maglev" },
      only: { type: "string", default: TARGETS.join(",") },
      soak: { type: "boolean" },
      high: { type: "string", default: "4000" },
      slowloris: { type: "string", default: "3000" },
      out: { type: "string", default: "out" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  const seconds = intOption(values.seconds, "seconds", 1, 600);
  const reps = intOption(values.reps, "reps", 1, 20);
  const connections = intOption(values.connections, "connections", 1, 10_000);
  const highConnections = intOption(values.high, "high", 0, 10_000);
  const lorisClients = intOption(values.slowloris, "slowloris", 0, 10_000);
  const wanted = values.only.split(",").map((s) => s.trim());
  for (const w of wanted) {
    if (!TARGETS.includes(w)) {
      fail(`--only: unknown target '${w}'`);
    }
  }
  if (!installed("wrk")) fail("wrk is not installed (apt-get install wrk)");
  if (!installed("taskset")) fail("taskset is not installed (apt-get install util-linux)");
  if (navigator.hardwareConcurrency < 2) fail("needs 2 CPUs: one for the balancer, one for load");
  const notes: string[] = [];
  for (const peer of ["nginx", "haproxy"]) {
    if (wanted.includes(peer) && !installed(peer)) {
      notes.push(
        `${peer} is not installed: skipped (apt-get install ${
          peer === "nginx" ? "nginx-light" : "haproxy"
        })`,
      );
    }
  }
  for (const note of notes) console.error(`bench: ${note}`);

  const dir = await Deno.makeTempDir({ prefix: "ringlb-bench-" });
  const script = `${dir}/ids.lua`;
  await Deno.writeTextFile(script, WRK_SCRIPT);
  const paced = `${dir}/ids-paced.lua`;
  await Deno.writeTextFile(paced, pacedScript(LIGHT_DELAY_MS));
  const started: Peer[] = [];
  // Ctrl-C or SIGTERM: stop what was started before going.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, async () => {
      console.error(`\nbench: ${signal}: stopping ${started.length} processes`);
      for (const peer of [...started].reverse()) await peer.stop().catch(() => {});
      Deno.exit(130);
    });
  }
  const runs: Run[] = [];
  const memory: Record<string, number> = {};
  const spread: Record<string, number> = {};
  const soak: { t: number; rssKiB: number }[] = [];
  const light: (WrkResult & { target: string })[] = [];
  const high: (WrkResult & { target: string })[] = [];
  const loris: {
    target: string;
    baseline: WrkResult;
    during: WrkResult;
    clients: SlowlorisResult;
  }[] = [];
  try {
    const backends = await startBackends(dir, LOAD_CPUS, ROOT);
    started.push(...backends);
    const targets: Peer[] = [];
    if (wanted.includes("direct")) {
      targets.push({
        name: "direct (backend a)",
        url: "http://127.0.0.1:18081",
        pid: 0,
        stop: async () => {},
      });
    }
    if (wanted.includes("ringlb")) {
      const ours = await startRinglb(BALANCER_CPUS, 18092, ROOT, values.ring);
      started.push(ours);
      targets.push(ours);
      await new Promise((resolve) => setTimeout(resolve, 1000)); // backends join the ring
      memory.idleKiB = treeRssKiB(ours.pid);
    }
    if (wanted.includes("ringlb-serve")) {
      // The same balancer behind Deno.serve (--front serve): what the socket front replaced.
      const served = await startRinglb(BALANCER_CPUS, 18093, ROOT, values.ring, [
        "--front",
        "serve",
      ]);
      const named = { ...served, name: `${served.name}, --front serve` };
      started.push(named);
      targets.push(named);
    }
    if (wanted.includes("ringlb-2")) {
      // Both CPUs to ringlb (2 workers): it then shares CPU 1 with wrk and the backends.
      const both = await startRinglb("0,1", 18094, ROOT, values.ring, ["--workers", "2"]);
      const named = { ...both, name: `${both.name} ×2 workers, CPUs 0-1` };
      started.push(named);
      targets.push(named);
    }
    if (wanted.includes("probe")) {
      const probe = await startProbe("relay", BALANCER_CPUS, 18095, ROOT);
      started.push(probe);
      targets.push(probe);
    }
    if (wanted.includes("strict")) {
      const probe = await startProbe("strict", BALANCER_CPUS, 18096, ROOT);
      started.push(probe);
      targets.push(probe);
    }
    if (wanted.includes("nginx") && installed("nginx")) {
      const peer = await startNginx(dir, BALANCER_CPUS, 18090);
      started.push(peer);
      targets.push(peer);
    }
    if (wanted.includes("haproxy") && installed("haproxy")) {
      const peer = await startHaproxy(dir, BALANCER_CPUS, 18091);
      started.push(peer);
      targets.push(peer);
    }
    const wrk = (url: string, s: number, c = connections, lua = script) =>
      runWrk({ url, script: lua, connections: c, threads: 1, seconds: s, cpus: LOAD_CPUS });

    console.error(`bench: warm-up, 2 s per target`);
    for (const target of targets) await wrk(target.url, 2);
    for (let rep = 1; rep <= reps; rep++) {
      // Rotate the order each round, so no target always runs first or last.
      const order = targets.map((_, i) => targets[(i + rep - 1) % targets.length]);
      for (const target of order) {
        const before = target.pid ? treeCpuTime(target.pid) : { user: 0, system: 0 };
        const result = await wrk(target.url, seconds);
        const after = target.pid ? treeCpuTime(target.pid) : { user: 0, system: 0 };
        const kernel = after.system - before.system;
        const cpu = after.user - before.user + kernel;
        runs.push({
          target: target.name,
          rep,
          ...result,
          cpuUsPerRequest: target.pid ? cpu / result.requests : null,
          kernelUsPerRequest: target.pid ? kernel / result.requests : null,
        });
        console.error(
          `bench: ${rep}/${reps} ${target.name}: ${Math.round(result.rps)} req/s, p99 ${
            result.p99.toFixed(2)
          } ms${target.pid ? `, ${(cpu / result.requests).toFixed(1)} µs CPU/req` : ""}`,
        );
      }
    }
    for (const target of targets) spread[target.name] = await keySpread(target.url);
    // Light load: a few connections, far below saturation, for the latency a proxy adds.
    for (const target of targets) {
      const result = await wrk(target.url, seconds, LIGHT_CONNECTIONS, paced);
      light.push({ target: target.name, ...result });
    }
    if (highConnections > 0) {
      for (const target of targets.filter((t) => !t.name.startsWith("direct"))) {
        console.error(`bench: ${highConnections} connections, ${target.name}`);
        high.push({ target: target.name, ...await wrk(target.url, seconds, highConnections) });
      }
    }
    // Slowloris against the socket front (the first ringlb) and nginx, 10 s header timeout each.
    const socketFront = targets.find((t) => t.name.startsWith("ringlb"));
    for (const target of targets.filter((t) => t === socketFront || t.name === "nginx")) {
      if (lorisClients === 0) break;
      console.error(`bench: slowloris, ${lorisClients} trickling clients, ${target.name}`);
      const baseline = await wrk(target.url, seconds);
      const clients = new Deno.Command("taskset", {
        args: [
          "-c",
          LOAD_CPUS,
          Deno.execPath(),
          "run",
          "-q",
          "-P=tools",
          `--config=${new URL("deno.json", ROOT).pathname}`,
          new URL("tools/bench/slowloris.ts", ROOT).pathname,
          "--port",
          new URL(target.url).port,
          "--connections",
          String(lorisClients),
          "--seconds",
          String(seconds + 6),
        ],
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      await new Promise((resolve) => setTimeout(resolve, 3000)); // they connect and start
      const during = await wrk(target.url, seconds);
      const out = new TextDecoder().decode((await clients.output()).stdout).trim();
      const clientsResult = JSON.parse(out.split("\n").at(-1) || "{}") as SlowlorisResult;
      loris.push({ target: target.name, baseline, during, clients: clientsResult });
    }
    const ours = targets.find((t) => t.name.startsWith("ringlb"));
    if (ours) {
      memory.afterLoadKiB = treeRssKiB(ours.pid);
      if (values.soak) {
        console.error(`bench: soak, 5 minutes on ${ours.name}`);
        const t0 = performance.now();
        for (let i = 0; i < 30; i++) {
          await wrk(ours.url, 10);
          soak.push({
            t: Math.round((performance.now() - t0) / 1000),
            rssKiB: treeRssKiB(ours.pid),
          });
        }
      }
    }
  } finally {
    for (const peer of started.reverse()) await peer.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }

  // Report.
  const names = [...new Set(runs.map((r) => r.target))];
  const rows = names.map((name) => {
    const mine = runs.filter((r) => r.target === name);
    const errors = mine.reduce(
      (a, r) =>
        a + r.errors.connect + r.errors.read + r.errors.write + r.errors.timeout + r.errors.status,
      0,
    );
    const measured = mine.filter((r) => r.cpuUsPerRequest !== null);
    const cpu = measured.length ? median(measured.map((r) => r.cpuUsPerRequest!)) : null;
    const kernel = measured.length ? median(measured.map((r) => r.kernelUsPerRequest!)) : null;
    return {
      name,
      rps: median(mine.map((r) => r.rps)),
      p50: median(mine.map((r) => r.p50)),
      p99: median(mine.map((r) => r.p99)),
      errors,
      cpu,
      kernel,
      spread: spread[name],
    };
  });
  const nginx = rows.find((r) => r.name === "nginx");
  const direct = rows.find((r) => r.name.startsWith("direct"));
  const ratio = (
    v: number,
    base?: { rps: number },
  ) => (base ? `${(v / base.rps).toFixed(2)}` : "–");
  const table = [
    `| target | req/s (median of ${reps}) | p50 ms | p99 ms | errors | balancer CPU µs/req | of which kernel | CPU × nginx's | req/s × nginx | req/s × direct | keys max/mean |`,
    `|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|`,
    ...rows.map((r) =>
      `| ${r.name} | ${Math.round(r.rps).toLocaleString("en-US")} | ${r.p50.toFixed(2)} | ${
        r.p99.toFixed(2)
      } | ${r.errors} | ${r.cpu === null ? "–" : r.cpu.toFixed(1)} | ${
        r.kernel === null ? "–" : r.kernel.toFixed(1)
      } | ${r.cpu === null || !nginx?.cpu ? "–" : (r.cpu / nginx.cpu).toFixed(2)} | ${
        ratio(r.rps, nginx)
      } | ${ratio(r.rps, direct)} | ${
        r.spread === undefined || r.name.startsWith("direct") ? "–" : r.spread.toFixed(2)
      } |`
    ),
  ].join("\n");
  const lightDirect = light.find((r) => r.target.startsWith("direct"));
  const lightTable = [
    `| light load (${LIGHT_CONNECTIONS} connections, ${LIGHT_DELAY_MS} ms between requests) | req/s | p50 ms | p99 ms | p99 added over direct, ms |`,
    `|---|---:|---:|---:|---:|`,
    ...light.map((r) =>
      `| ${r.target} | ${Math.round(r.rps).toLocaleString("en-US")} | ${r.p50.toFixed(2)} | ${
        r.p99.toFixed(2)
      } | ${lightDirect && r !== lightDirect ? (r.p99 - lightDirect.p99).toFixed(2) : "–"} |`
    ),
  ].join("\n");
  // Drift: the median RSS of the last minute against that of the second (the first is warm-up;
  // single samples swing ±5 % with the GC).
  const minute = (from: number) => median(soak.slice(from, from + 6).map((s) => s.rssKiB));
  const drift = soak.length >= 24 ? minute(soak.length - 6) / minute(6) - 1 : undefined;
  const when = new Date().toISOString();
  const machine = `${navigator.hardwareConcurrency} CPUs, Deno ${Deno.version.deno}`;
  const timeouts = (r: WrkResult) => r.errors.timeout + r.errors.connect + r.errors.read;
  const highTable = high.length === 0 ? "" : [
    `| ${highConnections} connections | req/s | p50 ms | p99 ms | socket errors and timeouts |`,
    `|---|---:|---:|---:|---:|`,
    ...high.map((r) =>
      `| ${r.target} | ${Math.round(r.rps).toLocaleString("en-US")} | ${r.p50.toFixed(2)} | ${
        r.p99.toFixed(2)
      } | ${timeouts(r)} |`
    ),
  ].join("\n") + "\n\n";
  const lorisTable = loris.length === 0 ? "" : [
    `| slowloris (${lorisClients} clients trickling a head) | p99 ms without | p99 ms with | req/s with | closed by the server | close after, median / max ms |`,
    `|---|---:|---:|---:|---:|---:|`,
    ...loris.map((r) =>
      `| ${r.target} | ${r.baseline.p99.toFixed(2)} | ${r.during.p99.toFixed(2)} | ${
        Math.round(r.during.rps).toLocaleString("en-US")
      } | ${r.clients.closedByServer} of ${r.clients.opened} | ${
        r.clients.medianCloseMs ?? "–"
      } / ${r.clients.maxCloseMs ?? "–"} |`
    ),
  ].join("\n") + "\n\n";
  const markdown = `${table}

${lightTable}

${highTable}${lorisTable}
Command: \`deno task bench --only ${values.only} --seconds ${seconds} --reps ${reps} --connections ${connections} --ring ${values.ring} --high ${highConnections} --slowloris ${lorisClients}${
    values.soak ? " --soak" : ""
  }\`
on ${
    when.slice(0, 16).replace("T", " ")
  } UTC (${machine}). Each balancer pinned to CPU ${BALANCER_CPUS}
with one worker/thread; wrk (1 thread, ${connections} connections, random \`?id=\`) and the three backends
share CPU ${LOAD_CPUS}.${
    memory.idleKiB
      ? ` ringlb RSS: ${Math.round(memory.idleKiB / 1024)} MiB idle, ${
        Math.round((memory.afterLoadKiB ?? 0) / 1024)
      } MiB after the runs.`
      : ""
  }${
    drift === undefined
      ? ""
      : ` Soak (5 min): RSS drift ${(drift * 100).toFixed(1)} %, median of the last minute ` +
        `against the second.`
  }${notes.length ? `\n\n${notes.join("; ")}.` : ""}
`;
  console.log(`\n${markdown}`);
  await Deno.mkdir(values.out, { recursive: true });
  const stamp = when.replace(/[:.]/g, "-");
  await Deno.writeTextFile(
    `${values.out}/bench-${stamp}.json`,
    JSON.stringify(
      {
        when,
        machine,
        seconds,
        reps,
        connections,
        ring: values.ring,
        versions: versions(),
        notes,
        light,
        high,
        loris,
        runs,
        rows,
        memory,
        soak,
      },
      null,
      1,
    ) + "\n",
  );
  await Deno.writeTextFile(`${values.out}/bench.md`, markdown);
  console.error(`bench: wrote ${values.out}/bench-${stamp}.json and ${values.out}/bench.md`);
  return rows.some((r) => r.errors > 0) ? 1 : 0;
}

if (import.meta.main) {
  Deno.exit(
    await main().catch((error) => {
      console.error(`bench: ${error instanceof Error ? error.message : error}`);
      return 1;
    }),
  );
}
