/**
 * Slowloris clients for `deno task bench`: opens `--connections` connections to a loopback
 * port, sends a request line, then one header line every `--every` ms and never the blank line
 * that ends the head, for `--seconds`. Prints one JSON line: how many opened, how many the
 * server closed (and when, ms after opening: median and max), how many were still open.
 *
 *     deno run -P=tools tools/bench/slowloris.ts --port 18092 --connections 3000 --seconds 15
 *
 * Loopback only: the host is always 127.0.0.1.
 *
 * @module
 */

import { parseArgs } from "node:util";

/** What a slowloris run saw. */
export interface SlowlorisResult {
  /** Connections opened. */
  opened: number;
  /** Connections the server closed before the run ended. */
  closedByServer: number;
  /** Median time from open to the server's close, ms (null when none closed). */
  medianCloseMs: number | null;
  /** Longest such time, ms. */
  maxCloseMs: number | null;
  /** Connections that failed to open. */
  failedToOpen: number;
}

const encoder = new TextEncoder();

/** Runs the slowloris clients against `port`. */
export async function slowloris(
  port: number,
  connections: number,
  seconds: number,
  everyMs = 1000,
): Promise<SlowlorisResult> {
  const closeTimes: number[] = [];
  let opened = 0;
  let failed = 0;
  const conns: Deno.Conn[] = [];
  const end = performance.now() + seconds * 1000;
  const watchers: Promise<void>[] = [];
  // Open in batches, so the accept queue is not the limit being measured.
  for (let i = 0; i < connections; i += 100) {
    const batch = await Promise.allSettled(
      Array.from(
        { length: Math.min(100, connections - i) },
        () => Deno.connect({ hostname: "127.0.0.1", port }),
      ),
    );
    for (const r of batch) {
      if (r.status === "rejected") {
        failed++;
        continue;
      }
      const conn = r.value;
      opened++;
      conns.push(conn);
      const openedAt = performance.now();
      watchers.push((async () => {
        const buffer = new Uint8Array(4096);
        try {
          await conn.write(encoder.encode("GET /home?id=1 HTTP/1.1\r\nHost: bench\r\n"));
          // The server's answer (a 408) or its close ends this connection.
          for (;;) {
            const n = await conn.read(buffer);
            if (n === null) break;
          }
          closeTimes.push(performance.now() - openedAt);
        } catch {
          closeTimes.push(performance.now() - openedAt);
        }
      })());
    }
  }
  // Trickle: one more header line per connection every `everyMs`, never the end of the head.
  let line = 0;
  while (performance.now() < end) {
    await new Promise((resolve) => setTimeout(resolve, everyMs));
    line++;
    const bytes = encoder.encode(`X-Trickle-${line}: ${"x".repeat(8)}\r\n`);
    await Promise.allSettled(conns.map((c) => c.write(bytes)));
  }
  const closedByServer = closeTimes.length;
  for (const conn of conns) {
    try {
      conn.close();
    } catch {
      // the server closed it
    }
  }
  await Promise.allSettled(watchers);
  const sorted = closeTimes.slice(0, closedByServer).sort((a, b) => a - b);
  return {
    opened,
    closedByServer,
    medianCloseMs: sorted.length ? Math.round(sorted[Math.floor(sorted.length / 2)]) : null,
    maxCloseMs: sorted.length ? Math.round(sorted[sorted.length - 1]) : null,
    failedToOpen: failed,
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      port: { type: "string" },
      connections: { type: "string", default: "3000" },
      seconds: { type: "string", default: "15" },
      every: { type: "string", default: "1000" },
    },
    strict: true,
  });
  const number = (text: string | undefined, what: string) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n <= 0) {
      console.error(`slowloris: --${what} must be a positive integer, got '${text}'`);
      Deno.exit(2);
    }
    return n;
  };
  const result = await slowloris(
    number(values.port, "port"),
    number(values.connections, "connections"),
    number(values.seconds, "seconds"),
    number(values.every, "every"),
  );
  console.log(JSON.stringify(result));
}
