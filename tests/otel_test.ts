/**
 * OpenTelemetry on a real balancer process: with `OTEL_DENO=true`, Deno's exporter sends the
 * balancer's spans and metrics over OTLP/HTTP (JSON here) to a receiver this test runs on
 * loopback: a span per proxied request with its replica, tries and outcome, and the counters
 * `/metrics` has.
 */

import assert from "node:assert/strict";
import { startBalancer, staticBackends, suiteTest, waitFor } from "./helpers.ts";

const { test } = suiteTest("otel suite", ["env", "net", "read", "run"]);

/** An OTLP attribute list as an object. */
type KeyValue = { key: string; value: Record<string, unknown> };
function attributes(list: KeyValue[] = []): Record<string, unknown> {
  return Object.fromEntries(list.map(({ key, value }) => [key, Object.values(value)[0]]));
}

test("OTEL_DENO=true: a span per request (replica, tries, outcome) and the counters go out over OTLP", async () => {
  const received: { path: string; body: Record<string, unknown[]> }[] = [];
  const receiver = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    received.push({ path: new URL(req.url).pathname, body: await req.json() });
    return Response.json({});
  });
  await using backends = staticBackends(["a", "b", "c"]);
  try {
    await using lb = await startBalancer(
      backends.args,
      {
        OTEL_DENO: "true",
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.addr.port}`,
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_METRIC_EXPORT_INTERVAL: "300",
        OTEL_BSP_SCHEDULE_DELAY: "100",
      },
    );
    const ids = [101, 202, 303, 404];
    for (const id of ids) await (await fetch(`${lb.url}/home?id=${id}`)).body?.cancel();

    const spans = () =>
      received.filter((r) => r.path === "/v1/traces").flatMap((r) =>
        (r.body.resourceSpans as { scopeSpans: { spans: Record<string, unknown>[] }[] }[])
          .flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans))
      );
    const ours = () =>
      spans().map((s): Record<string, unknown> => ({
        name: s.name,
        ...attributes(s.attributes as KeyValue[]),
      }))
        .filter((s) => s["ringlb.key"] !== undefined);
    await waitFor(() => ours().length >= ids.length, "a span per request", 10_000);
    const got = ours();
    assert.deepEqual(got.map((s) => s["ringlb.key"]).sort(), ids.map(String).sort());
    for (const span of got) {
      assert.equal(span.name, "GET");
      assert.equal(span["http.request.method"], "GET");
      assert.equal(span["url.path"], "/home");
      assert.equal(Number(span["http.response.status_code"]), 200);
      assert.equal(Number(span["ringlb.tries"]), 1);
      assert.equal(span["ringlb.outcome"], "replica");
      assert.ok(["a", "b", "c"].includes(span["ringlb.replica"] as string));
    }

    /** The latest value of a sum metric's points, added over their attributes. */
    const latest = (name: string) => {
      let value: number | undefined;
      for (const r of received.filter((r) => r.path === "/v1/metrics")) {
        for (
          const rm of r.body.resourceMetrics as {
            scopeMetrics: { metrics: Record<string, unknown>[] }[];
          }[]
        ) {
          for (const m of rm.scopeMetrics.flatMap((sm) => sm.metrics)) {
            if (m.name !== name) continue;
            const data = (m.sum ?? m.gauge) as { dataPoints: Record<string, unknown>[] };
            value = data.dataPoints.reduce(
              (total, p) => total + Number(p.asInt ?? p.asDouble ?? 0),
              0,
            );
          }
        }
      }
      return value;
    };
    await waitFor(() => latest("ringlb.requests") === ids.length, "the request counter", 10_000);
    assert.equal(latest("ringlb.ring.members"), 3);
    assert.equal(latest("ringlb.replica.up"), 3);
  } finally {
    await receiver.shutdown();
  }
});
