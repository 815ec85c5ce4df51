/**
 * What counting one proxied request costs: the plain counters `/metrics` renders from
 * (`ProxyMetrics`) against the same series kept by prom-client, the maintained library (a
 * labelled counter and three histograms). `deno bench balancer/metrics/`; the figures are in
 * docs/operations.md.
 *
 * @module
 */

import { Counter, Histogram as PromHistogram, Registry } from "prom-client";
import { LATENCY_BUCKETS, ProxyMetrics } from "./metrics.ts";

const replicas = ["Server 1", "Server 2", "Server 3"];
let i = 0;

const ours = new ProxyMetrics();
Deno.bench("one request counted: ProxyMetrics (plain numbers)", {
  group: "count",
  baseline: true,
}, () => {
  const replica = replicas[i++ % 3];
  ours.trySeconds.observe(0.0012);
  ours.answered(replica, "GET", 200, 0.0013);
  ours.tries.observe(1);
});

const registry = new Registry();
const requests = new Counter({
  name: "ringlb_requests_total",
  help: "requests",
  labelNames: ["replica", "method", "code"],
  registers: [registry],
});
const requestSeconds = new PromHistogram({
  name: "ringlb_request_duration_seconds",
  help: "request",
  buckets: [...LATENCY_BUCKETS],
  registers: [registry],
});
const trySeconds = new PromHistogram({
  name: "ringlb_upstream_try_duration_seconds",
  help: "try",
  buckets: [...LATENCY_BUCKETS],
  registers: [registry],
});
const tries = new PromHistogram({
  name: "ringlb_tries_per_request",
  help: "tries",
  buckets: [0, 1, 2, 3, 4, 5],
  registers: [registry],
});
Deno.bench("one request counted: prom-client", { group: "count" }, () => {
  const replica = replicas[i++ % 3];
  trySeconds.observe(0.0012);
  requests.inc({ replica, method: "GET", code: "2xx" });
  requestSeconds.observe(0.0013);
  tries.observe(1);
});

Deno.bench("a clock read (the one more per request and per try that timing needs)", () => {
  performance.now();
});
