/**
 * Metrics: plain counters where things happen, the Prometheus text format at scrape time.
 *
 * @module
 */

export {
  escapeLabel,
  type Family,
  Histogram,
  type HistogramSnapshot,
  LATENCY_BUCKETS,
  LoopLag,
  NO_REPLICA,
  ProxyMetrics,
  type ProxySnapshot,
  renderFamilies,
} from "./metrics.ts";
export { type MetricSources, renderBalancerMetrics, type ReplicaView } from "./balancer_metrics.ts";
export { otelRequested, type RequestSpan, type RequestTracer, startOtel } from "./otel.ts";
