/**
 * How evenly a Deno server shares itself among many busy keep-alive connections. Two minimal
 * servers answer every request with "ok" after `--busy-us` of work: `listen` reads and writes
 * sockets from JavaScript (`Deno.listen`, as ringlb's socket front and its upstream client
 * do), `serve` is `Deno.serve`. Each counts the requests of every connection; wrk drives them
 * with `--connections` at once; the table gives the spread of those counts. A fair server
 * gives every connection about the same count (nginx does: see docs/performance.md); a
 * connection served far less than the others waited seconds for its answers, which wrk's
 * percentiles hide (they count answers, and a starved connection gives few).
 *
 *     deno run -P=tools tools/bench/fairness.ts [--connections 1000] [--seconds 5] [--busy-us 40]
 *         [--deno PATH]
 *
 * `--deno` runs the servers with another Deno binary (e.g. from `npm install deno@2.2.15`), to
 * compare versions.
 *
 * Each server runs alone on CPU 0, wrk on CPU 1 (as `deno task bench` pins them), on
 * loopback only; both are stopped by pid. Issue #13: the socket front's high-connection row.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { installed, type Peer, startFairnessServer } from "./peers.ts";
import { runWrk, WRK_SCRIPT } from "./wrk.ts";

/** The spread of per-connection request counts. */
export interface Fairness {
  /** Connections counted. */
  connections: number;
  /** Requests per connection: least, percentiles, most. */
  min: number;
  p10: number;
  p50: number;
  p90: number;
  max: number;
  /** Connections served less than a tenth of the mean: they waited most of the run. */
  starved: number;
}

/** The spread of `counts` (requests per connection); throws when there are none. */
export function summarize(counts: readonly number[]): Fairness {
  if (counts.length === 0) throw new Error("no connections were counted");
  const sorted = [...counts].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  const mean = sorted.reduce((sum, n) => sum + n, 0) / sorted.length;
  return {
    connections: sorted.length,
    min: sorted[0],
    p10: at(0.1),
    p50: at(0.5),
    p90: at(0.9),
    max: sorted[sorted.length - 1],
    starved: sorted.filter((n) => n < mean / 10).length,
  };
}

/** Where a server answers with its counts (JSON array); not counted itself. */
export const COUNTS_PATH = "/counts";

const OK = new TextEncoder().encode("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Spins for `us` microseconds: the work a proxy does per request, without allocating. */
function busy(us: number): void {
  const until = performance.now() + us / 1000;
  while (performance.now() < until) {
    // (work)
  }
}

/**
 * The `listen` server: one async loop per connection, reading a request (one read holds a
 * whole wrk request) and writing the answer. Counts of closed connections go to `counts`,
 * of those that sent anything (not a readiness check's).
 */
export async function serveListen(
  listener: Deno.Listener,
  busyUs: number,
  counts: number[],
): Promise<void> {
  for await (const conn of listener) {
    (async () => {
      const buf = new Uint8Array(4096);
      let served = 0;
      let sent = false;
      try {
        for (;;) {
          const n = await conn.read(buf);
          if (n === null) break;
          sent = true;
          const head = decoder.decode(buf.subarray(0, Math.min(n, 64)));
          if (head.startsWith(`GET ${COUNTS_PATH} `)) {
            const body = encoder.encode(JSON.stringify(counts));
            await conn.write(encoder.encode(
              `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n`,
            ));
            await conn.write(body);
            sent = false; // (not a counted connection)
            return;
          }
          busy(busyUs);
          await conn.write(OK);
          served++;
        }
      } catch {
        // Reset by the client at the end of its run: counted all the same.
      } finally {
        if (sent) counts.push(served);
        try {
          conn.close();
        } catch {
          // already closed
        }
      }
    })();
  }
}

/** The `serve` server: `Deno.serve`, connections told apart by their client port. */
export function serveServe(port: number, busyUs: number): Deno.HttpServer {
  const counts = new Map<number, number>();
  return Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, (req, info) => {
    if (new URL(req.url).pathname === COUNTS_PATH) return Response.json([...counts.values()]);
    const client = (info.remoteAddr as Deno.NetAddr).port;
    counts.set(client, (counts.get(client) ?? 0) + 1);
    busy(busyUs);
    return new Response("ok");
  });
}

/** Asks a server for its counts until `connections` are in (closed ones, for `listen`). */
export async function fetchCounts(url: string, connections: number): Promise<number[]> {
  const deadline = performance.now() + 10_000;
  for (;;) {
    const counts: number[] = await (await fetch(`${url}${COUNTS_PATH}`)).json();
    if (counts.length >= connections || performance.now() > deadline) return counts;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Formats the table's row for one server. */
function row(name: string, rps: number, p50: number, p99: number, f: Fairness): string {
  return `| ${name} | ${Math.round(rps)} | ${p50.toFixed(1)} | ${p99.toFixed(1)} | ` +
    `${f.connections} | ${f.min} / ${f.p10} / ${f.p50} / ${f.p90} / ${f.max} | ${f.starved} |`;
}

const USAGE = `usage: fairness.ts [--connections N] [--seconds S] [--busy-us US] [--deno PATH]
  --connections N  open connections (1000)
  --seconds S      length of each run (5)
  --busy-us US     work per request, µs (40: about ringlb's)
  --deno PATH      the Deno that runs the servers (this one)`;

/** "deno 2.9.6" from `PATH --version`; throws when it cannot run or is not a deno. */
async function denoVersion(path: string): Promise<string> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(path, { args: ["--version"], stdout: "piped" }).output();
  } catch (error) {
    throw new Error(`--deno ${path}: ${(error as Error).message}`);
  }
  const first = new TextDecoder().decode(out.stdout).split("\n")[0];
  if (!out.success || !first.startsWith("deno ")) throw new Error(`--deno ${path}: not a deno`);
  return first.split(" ").slice(0, 2).join(" ");
}

function integer(text: string, name: string, min: number, max: number): number {
  const n = Number(text);
  if (text.trim() === "" || !Number.isInteger(n) || n < min || n > max) {
    throw new Error(`--${name} must be an integer from ${min} to ${max}, not "${text}"`);
  }
  return n;
}

async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      connections: { type: "string", default: "1000" },
      seconds: { type: "string", default: "5" },
      "busy-us": { type: "string", default: "40" },
      deno: { type: "string" },
      // (internal: the server subprocess)
      serve: { type: "string" },
      port: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) return console.log(USAGE);
  const busyUs = integer(values["busy-us"], "busy-us", 0, 100_000);
  if (values.serve !== undefined) {
    const port = integer(values.port ?? "", "port", 1, 65535);
    if (values.serve === "serve") return void await serveServe(port, busyUs).finished;
    if (values.serve !== "listen") throw new Error("--serve is listen or serve");
    return await serveListen(Deno.listen({ hostname: "127.0.0.1", port }), busyUs, []);
  }
  const connections = integer(values.connections, "connections", 1, 10_000);
  const seconds = integer(values.seconds, "seconds", 1, 600);
  for (const tool of ["wrk", "taskset"]) {
    if (!installed(tool)) throw new Error(`${tool} is needed (apt install ${tool})`);
  }
  const deno = values.deno ?? Deno.execPath();
  const version = await denoVersion(deno);
  const dir = await Deno.makeTempDir({ prefix: "ringlb-fairness-" });
  const script = `${dir}/ids.lua`;
  await Deno.writeTextFile(script, WRK_SCRIPT);
  const root = new URL("../../", import.meta.url);
  const lines = [
    `| server | req/s | p50 ms | p99 ms | connections | requests per connection: min / p10 / p50 / p90 / max | starved (< mean / 10) |`,
    "|---|---:|---:|---:|---:|---|---:|",
  ];
  try {
    for (const kind of ["listen", "serve"] as const) {
      console.error(`fairness: ${kind}, ${connections} connections, ${seconds} s`);
      let server: Peer | undefined;
      try {
        server = await startFairnessServer(kind, "0", 18580, busyUs, root, deno);
        const wrk = await runWrk({
          url: server.url,
          script,
          connections,
          threads: 1,
          seconds,
          cpus: "1",
        });
        const counts = await fetchCounts(server.url, connections);
        const name = `${server.name}, ${version}`;
        lines.push(row(name, wrk.rps, wrk.p50, wrk.p99, summarize(counts)));
      } finally {
        await server?.stop();
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  console.log(lines.join("\n"));
  console.log(
    `\nCommand: deno run -P=tools tools/bench/fairness.ts --connections ${connections} ` +
      `--seconds ${seconds} --busy-us ${busyUs}${values.deno ? ` --deno ${deno}` : ""} ` +
      "(servers on CPU 0, wrk on CPU 1)",
  );
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (error) {
    console.error(`fairness: ${(error as Error).message}`);
    Deno.exit(1);
  }
}
