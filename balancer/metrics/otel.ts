/**
 * OpenTelemetry, opt-in: when the balancer runs with `OTEL_DENO=true`, Deno's built-in exporter
 * sends what `@opentelemetry/api` records over OTLP. The metrics `/metrics` shows go out as
 * observable instruments read from the same counters at each export (nothing more on the request
 * path); a request adds a span (the socket front is not `Deno.serve`, whose automatic spans would
 * not see it) and a duration to a histogram.
 *
 * @module
 */

import {
  type Attributes,
  metrics,
  type ObservableResult,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import type { MetricSources } from "./balancer_metrics.ts";

/** Ends a request's span. */
export interface RequestSpan {
  /** The request was answered: by `replica` (none: the balancer itself), after `tries`. */
  end(status: number, replica: string | undefined, tries: number, key: string | undefined): void;
}

/** Starts a span per proxied request. */
export interface RequestTracer {
  /** A request has been admitted. */
  start(method: string, target: string): RequestSpan;
}

/** Whether the environment asks for OpenTelemetry (Deno's `OTEL_DENO`). */
export function otelRequested(env: Readonly<Record<string, string | undefined>>): boolean {
  return env.OTEL_DENO === "true" || env.OTEL_DENO === "1";
}

/**
 * Registers the balancer's instruments with the global meter (observed from `sources` at each
 * export) and returns the per-request tracer.
 */
export function startOtel(sources: MetricSources): RequestTracer {
  const meter = metrics.getMeter("ringlb");
  const tracer = trace.getTracer("ringlb");
  const observe = (
    kind: "counter" | "gauge",
    name: string,
    description: string,
    read: (result: ObservableResult) => void,
    unit?: string,
  ) => {
    const instrument = kind === "counter"
      ? meter.createObservableCounter(name, { description, unit })
      : meter.createObservableGauge(name, { description, unit });
    instrument.addCallback(read);
  };
  const { counts } = sources;
  observe(
    "counter",
    "ringlb.requests",
    "Requests answered, by replica, method and status class.",
    (r) =>
      sources.proxy().forEachAnswer((replica, method, code, n) =>
        r.observe(n, { replica, method, code })
      ),
  );
  observe(
    "counter",
    "ringlb.retries",
    "Tries after the first.",
    (r) => r.observe(sources.proxy().retries),
  );
  observe(
    "counter",
    "ringlb.retry_budget.exhausted",
    "Retries the budget refused.",
    (r) => r.observe(sources.proxy().budgetExhausted),
  );
  observe(
    "counter",
    "ringlb.admission.refused",
    "503s past --max-in-flight.",
    (r) => r.observe(sources.proxy().admissionRefused),
  );
  observe(
    "gauge",
    "ringlb.requests.in_flight",
    "Requests being answered.",
    (r) => r.observe(sources.inFlight()),
  );
  observe("gauge", "ringlb.replica.up", "1 while a replica serves (ready, in the ring).", (r) => {
    for (const replica of sources.replicas()) {
      if (!replica.spare) {
        r.observe(replica.state === "ready" && replica.inRing ? 1 : 0, { replica: replica.name });
      }
    }
  });
  observe("gauge", "ringlb.replica.in_flight", "Requests in flight to a replica.", (r) => {
    for (const replica of sources.replicas()) {
      r.observe(replica.inFlight, { replica: replica.name });
    }
  });
  observe(
    "counter",
    "ringlb.heartbeat.failures",
    "Failed heartbeats of serving replicas.",
    (r) => r.observe(sources.heartbeatFailures()),
  );
  observe(
    "counter",
    "ringlb.replica.starts",
    "Replicas the provider was asked to start.",
    (r) => r.observe(counts.started),
  );
  observe(
    "counter",
    "ringlb.replica.start_failures",
    "Starts that failed.",
    (r) => r.observe(counts.startFailures),
  );
  observe("counter", "ringlb.replica.ejections", "Serving replicas taken out, by reason.", (r) => {
    r.observe(counts.ejected, { reason: "down" });
    r.observe(counts.outlierEjected, { reason: "outlier" });
  });
  observe(
    "counter",
    "ringlb.replica.readmissions",
    "Outlier-ejected replicas back.",
    (r) => r.observe(counts.readmitted),
  );
  observe(
    "counter",
    "ringlb.replica.drains",
    "Replicas drained on their way out.",
    (r) => r.observe(counts.drained),
  );
  observe("gauge", "ringlb.ring.members", "Members of the ring.", (r) => {
    const ring = sources.ring();
    r.observe(ring.members, { kind: ring.kind });
  });
  observe(
    "gauge",
    "ringlb.client.connections",
    "Client connections open (socket front).",
    (r) => r.observe(sources.fronts().reduce((n, f) => n + f.open, 0)),
  );
  observe(
    "counter",
    "ringlb.client.header_timeouts",
    "Connections closed for a slow head.",
    (r) => r.observe(sources.fronts().reduce((n, f) => n + f.headerTimeouts, 0)),
  );
  const duration = meter.createHistogram("ringlb.request.duration", {
    description: "From admission to the answer's head.",
    unit: "s",
  });
  return {
    start(method, target) {
      const started = performance.now();
      const span = tracer.startSpan(method, {
        kind: SpanKind.SERVER,
        attributes: { "http.request.method": method, "url.path": target.split("?")[0] },
      });
      return {
        end(status, replica, tries, key) {
          const attributes: Attributes = {
            "http.response.status_code": status,
            "ringlb.replica": replica ?? "",
            "ringlb.tries": tries,
            "ringlb.outcome": replica === undefined ? "balancer" : "replica",
          };
          if (key !== undefined) attributes["ringlb.key"] = key;
          span.setAttributes(attributes);
          if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
          span.end();
          duration.record((performance.now() - started) / 1e3, {
            "http.request.method": method,
            "http.response.status_code": status,
          });
        },
      };
    },
  };
}
