/**
 * The floor for a strict proxy on Deno: the relay probe (`relay_probe.ts`) plus what ringlb
 * does to every message, written as one async loop per connection. It parses each request
 * head with ringlb's strict parser (`balancer/http1/`), sends the client's end-to-end fields
 * with `X-Forwarded-For`, `-Proto`, `-Host` and `Via` on a pooled connection to backend
 * `id % n`, parses the answer's head field by field (a token, a colon, a field value), drops
 * its hop-by-hop fields, adds `Via` and writes head and body in one write. What it leaves out
 * of ringlb's work: request bodies, chunked or streamed answers, rings, retries, timeouts,
 * outlier detection, metrics and logs. `deno task bench` runs it beside ringlb and the relay
 * probe (target `strict`), so that the cost of strict HTTP handling, and that of everything
 * else, can each be read in the same run (issue #13).
 *
 *     deno run --allow-net=127.0.0.1 tools/bench/strict_probe.ts PORT BACKEND_PORT...
 *
 * @module
 */

import {
  CR,
  latin1,
  LF,
  parseFieldLine,
  parseRequestHead,
  WriteBuffer,
} from "../../balancer/http1/mod.ts";
import { connectionTokens, HOP_BY_HOP } from "../../balancer/upstream/mod.ts";
import { headEnd, probeMain } from "./relay_probe.ts";

const VIA = "1.1 ringlb";

/** A pooled connection to a backend and its read buffer. */
class Backend {
  readonly buffer = new Uint8Array(16 * 1024);
  readonly out = new WriteBuffer();
  constructor(readonly conn: Deno.TcpConn) {}
}

/** Where the line from `from` ends (its CR), or `to`. */
function lineEnd(buf: Uint8Array, from: number, to: number): number {
  for (let i = from; i + 1 < to; i++) if (buf[i] === CR && buf[i + 1] === LF) return i;
  return to;
}

const BAD_REQUEST = new TextEncoder().encode(
  "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
);

/** Relays one client connection's requests until it closes. */
async function relay(client: Deno.Conn, pools: Backend[][], ports: number[]): Promise<void> {
  const buf = new Uint8Array(16 * 1024);
  const out = new WriteBuffer();
  const addr = client.remoteAddr;
  const from = "hostname" in addr ? addr.hostname : "";
  let start = 0;
  let end = 0;
  try {
    for (;;) {
      let parsed = start < end ? parseRequestHead(buf, start, end) : undefined;
      while (!parsed || parsed.kind === "incomplete") {
        if (start === end) start = end = 0;
        if (end === buf.length) return; // a head larger than the buffer: not the probe's job
        const n = await client.read(buf.subarray(end));
        if (n === null) return;
        end += n;
        parsed = parseRequestHead(buf, start, end);
      }
      if (parsed.kind === "refused" || parsed.head.framing.kind !== "none") {
        await client.write(BAD_REQUEST); // (bodies are not the probe's job either)
        return;
      }
      start += parsed.consumed;
      const { head } = parsed;
      const id = /[?&]id=(\d+)/.exec(head.path);
      const b = id ? Number(id[1]) % ports.length : 0;
      const backend = pools[b].pop() ??
        new Backend(await Deno.connect({ hostname: "127.0.0.1", port: ports[b] }));

      // The request: the client's end-to-end fields, then the ones a proxy sets.
      let named: string[] | undefined;
      let forwardedFor: string | undefined;
      for (const [name, value] of head.headers) {
        if (name === "connection") named = connectionTokens(value);
        else if (name === "x-forwarded-for") forwardedFor = value;
      }
      let text = `${head.method} ${head.path} HTTP/1.1\r\nhost: 127.0.0.1:${ports[b]}\r\n`;
      for (const [name, value] of head.headers) {
        if (
          HOP_BY_HOP.has(name) || name === "host" || name.startsWith("x-forwarded-") ||
          named?.includes(name)
        ) continue;
        text += `${name}: ${value}\r\n`;
      }
      text += `x-forwarded-for: ${forwardedFor ? `${forwardedFor}, ` : ""}${from}\r\n` +
        `x-forwarded-proto: http\r\nx-forwarded-host: ${head.host ?? ""}\r\nvia: ${VIA}\r\n\r\n`;
      await backend.conn.write(backend.out.frame(text));

      // The answer: its head read and checked field by field, its body by Content-Length.
      const ans = backend.buffer;
      let got = 0;
      let at = -1;
      while (at < 0) {
        const n = await backend.conn.read(ans.subarray(got));
        if (n === null) throw new Error("the backend closed the connection");
        got += n;
        at = headEnd(ans, got);
      }
      const last = at - 4;
      const whole = latin1(ans, 0, last);
      let line = lineEnd(ans, 0, last);
      let reply = `${whole.slice(0, line)}\r\n`;
      let length = -1;
      while (line < last) {
        const lineStart = line + 2;
        line = lineEnd(ans, lineStart, last);
        const field = parseFieldLine(ans, lineStart, line);
        if (field.kind === "invalid") throw new Error("a malformed answer");
        const name = whole.slice(lineStart, field.nameEnd).toLowerCase();
        const value = whole.slice(field.valueStart, field.valueEnd);
        if (name === "content-length") length = Number(value);
        else if (!HOP_BY_HOP.has(name)) reply += `${name}: ${value}\r\n`;
      }
      if (length < 0) throw new Error("an answer without Content-Length");
      while (got < at + length) {
        if (got === ans.length) throw new Error("an answer larger than the probe's buffer");
        const n = await backend.conn.read(ans.subarray(got));
        if (n === null) throw new Error("the backend closed the connection");
        got += n;
      }
      reply += `via: ${VIA}\r\ncontent-length: ${length}\r\n\r\n`;
      const framed = out.frame(reply, ans.subarray(at, at + length));
      pools[b].push(backend);
      await client.write(framed);
    }
  } catch {
    // The client or a backend went away: this connection ends.
  } finally {
    client.close();
  }
}

/** Relays `listener`'s connections to the backends on 127.0.0.1 `ports` until it closes. */
export async function serveStrictProbe(listener: Deno.Listener, ports: number[]): Promise<void> {
  const pools: Backend[][] = ports.map(() => []);
  try {
    for await (const client of listener) relay(client, pools, ports);
  } finally {
    for (const pool of pools) for (const backend of pool) backend.conn.close();
  }
}

if (import.meta.main) await probeMain("strict_probe.ts", Deno.args, serveStrictProbe);
