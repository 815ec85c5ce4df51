/**
 * Runs wrk with a random `?id=` per request and reads its results as JSON (a Lua `done`
 * hook prints them), so nothing is scraped from wrk's human output.
 *
 * @module
 */

/** What one wrk run measured. */
export interface WrkResult {
  /** Requests completed. */
  requests: number;
  /** Run length, s. */
  seconds: number;
  /** Requests per second. */
  rps: number;
  /** Latency percentiles and max, ms. */
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** Socket errors (connect, read, write, timeout) and non-2xx/3xx answers. */
  errors: { connect: number; read: number; write: number; timeout: number; status: number };
}

/** The Lua script: random 6-digit ids from a fixed seed; JSON summary on stdout. */
export const WRK_SCRIPT = `
math.randomseed(42)
request = function()
  return wrk.format("GET", "/home?id=" .. math.random(100000, 999999))
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,' ..
    '"timeout":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
`;

/**
 * The same, paced: each connection waits `delayMs` between requests, so a few connections
 * offer a fixed, moderate load instead of running flat out (wrk is a closed loop).
 */
export function pacedScript(delayMs: number): string {
  return `${WRK_SCRIPT}\ndelay = function()\n  return ${delayMs}\nend\n`;
}

/** Options of {@linkcode runWrk}. */
export interface WrkOptions {
  /** Target base URL (loopback). */
  url: string;
  /** Path of the Lua script ({@linkcode WRK_SCRIPT} written to a file). */
  script: string;
  /** Open connections. */
  connections: number;
  /** wrk threads. */
  threads: number;
  /** Seconds. */
  seconds: number;
  /** CPUs to pin wrk to (`taskset -c`), e.g. "1". */
  cpus?: string;
}

/** Runs wrk once; throws with wrk's output when it fails or prints no summary. */
export async function runWrk(options: WrkOptions): Promise<WrkResult> {
  const args = [
    "-t",
    String(options.threads),
    "-c",
    String(options.connections),
    "-d",
    `${options.seconds}s`,
    "--timeout",
    "5s",
    "-s",
    options.script,
    options.url,
  ];
  const [cmd, ...rest] = options.cpus ? ["taskset", "-c", options.cpus, "wrk", ...args] : [
    "wrk",
    ...args,
  ];
  const out = await new Deno.Command(cmd, { args: rest, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stdout);
  const line = text.split("\n").find((l) => l.startsWith("WRK_JSON "));
  if (!out.success || !line) {
    throw new Error(`wrk failed: ${text}${new TextDecoder().decode(out.stderr)}`.trim());
  }
  const j = JSON.parse(line.slice("WRK_JSON ".length));
  const seconds = j.us / 1e6;
  return {
    requests: j.requests,
    seconds,
    rps: j.requests / seconds,
    p50: j.p50 / 1000,
    p90: j.p90 / 1000,
    p99: j.p99 / 1000,
    max: j.max / 1000,
    errors: {
      connect: j.connect,
      read: j.read,
      write: j.write,
      timeout: j.timeout,
      status: j.status,
    },
  };
}
