/**
 * Helpers for suites that run the real balancer as a process: start it, find its replica
 * processes, stop everything it started.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { waitFor } from "../balancer/testing/mod.ts";
import { readLines } from "../balancer/support/mod.ts";
import { createServerApp } from "../server/mod.ts";

export { waitFor };

/** How a suite declares its tests: `Deno.test`'s two common forms. */
export interface SuiteTest {
  (definition: Deno.TestDefinition): void;
  (name: string, fn: (t: Deno.TestContext) => void | Promise<void>): void;
}

/** The permissions of `names` that this run lacks. */
export function lackingPermissions(names: Deno.PermissionName[]): Deno.PermissionName[] {
  return names.filter((name) => Deno.permissions.querySync({ name }).state !== "granted");
}

/** Whether `CI=true` (false when the variable cannot be read). */
export function inCI(): boolean {
  const readable = Deno.permissions.querySync({ name: "env", variable: "CI" }).state === "granted";
  return readable && Deno.env.get("CI") === "true";
}

/**
 * `Deno.test` for a suite that needs `permissions`. Run without them (a plain `deno test` of the
 * file, say), its tests are ignored and one line says which are missing, instead of each failing
 * with `NotCapable`; with `CI=true` they run (and fail), so CI cannot skip them by accident.
 * `ready` is false when they are ignored: probe nothing at the top level then.
 */
export function suiteTest(
  suite: string,
  permissions: Deno.PermissionName[],
): { test: SuiteTest; ready: boolean } {
  const missing = lackingPermissions(permissions);
  if (missing.length === 0 || inCI()) return { test: Deno.test, ready: missing.length === 0 };
  console.log(
    `${suite} skipped: it needs ${missing.map((name) => `--allow-${name}`).join(" ")} ` +
      "(run it with `deno task test`, or `deno test -P=test`)",
  );
  const ignored = (
    first: string | Deno.TestDefinition,
    fn?: (t: Deno.TestContext) => void | Promise<void>,
  ) => {
    const definition = typeof first === "string" ? { name: first, fn: fn! } : first;
    Deno.test({ ...definition, ignore: true });
  };
  return { test: ignored, ready: false };
}

const MAIN = fileURLToPath(import.meta.resolve("../balancer/main.ts"));
const CONFIG = fileURLToPath(import.meta.resolve("../deno.json"));

/** A balancer process started by a test. */
export interface RunningBalancer {
  /** Its pid. */
  readonly pid: number;
  /** Base URL, e.g. `http://127.0.0.1:41234` (`https://` with `--tls-cert`). */
  readonly url: string;
  /** Its log lines so far (standard error). */
  readonly log: string[];
  /** Its replica processes now: pid → SERVER_ID. */
  replicas(): Map<number, string>;
  /** Sends a signal and waits for the exit; returns the exit code. Idempotent. */
  stop(signal?: Deno.Signal): Promise<number>;
  /** Disposes by stopping with SIGTERM, then SIGKILL-ing any replica left (never leak). */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Collects lines from a stream; resolves at its end. */
async function collect(
  stream: ReadableStream<Uint8Array>,
  into: string[],
  onLine?: (l: string) => void,
) {
  for await (const line of readLines(stream)) {
    into.push(line);
    onLine?.(line);
  }
}

/** The pids whose parent is `ppid`, read from /proc. */
export function childPids(ppid: number): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      // Field 4 (after the parenthesised command, which may hold spaces) is the parent pid.
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === ppid) {
        pids.push(Number(entry.name));
      }
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

/** The processes whose parent is `ppid`, with their `SERVER_ID` (replicas only). */
export function childrenOf(ppid: number): Map<number, string> {
  const found = new Map<number, string>();
  for (const pid of childPids(ppid)) {
    const id = serverIdOf(pid);
    if (id !== undefined) found.set(pid, id);
  }
  return found;
}

/** The `SERVER_ID` in a running process's environment, if any. */
export function serverIdOf(pid: number): string | undefined {
  if (!isAlive(pid)) return undefined;
  try {
    const environ = Deno.readTextFileSync(`/proc/${pid}/environ`).split("\0");
    return environ.find((v) => v.startsWith("SERVER_ID="))?.slice("SERVER_ID=".length);
  } catch {
    return undefined;
  }
}

/** Whether a process is still running (not a zombie). */
export function isAlive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** SIGKILLs a process we started, ignoring one that already ended. */
export function killQuietly(pid: number, signal: Deno.Signal = "SIGKILL"): void {
  try {
    Deno.kill(pid, signal);
  } catch {
    // already gone
  }
}

/**
 * Starts `balancer/main.ts` on a free loopback port with `args`, and resolves once it
 * listens (its replicas serve by then). Extra environment goes to it and its replicas.
 */
export async function startBalancer(
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<RunningBalancer> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      `--config=${CONFIG}`,
      "-q",
      "-P=balancer",
      MAIN,
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      ...args,
    ],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out: string[] = [];
  const log: string[] = [];
  const listening = Promise.withResolvers<string>();
  const outDone = collect(child.stdout, out, (line) => {
    const match = line.match(/listening on (https?:\/\/\S+?)\/? /);
    if (match) listening.resolve(match[1].replace("localhost", "127.0.0.1"));
  });
  const errDone = collect(child.stderr, log);
  const seen = new Map<number, string>();
  let exitCode: Promise<number> | undefined;
  const stop = (signal: Deno.Signal = "SIGTERM") => {
    exitCode ??= (async () => {
      killQuietly(child.pid, signal);
      const status = await child.status;
      await Promise.all([outDone, errDone]);
      return status.code;
    })();
    return exitCode;
  };
  const replicas = () => {
    const now = childrenOf(child.pid);
    for (const [pid, id] of now) seen.set(pid, id);
    return now;
  };
  const exited = child.status.then((s) => `balancer exited with code ${s.code} before listening`);
  const url = await Promise.race([
    listening.promise,
    exited.then((why) => Promise.reject(new Error(`${why}:\n${log.join("\n")}`))),
    new Promise<never>((_, reject) =>
      setTimeout(
        () => reject(new Error(`balancer did not listen within 20 s:\n${log.join("\n")}`)),
        20_000,
      )
    ),
  ]).catch(async (error) => {
    await stop("SIGKILL");
    throw error;
  });
  replicas();
  return {
    pid: child.pid,
    url,
    log,
    replicas,
    stop,
    async [Symbol.asyncDispose]() {
      replicas();
      await stop();
      // Never leak a replica, and never signal a pid that now belongs to someone else.
      for (const [pid, id] of seen) if (serverIdOf(pid) === id) killQuietly(pid);
    },
  };
}

/** Outcome of {@linkcode steadyLoad}. */
export interface LoadReport {
  /** Requests sent. */
  sent: number;
  /** Non-200 answers and network errors, described. */
  failures: string[];
  /** Which replica answered how often (from the `/home` message). */
  byReplica: Map<string, number>;
}

/** Options of {@linkcode steadyLoad}. */
export interface LoadOptions {
  /** Request loops. Default 4. */
  concurrency?: number;
  /** Longest run, ms. Default 10 000. */
  maxMs?: number;
  /** Most requests in all. Default 20 000. */
  maxRequests?: number;
  /** The report to fill as answers come (to watch the run's progress). Default a new one. */
  report?: LoadReport;
}

/** An empty {@linkcode LoadReport}. */
export function newReport(): LoadReport {
  return { sent: 0, failures: [], byReplica: new Map() };
}

/**
 * Sends `GET /home?id=<random>` from `concurrency` loops until `until()` is true or
 * `maxMs` passed, at most `maxRequests` in all. Bounded in count and time, loopback only.
 */
export async function steadyLoad(
  baseUrl: string,
  until: () => boolean,
  { concurrency = 4, maxMs = 10_000, maxRequests = 20_000, report = newReport() }: LoadOptions = {},
): Promise<LoadReport> {
  const deadline = performance.now() + maxMs;
  const loop = async () => {
    while (!until() && performance.now() < deadline && report.sent < maxRequests) {
      report.sent++;
      const id = 100_000 + Math.floor(Math.random() * 900_000);
      try {
        const res = await fetch(`${baseUrl}/home?id=${id}`);
        const text = await res.text();
        if (res.status !== 200) report.failures.push(`${res.status} ${text}`);
        else {
          const name = JSON.parse(text).message.replace("Hello from Server: ", "");
          report.byReplica.set(name, (report.byReplica.get(name) ?? 0) + 1);
        }
      } catch (error) {
        report.failures.push(String(error));
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return report;
}

/**
 * Which replica answers each key through one balancer: `GET /home?id=K`, 16 at a time
 * (loopback, bounded by the keys given). Throws on any answer but a 200.
 */
export async function ownersOf(url: string, keys: readonly number[]): Promise<string[]> {
  const owners = new Array<string>(keys.length);
  let next = 0;
  const loop = async () => {
    while (next < keys.length) {
      const i = next++;
      const res = await fetch(`${url}/home?id=${keys[i]}`);
      const body = await res.json();
      if (res.status !== 200) throw new Error(`key ${keys[i]}: ${JSON.stringify(body)}`);
      owners[i] = body.message.replace("Hello from Server: ", "");
    }
  };
  await Promise.all(Array.from({ length: 16 }, loop));
  return owners;
}

/** `GET /rep`'s message. */
export async function rep(baseUrl: string): Promise<{ N: number; replicas: string[] }> {
  const res = await fetch(`${baseUrl}/rep`, { signal: AbortSignal.timeout(5_000) });
  return (await res.json()).message;
}

/** Replica apps serving on loopback, for `--provider static`; disposing shuts them down. */
export interface StaticBackends extends AsyncDisposable {
  /** The `--backends` value: `id=http://127.0.0.1:port,…`. */
  readonly flag: string;
  /** The balancer's flags to route to them: `--provider static --backends <flag>`. */
  readonly args: string[];
}

/**
 * One replica app (`server/`) per id on a free loopback port, in this process. `wrap` may put
 * something in front of each (a delay, a fault).
 */
export function staticBackends(
  ids: readonly string[],
  wrap: (app: (request: Request) => Response | Promise<Response>) => Deno.ServeHandler = (
    app,
  ) => app,
): StaticBackends {
  const servers = ids.map((id) => {
    const app = createServerApp({ id });
    return Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      wrap((request) => app.fetch(request)),
    );
  });
  const flag = servers.map((s, i) => `${ids[i]}=http://127.0.0.1:${s.addr.port}`).join(",");
  return {
    flag,
    args: ["--provider", "static", "--backends", flag],
    async [Symbol.asyncDispose]() {
      await Promise.all(servers.map((s) => s.shutdown()));
    },
  };
}

/** Inodes of the TCP sockets listening on `port` (IPv4), from /proc/net/tcp. */
export function listeningInodes(port: number): Set<string> {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  const inodes = new Set<string>();
  for (const line of Deno.readTextFileSync("/proc/net/tcp").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length > 9 && f[1].endsWith(`:${hex}`) && f[3] === "0A") inodes.add(f[9]);
  }
  return inodes;
}
