/**
 * Ways to kill a balancer's replicas from outside, as an operator or the OOM killer would:
 * SIGKILL of a process replica, or an Engine API kill of a container replica.
 *
 * @module
 */

import { DockerClient, LABELS } from "../balancer/providers/docker/mod.ts";
import type { RunningBalancer } from "../tests/helpers.ts";

/** Replicas that can be killed, as [id (pid or container id), hostname], and how. */
export interface Killer {
  /** The running replicas (spares included). */
  replicas(): Promise<[string, string][]>;
  /** Kills one by id. */
  kill(id: string): Promise<void>;
  /** Releases what the killer holds. */
  close(): Promise<void>;
}

/** Kills a process-provider balancer's replicas with SIGKILL. */
export function processKiller(lb: RunningBalancer): Killer {
  return {
    replicas: () => Promise.resolve([...lb.replicas()].map(([pid, id]) => [String(pid), id])),
    kill: (pid) => Promise.resolve(Deno.kill(Number(pid), "SIGKILL")),
    close: () => Promise.resolve(),
  };
}

/** Kills the containers of the balancer whose owner label is `owner` (Engine API kill). */
export function dockerKiller(owner: string): Killer {
  const client = new DockerClient();
  return {
    async replicas() {
      const list = await client.listContainers([`${LABELS.owner}=${owner}`]);
      return list.filter((c) => c.State === "running")
        .map((c): [string, string] => [c.Id, c.Labels[LABELS.hostname]]);
    },
    kill: (id) => client.killContainer(id),
    close: () => Promise.resolve(client.close()),
  };
}

/** "min / median / max" of a list of milliseconds. */
export function minMedianMax(values: number[]): string {
  if (values.length === 0) return "–";
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted.length % 2
    ? sorted[(sorted.length - 1) / 2]
    : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
  return `${sorted[0].toFixed(0)} / ${median.toFixed(0)} / ${sorted.at(-1)!.toFixed(0)} ms`;
}
