/**
 * The live dashboard: `GET /dashboard` (one page, no build step, no CDN: everything it needs is in
 * the page), `GET /dashboard/stream` (Server-Sent Events: a snapshot a second), and
 * `GET /dashboard/key?key=K` (which replica owns a key, and its fail-over order).
 *
 * @module
 */

import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import type { Ring, RingLayout } from "../../ring/mod.ts";
import { ringLayout } from "../../ring/mod.ts";
import type { ProxyMetrics, ReplicaView } from "../metrics/mod.ts";
import type { EventLog, ShownEvent } from "./events.ts";
import { DASHBOARD_PAGE } from "./page.ts";
import { failureBody } from "../../contract/mod.ts";

/** What the dashboard reads. */
export interface DashboardSources {
  /** The ring requests are routed by, and how it is described (`describeRing`). */
  ring: Ring;
  ringKind: string;
  /** Every managed replica and spare. */
  replicas(): ReplicaView[];
  /** Answers per replica so far (with workers: theirs added in). */
  proxy(): ProxyMetrics;
  /** Recent replica events. */
  events: EventLog;
  /** Where a request with `?<key param>=value` goes, and why (`/explain?key=`'s answer). */
  explain(value: string): object;
  /** How often a snapshot is sent, ms. Default 1000. */
  intervalMs?: number;
  /** Clock, ms. Default `performance.now`. */
  now?: () => number;
}

/** One replica in a snapshot. */
interface ReplicaRow extends ReplicaView {
  /** Answers per second over the last interval. */
  rps: number;
  /** Mean answer time over the last interval, ms (null when it had none). */
  meanMs: number | null;
  /** Answers so far. */
  requests: number;
}

/** What each Server-Sent Event carries (`snapshot`). */
export interface Snapshot {
  time: number;
  ring: { kind: string; members: number };
  /** The ring's picture; sent when membership changed since the last snapshot, else omitted. */
  layout?: RingLayout;
  N: number;
  replicas: ReplicaRow[];
  events: readonly ShownEvent[];
}

/** The dashboard's routes, to mount at `/dashboard` (behind the admin guard), and `close()`. */
export function createDashboard(sources: DashboardSources): { app: Hono; close(): void } {
  const app = new Hono();
  const now = sources.now ?? (() => performance.now());
  const intervalMs = sources.intervalMs ?? 1000;
  const streams = new Set<() => void>();
  let cached: { members: string; layout: RingLayout } | undefined;
  const layoutOf = (): RingLayout => {
    const members = sources.ring.nodes().map((n) => n.name).sort().join("\n");
    if (cached?.members !== members) cached = { members, layout: ringLayout(sources.ring) };
    return cached.layout;
  };

  app.get("/", (c) => c.html(DASHBOARD_PAGE));

  // The key box: the same explanation as `GET /explain?key=` (served here too, under the
  // dashboard's cookie, which is scoped to /dashboard).
  app.get("/key", (c) => {
    const value = c.req.query("key") ?? "";
    if (!/^[\x21-\x7e]{1,200}$/.test(value)) {
      return c.json(failureBody("'key' must be 1 to 200 visible ASCII characters"), 400);
    }
    return c.json({ ...sources.explain(value), status: "successful" });
  });

  app.get("/stream", (c) =>
    streamSSE(c, async (stream) => {
      // Rates run from the stream's start: its first snapshot shows none.
      let last = sources.proxy().byReplica();
      let lastAt = now();
      let lastMembers = "";
      let done = false;
      let wake = () => {};
      const close = () => {
        done = true;
        wake();
      };
      streams.add(close);
      stream.onAbort(close);
      try {
        while (!done && !stream.aborted) {
          const at = now();
          const totals = sources.proxy().byReplica();
          const elapsed = Math.max(1e-3, (at - lastAt) / 1000);
          const replicas: ReplicaRow[] = sources.replicas().map((r) => {
            const total = totals.get(r.name) ?? { requests: 0, seconds: 0 };
            const before = last.get(r.name) ?? { requests: 0, seconds: 0 };
            const requests = total.requests - before.requests;
            return {
              ...r,
              rps: Math.round((requests / elapsed) * 10) / 10,
              meanMs: requests > 0
                ? Math.round(((total.seconds - before.seconds) / requests) * 1e5) / 100
                : null,
              requests: total.requests,
            };
          });
          last = totals;
          lastAt = at;
          const layout = layoutOf();
          const members = Object.keys(layout.shares).sort().join("\n");
          const snapshot: Snapshot = {
            time: Date.now(),
            ring: { kind: sources.ringKind, members: sources.ring.size },
            layout: members === lastMembers ? undefined : layout,
            N: replicas.filter((r) => !r.spare && r.state !== "stopping").length,
            replicas,
            events: sources.events.recent(),
          };
          lastMembers = members;
          await stream.writeSSE({ event: "snapshot", data: JSON.stringify(snapshot) });
          // The next snapshot after the interval, or none when the dashboard closes first.
          await new Promise<void>((resolve) => {
            if (done) return resolve();
            const timer = setTimeout(resolve, intervalMs);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
        }
      } finally {
        streams.delete(close);
      }
    }));

  return {
    app,
    close() {
      for (const close of streams) close();
    },
  };
}
