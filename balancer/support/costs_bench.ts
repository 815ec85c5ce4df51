/**
 * What the per-request helpers save, against what they replace (`deno bench
 * balancer/support/costs_bench.ts`): a shared deadline against a timer per try, the one-hook
 * `Abort` against an `AbortController` with its listeners, a slab copy and a framed view against
 * new `Uint8Array`s; and what an `await` and a clock read cost. The figures are in
 * docs/performance.md.
 *
 * @module
 */

import { Abort } from "./abort.ts";
import { Deadlines } from "./deadlines.ts";
import { pooledCopy } from "./pooled_copy.ts";
import { WriteBuffer, writeLatin1 } from "../http1/mod.ts";

const deadlines = new Deadlines();
// One entry stays, as under load: the shared timer stays armed, as it does then.
deadlines.add(performance.now() + 3_600_000, () => {});

Deno.bench("timeout: setTimeout + clearTimeout", { group: "timeout", baseline: true }, () => {
  clearTimeout(setTimeout(() => {}, 15_000));
});
Deno.bench("timeout: Deadlines add + delete", { group: "timeout" }, () => {
  deadlines.delete(deadlines.add(performance.now() + 15_000, () => {}));
});
// Light load: the set empties after each request. (Its timer used to be cleared then, and armed
// again by the next request: a setTimeout and clearTimeout per request after all.)
const emptying = new Deadlines();
Deno.bench(
  "timeout: Deadlines add + delete, the set emptying each time",
  { group: "timeout" },
  () => {
    emptying.delete(emptying.add(performance.now() + 15_000, () => {}));
  },
);

const replicaEnded = new AbortController();
const clientGone = new AbortController();
Deno.bench("abort: AbortController + listeners", { group: "abort", baseline: true }, () => {
  const attempt = new AbortController();
  const abortTry = () => attempt.abort();
  clientGone.signal.addEventListener("abort", abortTry);
  replicaEnded.signal.addEventListener("abort", abortTry);
  attempt.signal.addEventListener("abort", abortTry, { once: true });
  clientGone.signal.removeEventListener("abort", abortTry);
  replicaEnded.signal.removeEventListener("abort", abortTry);
  attempt.signal.removeEventListener("abort", abortTry);
});
const gone = new Abort();
const watched = new Set<Abort>();
Deno.bench("abort: Abort + one hook + a watch set", { group: "abort" }, () => {
  const attempt = new Abort();
  gone.onAbort(() => attempt.abort());
  watched.add(attempt);
  attempt.onAbort(() => {});
  gone.onAbort(undefined);
  watched.delete(attempt);
  attempt.onAbort(undefined);
});

const read = new Uint8Array(16 * 1024).fill(0x61);
Deno.bench("body copy: slice (a new Uint8Array)", { group: "copy", baseline: true }, () => {
  read.slice(100, 156);
});
Deno.bench("body copy: pooledCopy (a view of a slab)", { group: "copy" }, () => {
  pooledCopy(read, 100, 156);
});

const head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n" +
  "date: Mon, 30 Nov 2026 14:00:00 GMT\r\nvia: 1.1 ringlb\r\ncontent-length: 56\r\n\r\n";
const body = read.subarray(0, 56);
const encoder = new TextEncoder();
Deno.bench("framing: head + body in a new Uint8Array", { group: "frame", baseline: true }, () => {
  const out = new Uint8Array(head.length + body.length);
  encoder.encodeInto(head, out);
  out.set(body, head.length);
});
const into = new Uint8Array(4096);
Deno.bench("head bytes: TextEncoder.encodeInto", { group: "latin1", baseline: true }, () => {
  encoder.encodeInto(head, into.subarray(0, head.length));
});
Deno.bench("head bytes: writeLatin1 (a charCodeAt loop)", { group: "latin1" }, () => {
  writeLatin1(head, into, 0);
});
const out = new WriteBuffer();
Deno.bench("framing: WriteBuffer.frame (a view of the connection's buffer)", {
  group: "frame",
}, () => {
  out.frame(head, body);
});

// What one more async function in a request's chain costs: depth 6 against depth 1.
async function leaf(x: number): Promise<number> {
  await null;
  return x + 1;
}
async function wrap(depth: number, x: number): Promise<number> {
  return depth === 0 ? await leaf(x) : await wrap(depth - 1, x);
}
Deno.bench("await: one async function", { group: "await", baseline: true }, async () => {
  await leaf(1);
});
Deno.bench("await: six nested async functions", { group: "await" }, async () => {
  await wrap(5, 1);
});

Deno.bench("clock: performance.now()", () => {
  performance.now();
});
