/**
 * Measures how fast the balancer heals: kills a random replica with SIGKILL, `--kills` times,
 * and times kill → replacement in the ring (its `replica.ready` or `replica.promoted` log
 * line) and kill → `/rep`
 * showing N again. Loopback and the test's own containers only; every loop is bounded.
 *
 *     deno task heal-time [--kills 10] [--interval MS] [--docker] [-- balancer flags…]
 *
 * With `--docker` the balancer runs on the host with `--provider docker` on a network and
 * owner label of its own, and replicas are killed through the Engine API (like `docker kill`).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { DockerClient } from "../balancer/providers/docker/mod.ts";
import { parseLine } from "../balancer/support/mod.ts";
import { rep, startBalancer, waitFor } from "../tests/helpers.ts";
import { dockerKiller, minMedianMax, processKiller } from "./killers.ts";

/** One kill's timings, ms. */
export interface HealSample {
  /** Replica killed. */
  killed: string;
  /** Its replacement. */
  replacement: string;
  /** Kill → replacement in the ring (first good heartbeat). */
  readyMs: number;
  /** Kill → `/rep` showing the original N with the replacement. */
  repMs: number;
}

const USAGE = `Usage: deno task heal-time [options] [-- balancer flags]

Kills a random replica with SIGKILL, --kills times, and times kill → replacement in the ring and
kill → /rep showing N again. Loopback (and, with --docker, the run's own containers) only.

  --kills N        kills (10)
  --interval MS    pause between a heal and the next kill (200; 3000 with --docker)
  --docker         the balancer on the host with --provider docker, replicas killed through
                   the Engine API
  -h, --help       this text`;

async function main(): Promise<void> {
  const options = {
    kills: { type: "string", default: "10" },
    interval: { type: "string" },
    docker: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  } as const;
  let parsed;
  try {
    parsed = parseArgs({ args: Deno.args, options, allowPositionals: true, strict: true });
  } catch (error) {
    const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
    console.error(`heal-time: ${message} (balancer flags go after --)`);
    Deno.exit(2);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const kills = Number(values.kills);
  if (!Number.isInteger(kills) || kills < 1 || kills > 1000) {
    console.error(`heal-time: --kills must be an integer from 1 to 1000, got '${values.kills}'`);
    Deno.exit(2);
  }
  // Time between a heal and the next kill: long enough for a new warm spare (Docker).
  const interval = Number(values.interval ?? (values.docker ? 3000 : 200));
  if (!Number.isInteger(interval) || interval < 0 || interval > 60_000) {
    console.error(`heal-time: --interval must be 0 to 60000 ms, got '${values.interval}'`);
    Deno.exit(2);
  }
  const owner = `ringlb-heal-${Deno.pid}`;
  // (Replicas answer as their hostnames: the process killer finds them by SERVER_ID.)
  const dockerFlags = values.docker
    ? ["--provider", "docker", "--docker-network", owner, "--docker-owner", owner]
    : ["--replica-id", "name"];
  await using lb = await startBalancer([...dockerFlags, ...positionals.map(String)]);
  const killer = values.docker ? dockerKiller(owner) : processKiller(lb);
  const n = (await rep(lb.url)).N;
  const samples: HealSample[] = [];
  for (let k = 1; k <= kills; k++) {
    // Only replicas in /rep: a warm spare is not serving, killing it heals nothing.
    const serving = new Set((await rep(lb.url)).replicas);
    const before = (await killer.replicas()).filter(([, name]) => serving.has(name));
    const [id, killed] = before[Math.floor(Math.random() * before.length)];
    const logMark = lb.log.length;
    const killedAt = Date.now();
    await killer.kill(id);
    let replacement = "";
    let readyAt = 0;
    await waitFor(
      () => {
        for (const line of lb.log.slice(logMark)) {
          const record = parseLine(line);
          if (record?.event === "replica.ready" || record?.event === "replica.promoted") {
            readyAt = record.time;
            replacement = record.fields.name;
            return true;
          }
        }
        return false;
      },
      `kill ${k}: replacement ready`,
      10_000,
    );
    await waitFor(
      async () => {
        const { N, replicas } = await rep(lb.url);
        return N === n && replicas.includes(replacement);
      },
      `kill ${k}: /rep back to N = ${n}`,
      10_000,
    );
    const repMs = Date.now() - killedAt;
    samples.push({ killed, replacement, readyMs: readyAt - killedAt, repMs });
    console.log(
      `kill ${k}/${kills}: ${killed} → ${replacement}: in the ring after ${
        readyAt - killedAt
      } ms, ` +
        `/rep after ${repMs} ms`,
    );
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
  await killer.close();
  if (values.docker) {
    await lb.stop();
    await new DockerClient().removeNetwork(owner).catch(() => {});
  }
  console.log(
    `\nkill → replacement in the ring (min / median / max): ${
      minMedianMax(samples.map((s) => s.readyMs))
    }`,
  );
  console.log(`kill → /rep shows N = ${n} again: ${minMedianMax(samples.map((s) => s.repMs))}`);
}

if (import.meta.main) await main();
