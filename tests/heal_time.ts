/**
 * Measures how fast the balancer heals: kills a random replica with SIGKILL, `--kills` times,
 * and times kill → replacement in the ring (its `replica.ready` log line) and kill → `/rep`
 * showing N again. Loopback only; every request loop is bounded.
 *
 *     deno task heal-time [--kills 10] [balancer flags…]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { rep, startBalancer, waitFor } from "./helpers.ts";

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

function stats(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted.length % 2
    ? sorted[(sorted.length - 1) / 2]
    : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
  return `min ${sorted[0].toFixed(0)} / median ${median.toFixed(0)} / max ${
    sorted.at(-1)!.toFixed(0)
  } ms`;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: { kills: { type: "string", default: "10" } },
    allowPositionals: true,
    strict: false,
  });
  const kills = Number(values.kills);
  if (!Number.isInteger(kills) || kills < 1 || kills > 1000) {
    console.error(`heal-time: --kills must be an integer from 1 to 1000, got '${values.kills}'`);
    Deno.exit(2);
  }
  await using lb = await startBalancer(positionals.map(String));
  const n = (await rep(lb.url)).N;
  const samples: HealSample[] = [];
  for (let k = 1; k <= kills; k++) {
    const before = lb.replicas();
    const [pid, killed] = [...before][Math.floor(Math.random() * before.size)];
    const logMark = lb.log.length;
    const killedAt = Date.now();
    Deno.kill(pid, "SIGKILL");
    let replacement = "";
    let readyAt = 0;
    await waitFor(
      () => {
        for (const line of lb.log.slice(logMark)) {
          const match = line.match(/^(\S+) info {2}replica\.ready name=(\S+)/);
          if (match) {
            readyAt = Date.parse(match[1]);
            replacement = match[2];
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
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  console.log(`\nkill → replacement in the ring: ${stats(samples.map((s) => s.readyMs))}`);
  console.log(`kill → /rep shows N = ${n} again:  ${stats(samples.map((s) => s.repMs))}`);
}

if (import.meta.main) await main();
