/**
 * The balancer's metric families, rendered from what its components count (docs/operations.md
 * lists them).
 *
 * @module
 */

import type { ReplicaCounts } from "../cluster/mod.ts";
import {
  escapeLabel,
  type Family,
  type LoopLag,
  type ProxyMetrics,
  renderFamilies,
} from "./metrics.ts";

/** A replica as metrics show it. */
export interface ReplicaView {
  name: string;
  state: "starting" | "ready" | "stopping";
  spare: boolean;
  inRing: boolean;
  inFlight: number;
}

/** What `/metrics` reads, each at scrape time. */
export interface MetricSources {
  /** The proxy's counters (with workers: theirs added in). */
  proxy(): ProxyMetrics;
  /** Requests being answered now (admitted, not finished). */
  inFlight(): number;
  /** Every managed replica and spare. */
  replicas(): ReplicaView[];
  /** Failed heartbeats of serving replicas so far. */
  heartbeatFailures(): number;
  /** What happened to replicas so far. */
  counts: ReplicaCounts;
  /** The ring: its kind (`describeRing`), members, and bounded-load spill-overs when it has them. */
  ring(): { kind: string; members: number; spillovers?: number };
  /** The socket fronts' connection counts (none with `--front serve`). */
  fronts(): { open: number; refused: number; headerTimeouts: number; idleClosed: number }[];
  /** The event loop's lag sampler. */
  lag: LoopLag;
  /** Key movement across membership changes (`KeyMovement`); none: not shown. */
  movement?: { readonly changes: number; readonly last?: { moved: number; ideal: number } };
  /** The hottest keys now, with their replica; none: not shown. */
  hotKeys?(): { key: string | number; perSecond: number; routedTo: string | null }[];
}

const counter = (name: string, help: string, samples: string[]): Family => ({
  name,
  help,
  type: "counter",
  samples,
});
const gauge = (name: string, help: string, samples: string[]): Family => ({
  name,
  help,
  type: "gauge",
  samples,
});

/** The text `/metrics` answers. */
export function renderBalancerMetrics(s: MetricSources): string {
  const { counts } = s;
  const proxy = s.proxy();
  const replicas = s.replicas();
  const ring = s.ring();
  const fronts = s.fronts();
  const sum = (pick: (f: ReturnType<MetricSources["fronts"]>[number]) => number) =>
    fronts.reduce((total, f) => total + pick(f), 0);
  const byState = new Map<string, number>();
  for (const r of replicas) {
    const key = `state="${r.state}",spare="${r.spare}"`;
    byState.set(key, (byState.get(key) ?? 0) + 1);
  }
  const families: Family[] = [
    counter(
      "ringlb_requests_total",
      'Requests answered, by the replica that answered ("" for the balancer\'s own answers), method and status class.',
      proxy.renderAnswers("ringlb_requests_total"),
    ),
    {
      name: "ringlb_request_duration_seconds",
      help: "Time from admitting a request to having its answer's head, seconds.",
      type: "histogram",
      samples: proxy.requestSeconds.render("ringlb_request_duration_seconds"),
    },
    {
      name: "ringlb_upstream_try_duration_seconds",
      help: "Time of one try on a replica, from sending to its answer's head or failure, seconds.",
      type: "histogram",
      samples: proxy.trySeconds.render("ringlb_upstream_try_duration_seconds"),
    },
    {
      name: "ringlb_tries_per_request",
      help: "Replicas tried per request (0: answered before any, e.g. none serving).",
      type: "histogram",
      samples: proxy.tries.render("ringlb_tries_per_request"),
    },
    gauge("ringlb_requests_in_flight", "Requests being answered now.", [
      `ringlb_requests_in_flight ${s.inFlight()}`,
    ]),
    counter("ringlb_retries_total", "Tries after the first, on another replica.", [
      `ringlb_retries_total ${proxy.retries}`,
    ]),
    counter("ringlb_retry_budget_exhausted_total", "Retries the retry budget refused.", [
      `ringlb_retry_budget_exhausted_total ${proxy.budgetExhausted}`,
    ]),
    counter(
      "ringlb_admission_refused_total",
      "Requests answered 503 at once because --max-in-flight were being answered.",
      [`ringlb_admission_refused_total ${proxy.admissionRefused}`],
    ),
    gauge(
      "ringlb_replica_up",
      "1 when the replica serves (ready and in the ring), else 0.",
      replicas.filter((r) => !r.spare).map((r) =>
        `ringlb_replica_up{replica="${escapeLabel(r.name)}"} ${
          r.state === "ready" && r.inRing ? 1 : 0
        }`
      ),
    ),
    gauge(
      "ringlb_replica_in_flight",
      "Requests in flight to the replica (answers still being passed on included).",
      replicas.map((r) =>
        `ringlb_replica_in_flight{replica="${escapeLabel(r.name)}"} ${r.inFlight}`
      ),
    ),
    gauge(
      "ringlb_replicas",
      "Managed replicas by state, and whether they are warm spares.",
      [...byState].map(([labels, n]) => `ringlb_replicas{${labels}} ${n}`),
    ),
    counter(
      "ringlb_heartbeat_failures_total",
      "Failed heartbeats of serving replicas (--fail-threshold in a row take one out).",
      [`ringlb_heartbeat_failures_total ${s.heartbeatFailures()}`],
    ),
    counter("ringlb_replica_starts_total", "Replicas and spares the provider was asked to start.", [
      `ringlb_replica_starts_total ${counts.started}`,
    ]),
    counter(
      "ringlb_replica_start_failures_total",
      "Starts that failed: no good heartbeat in time, or the replica ended first.",
      [`ringlb_replica_start_failures_total ${counts.startFailures}`],
    ),
    counter(
      "ringlb_replica_ejections_total",
      "Serving replicas taken out of the ring: down (failed heartbeats, ended) or outlier (failed tries in a row).",
      [
        `ringlb_replica_ejections_total{reason="down"} ${counts.ejected}`,
        `ringlb_replica_ejections_total{reason="outlier"} ${counts.outlierEjected}`,
      ],
    ),
    counter(
      "ringlb_replica_readmissions_total",
      "Outlier-ejected replicas that rejoined the ring after their cool-down.",
      [`ringlb_replica_readmissions_total ${counts.readmitted}`],
    ),
    counter("ringlb_replica_drains_total", "Replicas drained on their way out (/rm, shutdown).", [
      `ringlb_replica_drains_total ${counts.drained}`,
    ]),
    gauge("ringlb_ring_info", "The ring's kind and options, as a label; always 1.", [
      `ringlb_ring_info{kind="${escapeLabel(ring.kind)}"} 1`,
    ]),
    gauge("ringlb_ring_members", "Members of the ring (serving replicas).", [
      `ringlb_ring_members ${ring.members}`,
    ]),
    counter(
      "ringlb_ring_membership_changes_total",
      "Changes of the ring's members (joins, ejections, readmissions, removals).",
      s.movement ? [`ringlb_ring_membership_changes_total ${s.movement.changes}`] : [],
    ),
    gauge(
      "ringlb_ring_keys_moved_ratio",
      "Share of a 10,000-key sample whose owner the last membership change moved.",
      s.movement?.last ? [`ringlb_ring_keys_moved_ratio ${s.movement.last.moved}`] : [],
    ),
    gauge(
      "ringlb_ring_keys_moved_ideal_ratio",
      "What consistent hashing promises for that change: members changed / the larger membership.",
      s.movement?.last ? [`ringlb_ring_keys_moved_ideal_ratio ${s.movement.last.ideal}`] : [],
    ),
    gauge(
      "ringlb_hot_key_requests_per_second",
      "The 10 hottest routing keys of the last minute (Space-Saving sketch), with their replica.",
      (s.hotKeys?.() ?? []).map((k) =>
        `ringlb_hot_key_requests_per_second{key="${escapeLabel(String(k.key))}",replica="${
          escapeLabel(k.routedTo ?? "")
        }"} ${k.perSecond}`
      ),
    ),
    counter(
      "ringlb_bounded_load_spillovers_total",
      "Requests not sent to their key's owner because it was at its bounded-load cap.",
      ring.spillovers === undefined
        ? []
        : [`ringlb_bounded_load_spillovers_total ${ring.spillovers}`],
    ),
    gauge(
      "ringlb_client_connections",
      "Client connections open on the socket front.",
      fronts.length ? [`ringlb_client_connections ${sum((f) => f.open)}`] : [],
    ),
    counter(
      "ringlb_client_header_timeouts_total",
      "Client connections closed with a 408 for not sending a whole head in --header-timeout.",
      fronts.length ? [`ringlb_client_header_timeouts_total ${sum((f) => f.headerTimeouts)}`] : [],
    ),
    counter(
      "ringlb_client_connections_refused_total",
      "Client connections turned away past --max-connections.",
      fronts.length ? [`ringlb_client_connections_refused_total ${sum((f) => f.refused)}`] : [],
    ),
    counter(
      "ringlb_client_idle_closed_total",
      "Kept-alive client connections closed after --keepalive-timeout idle.",
      fronts.length ? [`ringlb_client_idle_closed_total ${sum((f) => f.idleClosed)}`] : [],
    ),
    gauge("process_resident_memory_bytes", "Resident memory of the balancer process, bytes.", [
      `process_resident_memory_bytes ${Deno.memoryUsage().rss}`,
    ]),
    gauge(
      "ringlb_event_loop_lag_seconds",
      "The most a 500 ms timer fired late since the last scrape, seconds.",
      [`ringlb_event_loop_lag_seconds ${s.lag.take()}`],
    ),
  ];
  return renderFamilies(families);
}
