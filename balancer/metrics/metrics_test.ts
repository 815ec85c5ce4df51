import assert from "node:assert/strict";
import { escapeLabel, Histogram, ProxyMetrics, renderFamilies } from "./metrics.ts";

Deno.test("histogram: cumulative buckets, +Inf, sum and count; a value on a bound is in that bucket", () => {
  const h = new Histogram([0.1, 1]);
  for (const v of [0.05, 0.1, 0.5, 3]) h.observe(v);
  assert.deepEqual(h.render("x", 'a="b"'), [
    'x_bucket{a="b",le="0.1"} 2',
    'x_bucket{a="b",le="1"} 3',
    'x_bucket{a="b",le="+Inf"} 4',
    'x_sum{a="b"} 3.65',
    'x_count{a="b"} 4',
  ]);
});

Deno.test('proxy metrics: answers by replica, method and status class; the balancer\'s own as ""', () => {
  const m = new ProxyMetrics();
  m.answered("S1", "GET", 200, 0.001);
  m.answered("S1", "GET", 204, 0.001);
  m.answered("S1", "PROPFIND", 404, 0.001);
  m.answered(undefined, "POST", 503, 0);
  m.answered('S"2', "HEAD", 101, 0.001);
  assert.deepEqual(m.renderAnswers("r").sort(), [
    'r{replica="",method="POST",code="5xx"} 1',
    'r{replica="S1",method="GET",code="2xx"} 2',
    'r{replica="S1",method="other",code="4xx"} 1',
    'r{replica="S\\"2",method="HEAD",code="1xx"} 1',
  ]);
  assert.equal(m.requestSeconds.count, 5);
});

Deno.test("text format: HELP and TYPE once per family, empty families left out, labels escaped", () => {
  assert.equal(escapeLabel('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
  assert.equal(
    renderFamilies([
      { name: "a_total", help: "As.", type: "counter", samples: ["a_total 1"] },
      { name: "b", help: "Bs.", type: "gauge", samples: [] },
    ]),
    "# HELP a_total As.\n# TYPE a_total counter\na_total 1\n",
  );
});

Deno.test("proxy metrics: snapshots round-trip through JSON and add up when merged", () => {
  const control = new ProxyMetrics();
  control.answered("S1", "GET", 200, 0.002);
  control.retries = 1;
  const worker = new ProxyMetrics();
  worker.answered("S1", "GET", 200, 0.004);
  worker.answered("S2", "POST", 502, 0.1);
  worker.trySeconds.observe(0.003);
  worker.tries.observe(2);
  worker.budgetExhausted = 3;
  const sent = JSON.parse(JSON.stringify(worker.snapshot()));
  const sum = control.merged([sent]);
  assert.deepEqual(sum.renderAnswers("r").sort(), [
    'r{replica="S1",method="GET",code="2xx"} 2',
    'r{replica="S2",method="POST",code="5xx"} 1',
  ]);
  assert.equal(sum.requestSeconds.count, 3);
  assert.ok(Math.abs(sum.requestSeconds.sum - 0.106) < 1e-12);
  assert.equal(sum.trySeconds.count, 1);
  assert.deepEqual([sum.retries, sum.budgetExhausted], [1, 3]);
  assert.deepEqual(sum.byReplica().get("S1"), { requests: 2, seconds: 0.006 });
  assert.equal(control.requestSeconds.count, 1, "the control plane's own counts are left alone");
});
