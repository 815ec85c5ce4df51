/**
 * The outlier detector on its own, over a host that records what it is told: it decides,
 * the host (the manager, in the product) acts.
 */

import assert from "node:assert/strict";
import { OutlierDetector, type OutlierHost, type TryOutcome } from "./outlier.ts";
import { Replica } from "./replica.ts";
import { recordingLogger, waitFor } from "../testing/mod.ts";
import { Abort } from "../support/mod.ts";

/** `names` as serving replicas, a detector over them, and what the detector asked for. */
function setup(names: string[], errors: number, maxEjectionPercent = 100) {
  const { logger, records } = recordingLogger();
  const asked: string[] = [];
  const replicas: Replica[] = [];
  const host: OutlierHost = {
    serving: () => replicas,
    eject: (r) => asked.push(`eject ${r.name}`),
    readmit: (r) => asked.push(`readmit ${r.name}`),
  };
  const detector = new OutlierDetector(
    { errors, coolDownMs: 50, maxEjectionPercent, logger },
    host,
  );
  for (const [i, name] of names.entries()) {
    const replica = new Replica(name, i + 1, false, {
      report: (r, outcome) => detector.report(r, outcome),
    });
    replica.state = "ready";
    replicas.push(replica);
  }
  return { detector, replicas, asked, records };
}

Deno.test("outliers: every kind of failed try counts, a success starts the count over", () => {
  const { detector, replicas: [a], asked } = setup(["A", "B"], 5);
  const failures: TryOutcome[] = ["connect_failure", "reset", "timeout", "http_5xx"];
  for (const outcome of failures) a.report(outcome);
  a.report("success");
  for (const outcome of failures) a.report(outcome);
  assert.deepEqual(asked, [], "four in a row, twice: under five");
  a.report("protocol_error");
  assert.deepEqual(asked, ["eject A"]);
  assert.equal(a.outlier.last, "protocol_error");
  detector.forget(a);
});

Deno.test("outliers: an ejected replica is readmitted after its cool-down, its count reset; forget() cancels that", async () => {
  const { detector, replicas: [a, b], asked, records } = setup(["A", "B"], 1);
  a.report("timeout");
  assert.ok(a.outlier.ejected);
  const ejected = records.find((r) => r.event === "replica.outlier_ejected");
  assert.deepEqual(ejected?.fields, { name: "A", errors: 1, last: "timeout", cool_down_ms: 50 });
  await waitFor(() => asked.includes("readmit A"), "A readmitted");
  assert.equal(a.outlier.errors, 0);
  assert.ok(!a.outlier.ejected);

  b.report("reset");
  detector.forget(b); // B left the ring for another cause
  await new Promise((resolve) => setTimeout(resolve, 80));
  assert.ok(!asked.includes("readmit B"), "a forgotten cool-down readmits nothing");
});

Deno.test("outliers: spares, replicas still starting and ones already out are not ejected", () => {
  const { detector, replicas: [a, b, c], asked } = setup(["A", "B", "C"], 1);
  a.spare = true;
  b.state = "starting";
  a.report("reset");
  b.report("reset");
  c.report("reset");
  c.report("reset");
  assert.deepEqual(asked, ["eject C"], "C once, however many tries fail while it is out");
  detector.forget(c);
});

Deno.test("replica: the tries it watches are aborted when it ends, with its reason; unwatched ones are not", () => {
  const replica = new Replica("a", 1, false, { report: () => {} });
  const watched = new Abort();
  const done = new Abort();
  replica.watch(watched);
  replica.watch(done);
  replica.unwatch(done); // its try is over
  const reason = new Error("replica 'a' ended");
  replica.end(reason);
  assert.equal(watched.reason, reason);
  assert.equal(done.aborted, false);
  assert.equal(replica.ejected.aborted, true);
  const late = new Abort();
  replica.watch(late); // a try that starts after the end is aborted at once
  assert.equal(late.reason, reason);
});
