/**
 * The floor for a proxy on Deno: the least work that relays a keep-alive HTTP/1.1 request. It
 * reads a request head off `Deno.listen`, takes `id` from its request line, picks a backend
 * (id modulo their number), sends the head's bytes as they are on a pooled connection, reads
 * the answer by its `Content-Length` and writes its bytes back. Nothing else: no strict
 * parsing, no header rewriting, no bodies, no retries, no timeouts. `deno task bench` runs it
 * beside ringlb so that ringlb's cost can be read against what the runtime itself costs, in
 * the same run (issue #13's probe).
 *
 *     deno run --allow-net=127.0.0.1 tools/bench/relay_probe.ts PORT BACKEND_PORT...
 *
 * @module
 */

const CR = 0x0d;
const LF = 0x0a;
const ascii = new TextDecoder();

/** Index just past the first CRLF CRLF in `buf[0, n)`, or -1. */
export function headEnd(buf: Uint8Array, n: number): number {
  for (let i = 3; i < n; i++) {
    if (buf[i] === LF && buf[i - 1] === CR && buf[i - 2] === LF && buf[i - 3] === CR) return i + 1;
  }
  return -1;
}

/** Relays one client connection's requests until it closes. */
async function relay(
  client: Deno.Conn,
  pools: Deno.TcpConn[][],
  ports: number[],
): Promise<void> {
  const request = new Uint8Array(16 * 1024);
  const answer = new Uint8Array(16 * 1024);
  try {
    for (;;) {
      let n = 0;
      let end = -1;
      while (end < 0) {
        if (n === request.length) return; // a head larger than the buffer: not the probe's job
        const read = await client.read(request.subarray(n));
        if (read === null) return;
        n += read;
        end = headEnd(request, n);
      }
      const line = ascii.decode(request.subarray(0, Math.min(n, 200)));
      const id = /[?&]id=(\d+)/.exec(line);
      const backend = id ? Number(id[1]) % ports.length : 0;
      const upstream = pools[backend].pop() ??
        await Deno.connect({ hostname: "127.0.0.1", port: ports[backend] });
      await upstream.write(request.subarray(0, end));
      let got = 0;
      let total = -1;
      while (total < 0 || got < total) {
        if (got === answer.length) throw new Error("an answer larger than the probe's buffer");
        const read = await upstream.read(answer.subarray(got));
        if (read === null) throw new Error("the backend closed the connection");
        got += read;
        if (total < 0) {
          const at = headEnd(answer, got);
          if (at < 0) continue;
          const length = /content-length: *(\d+)/i.exec(ascii.decode(answer.subarray(0, at)));
          total = at + Number(length?.[1] ?? 0);
        }
      }
      await client.write(answer.subarray(0, got));
      pools[backend].push(upstream);
    }
  } catch {
    // The client or a backend went away: this connection ends.
  } finally {
    client.close();
  }
}

/** Relays `listener`'s connections to the backends on 127.0.0.1 `ports` until it closes. */
export async function serveProbe(listener: Deno.Listener, ports: number[]): Promise<void> {
  const pools: Deno.TcpConn[][] = ports.map(() => []);
  try {
    for await (const client of listener) relay(client, pools, ports);
  } finally {
    for (const pool of pools) for (const conn of pool) conn.close();
  }
}

/**
 * A probe's command line, `NAME PORT BACKEND_PORT...`: starts `serve` on 127.0.0.1:PORT, or
 * prints the usage and exits 2 when the ports are not ports.
 */
export async function probeMain(
  name: string,
  args: string[],
  serve: (listener: Deno.Listener, ports: number[]) => Promise<void>,
): Promise<void> {
  const [port, ...backends] = args.map(Number);
  if (!port || backends.length === 0 || [port, ...backends].some((p) => !(p > 0 && p < 65536))) {
    console.error(`usage: ${name} PORT BACKEND_PORT...`);
    Deno.exit(2);
  }
  await serve(Deno.listen({ hostname: "127.0.0.1", port }), backends);
}

if (import.meta.main) await probeMain("relay_probe.ts", Deno.args, serveProbe);
