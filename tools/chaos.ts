/**
 * The chaos run (analysis A-3, automated): steady load at the balancer while a random
 * replica is killed every few seconds; then a report of what clients saw and how fast the
 * balancer noticed and healed, and the raw timeline as JSON for the charts.
 *
 *     deno task chaos [--duration 30] [--rate 200] [--kill-interval 2000]
 *                     [--provider process|docker] [--slow] [--out FILE] [-- balancer flags…]
 *
 * Traffic goes only to the balancer on 127.0.0.1, in an open loop bounded by the duration
 * and by a cap on requests outstanding; every request is a GET (idempotent). `--slow` makes
 * one replica answer after 2 s for the whole run (heartbeats stay fast), process provider.
 *
 * @module
 */

import { DockerClient } from "../balancer/providers/docker/mod.ts";
import { parseLine } from "../balancer/support/mod.ts";
import { rep, startBalancer, waitFor } from "../tests/helpers.ts";
import { dockerKiller, type Killer, minMedianMax, processKiller } from "./killers.ts";
import { type Cli, cli } from "./cli.ts";

/** One request as the client saw it. */
interface Sample {
  /** Start, ms since the run began. */
  at: number;
  /** Latency, ms. */
  ms: number;
  /** HTTP status, or 0 for a network error. */
  status: number;
  /** Failure kind when not a 200. */
  error?: string;
}

/** One kill and its consequences. */
interface Kill {
  at: number;
  victim: string;
  /** Kill → the balancer logs the replica leaving. */
  detectedMs?: number;
  /** Kill → `/rep` shows N again without the victim (the replacement may still be starting). */
  restoredMs?: number;
  /** Kill → a replacement is in the ring, serving (its `replica.ready` or `.promoted` line). */
  servingMs?: number;
}

const OUTSTANDING_CAP = 512;

const USAGE = `Usage: deno task chaos [options] [-- balancer flags]

Steady GET load at a balancer of its own while a random serving replica is killed every few
seconds; prints a report and writes the timeline as JSON. Exits 1 if a request failed, a
replica was not replaced within 3 s, or load could not be sent.

  --duration S          run length, seconds (30)
  --rate N              requests per second, open loop (200)
  --kill-interval MS    time between kills (2000)
  --provider P          process or docker (process; docker needs the ringlb:latest image)
  --slow                one replica answers after 2 s all along (process provider)
  --out FILE            timeline JSON (out/chaos-<provider>-<time>.json)
  -h, --help            this text`;

const CLI: Cli = cli("chaos", USAGE);
const fail: Cli["fail"] = CLI.fail;
const intOption: Cli["int"] = CLI.int;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function main(): Promise<void> {
  const { values, positionals } = CLI.parse({
    options: {
      duration: { type: "string", default: "30" },
      rate: { type: "string", default: "200" },
      "kill-interval": { type: "string", default: "2000" },
      provider: { type: "string", default: "process" },
      slow: { type: "boolean" },
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
    strict: true,
  }, "balancer flags go after --");
  const durationS = intOption(values.duration, "duration", 1, 3600);
  const rate = intOption(values.rate, "rate", 1, 5000);
  const killInterval = intOption(values["kill-interval"], "kill-interval", 200, 600_000);
  const provider = values.provider;
  if (provider !== "process" && provider !== "docker") {
    fail(`--provider must be process or docker, got '${provider}'`);
  }
  if (values.slow && provider !== "process") fail("--slow works with --provider process only");

  const owner = `ringlb-chaos-${Deno.pid}`;
  // Replicas answer as their hostnames: the process killer finds them by SERVER_ID.
  const flags = provider === "docker"
    ? ["--provider", "docker", "--docker-network", owner, "--docker-owner", owner]
    : ["--replica-id", "name"];
  console.log(
    `chaos: ${provider} replicas, ${rate} req/s for ${durationS} s, a kill every ${killInterval} ms`,
  );
  await using lb = await startBalancer([...flags, ...positionals.map(String)], {
    ...(values.slow ? { FAULT_SIGNALS: "1" } : {}),
  });
  const killer: Killer = provider === "docker" ? dockerKiller(owner) : processKiller(lb);
  const n = (await rep(lb.url)).N;
  const t0 = performance.now();
  const now = () => performance.now() - t0;
  const wall0 = Date.now();

  let slowOne: string | undefined;
  if (values.slow) {
    const listed = new Set((await rep(lb.url)).replicas);
    const [pid, name] = (await killer.replicas()).find(([, name]) => listed.has(name))!;
    Deno.kill(Number(pid), "SIGUSR2");
    slowOne = name; // never killed, so it stays slow for the whole run
    console.log(`chaos: ${name} answers after 2 s from now on`);
  }

  // Load: an open loop in 10 ms ticks.
  const samples: Sample[] = [];
  let outstanding = 0;
  let shed = 0;
  const inFlight = new Set<Promise<void>>();
  const fire = () => {
    if (outstanding >= OUTSTANDING_CAP) {
      shed++;
      return;
    }
    outstanding++;
    const at = now();
    const id = 100_000 + Math.floor(Math.random() * 900_000);
    const p = fetch(`${lb.url}/home?id=${id}`, { signal: AbortSignal.timeout(20_000) })
      .then(async (res) => {
        const body = await res.text();
        const error = res.status === 200 ? undefined : `${res.status} ${body.slice(0, 120)}`;
        samples.push({ at, ms: now() - at, status: res.status, error });
      }, (error) => {
        samples.push({ at, ms: now() - at, status: 0, error: String(error).slice(0, 120) });
      })
      .finally(() => {
        outstanding--;
        inFlight.delete(p);
      });
    inFlight.add(p);
  };
  // Fire what is due by the clock, so timer drift does not lower the rate.
  let fired = 0;
  const loadStart = now();
  const ticker = setInterval(() => {
    const due = Math.floor(((now() - loadStart) * rate) / 1000);
    for (; fired < due; fired++) fire();
  }, 10);

  // Kills, each followed by watching for detection and restoration.
  const kills: Kill[] = [];
  const watchers: Promise<void>[] = [];
  const credited = new Set<string>();
  const endAt = durationS * 1000;
  while (now() + killInterval < endAt) {
    await new Promise((resolve) => setTimeout(resolve, killInterval));
    const before = (await rep(lb.url)).replicas;
    const candidates = (await killer.replicas())
      .filter(([, name]) => before.includes(name) && name !== slowOne);
    if (candidates.length === 0) continue;
    const [id, victim] = candidates[Math.floor(Math.random() * candidates.length)];
    const kill: Kill = { at: now(), victim };
    const logMark = lb.log.length;
    const killedWall = Date.now();
    await killer.kill(id);
    kills.push(kill);
    watchers.push((async () => {
      let scanned = logMark; // the log is read incrementally
      await waitFor(
        async () => {
          for (; scanned < lb.log.length; scanned++) {
            const record = parseLine(lb.log[scanned]);
            if (!record) continue;
            const name = record.fields.name;
            if (record.event === "replica.stopping" && name === victim) {
              kill.detectedMs ??= record.time - killedWall;
            }
            // The first replica to start serving after this kill that is not one of those
            // serving before it, and not already another kill's replacement.
            const serving = record.event === "replica.ready" || record.event === "replica.promoted";
            if (
              serving && kill.servingMs === undefined && kill.detectedMs !== undefined &&
              !before.includes(name) && !credited.has(name)
            ) {
              credited.add(name);
              kill.servingMs = record.time - killedWall;
            }
          }
          if (kill.restoredMs === undefined) {
            try {
              const { N, replicas } = await rep(lb.url);
              if (N === n && !replicas.includes(victim)) kill.restoredMs = Date.now() - killedWall;
            } catch {
              // A slow /rep answer is retried on the next poll.
            }
          }
          return kill.restoredMs !== undefined && kill.servingMs !== undefined;
        },
        `restoration after killing ${victim}`,
        30_000,
        50, // poll gently: the measurement must not load what it measures
      ).catch(() => {});
    })());
    console.log(`chaos: ${(kill.at / 1000).toFixed(1)} s: killed ${victim}`);
  }
  const remaining = endAt - now();
  if (remaining > 0) await new Promise((resolve) => setTimeout(resolve, remaining));
  clearInterval(ticker);
  await Promise.all([...inFlight]);
  await Promise.all(watchers);
  await killer.close();
  await lb.stop();
  if (provider === "docker") {
    const client = new DockerClient();
    await client.removeNetwork(owner).catch(() => {});
    client.close();
  }

  // Report.
  const failed = samples.filter((s) => s.status !== 200);
  const byKind = new Map<string, number>();
  for (const s of failed) {
    const kind = s.status === 0 ? "network error" : `HTTP ${s.status}`;
    byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
  }
  const latencies = samples.map((s) => s.ms).sort((a, b) => a - b);
  const detected = kills.flatMap((k) => k.detectedMs === undefined ? [] : [k.detectedMs]);
  const restored = kills.flatMap((k) => k.restoredMs === undefined ? [] : [k.restoredMs]);
  const serving = kills.flatMap((k) => k.servingMs === undefined ? [] : [k.servingMs]);
  const lines = [
    `| provider | ${provider} (${n} replicas) |`,
    `| requests sent | ${samples.length} (${shed} not sent: ${OUTSTANDING_CAP} outstanding) |`,
    `| failed | ${failed.length}${
      failed.length ? ` (${[...byKind].map(([k, v]) => `${k}: ${v}`).join(", ")})` : ""
    } |`,
    `| latency p50 / p99 / max | ${percentile(latencies, 50).toFixed(1)} / ${
      percentile(latencies, 99).toFixed(1)
    } / ${(latencies.at(-1) ?? Number.NaN).toFixed(1)} ms |`,
    `| kills | ${kills.length}, every ${killInterval} ms |`,
    `| kill → detected (min / median / max) | ${minMedianMax(detected)} |`,
    `| kill → /rep shows N again (min / median / max) | ${minMedianMax(restored)}${
      restored.length < kills.length ? ` (${kills.length - restored.length} not restored)` : ""
    } |`,
    `| kill → replacement serving in the ring (min / median / max) | ${minMedianMax(serving)}${
      serving.length < kills.length ? ` (${kills.length - serving.length} not seen)` : ""
    } |`,
  ];
  console.log(`\n| chaos run | ${durationS} s at ${rate} req/s |\n|---|---|\n${lines.join("\n")}`);
  for (const s of failed.slice(0, 5)) {
    console.log(`  failure at ${(s.at / 1000).toFixed(2)} s: ${s.error}`);
  }
  console.log("\nper kill: at, victim, detected, /rep back to N, replacement serving");
  for (const k of kills) {
    const ms = (v?: number) => v === undefined ? "–" : `${v} ms`;
    console.log(
      `  ${(k.at / 1000).toFixed(1)} s  ${k.victim}  ${ms(k.detectedMs)}  ${ms(k.restoredMs)}  ${
        ms(k.servingMs)
      }`,
    );
  }

  const out = values.out ??
    `out/chaos-${provider}-${new Date(wall0).toISOString().replace(/[:.]/g, "-")}.json`;
  await Deno.mkdir(out.split("/").slice(0, -1).join("/") || ".", { recursive: true });
  await Deno.writeTextFile(
    out,
    JSON.stringify(
      {
        provider,
        replicas: n,
        rate,
        durationS,
        killIntervalMs: killInterval,
        startedAt: new Date(wall0).toISOString(),
        sent: samples.length,
        shed,
        failed: Object.fromEntries(byKind),
        latencyMs: {
          p50: percentile(latencies, 50),
          p99: percentile(latencies, 99),
          max: latencies.at(-1) ?? null,
        },
        kills,
        samples: samples.sort((a, b) => a.at - b.at).map((s) => [
          Math.round(s.at),
          Math.round(s.ms * 10) / 10,
          s.status,
        ]),
      },
      null,
      1,
    ),
  );
  console.log(`\nchaos: timeline written to ${out}`);
  const slowHeal = serving.some((ms) => ms > 3_000) || serving.length < kills.length;
  if (shed > 0) console.log(`chaos: ${shed} requests were never sent (load generator saturated)`);
  if (failed.length > 0 || restored.length < kills.length || slowHeal || shed > 0) {
    Deno.exitCode = 1;
  }
}

if (import.meta.main) await main();
