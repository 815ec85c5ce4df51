/**
 * CPU time and memory of running processes, from `/proc` (Linux).
 *
 * @module
 */

/** Clock ticks per second of `/proc/<pid>/stat` times (`getconf CLK_TCK`; 100 on Linux). */
export const CLOCK_TICKS = 100;

/** CPU time, µs: in user space and in the kernel (system calls, loopback TCP). */
export interface CpuTime {
  user: number;
  system: number;
}

/** User and system CPU time of `pid` and all its threads, in µs; zeros when it is gone. */
export function cpuTime(pid: number): CpuTime {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Fields after the command name (which may hold spaces), counted from field 3.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const toMicros = (ticks: string) => (Number(ticks) * 1e6) / CLOCK_TICKS;
    return { user: toMicros(fields[11]), system: toMicros(fields[12]) }; // utime, stime
  } catch {
    return { user: 0, system: 0 };
  }
}

/** Resident memory of `pid`, in KiB; 0 when it is gone. */
export function rssKiB(pid: number): number {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const match = status.match(/^VmRSS:\s+(\d+)\s+kB/m);
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/** `pid` and its descendants (children of children…), from `/proc/<pid>/task/*\/children`. */
export function processTree(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length; i++) {
    try {
      for (const task of Deno.readDirSync(`/proc/${all[i]}/task`)) {
        const text = Deno.readTextFileSync(`/proc/${all[i]}/task/${task.name}/children`).trim();
        if (text) all.push(...text.split(/\s+/).map(Number));
      }
    } catch {
      // gone meanwhile
    }
  }
  return all;
}

/** User and system CPU time of a process tree, µs. */
export function treeCpuTime(pid: number): CpuTime {
  const total = { user: 0, system: 0 };
  for (const p of processTree(pid)) {
    const { user, system } = cpuTime(p);
    total.user += user;
    total.system += system;
  }
  return total;
}

/** Total RSS KiB of a process tree. */
export function treeRssKiB(pid: number): number {
  return processTree(pid).reduce((sum, p) => sum + rssKiB(p), 0);
}
