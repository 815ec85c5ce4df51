/**
 * Load-aware balancing on a real balancer process (`--balance`), over three static backends in
 * this process, one of which the test makes slow (100 ms per `/home`) and then fast again.
 * With `hash` the slow one keeps its third of the keys; with `p2c-ewma` it gets a much smaller
 * share within seconds, and its share back once it is fast.
 */

import assert from "node:assert/strict";
import {
  listeningInodes,
  newReport,
  startBalancer,
  staticBackends,
  steadyLoad,
  suiteTest,
  waitFor,
} from "./helpers.ts";

const { test } = suiteTest("balance suite", ["env", "net", "read", "run"]);

const IDS = ["a", "b", "c"] as const;

/** The three backends, in this process; `delays[id]` ms (0: none) before each `/home` answer. */
function slowableBackends() {
  const delays: Record<string, number> = { a: 0, b: 0, c: 0 };
  let next = 0;
  const servers = staticBackends(IDS, (app) => {
    const id = IDS[next++];
    return async (request) => {
      if (delays[id] > 0 && new URL(request.url).pathname === "/home") {
        await new Promise((resolve) => setTimeout(resolve, delays[id]));
      }
      return app(request);
    };
  });
  return Object.assign(servers, { delays });
}

/** Shares of each backend over `ms` of the running load. */
async function sharesOver(report: ReturnType<typeof newReport>, ms: number) {
  const before = new Map(report.byReplica);
  await new Promise((resolve) => setTimeout(resolve, ms));
  const got = IDS.map((id) => (report.byReplica.get(id) ?? 0) - (before.get(id) ?? 0));
  const total = got.reduce((a, b) => a + b, 0);
  return Object.fromEntries(IDS.map((id, i) => [id, total ? got[i] / total : 0]));
}

test("--balance p2c-ewma: a slow replica's share falls within seconds and comes back when it recovers; hash keeps it", async () => {
  await using servers = slowableBackends();
  const { delays } = servers;
  const table: string[] = [];
  for (const policy of ["hash", "least-request", "p2c-ewma"]) {
    delays.b = 0;
    await using lb = await startBalancer([
      ...servers.args,
      "--ring",
      "maglev",
      "--balance",
      policy,
    ]);
    let done = false;
    const report = newReport();
    // Bounded in time (60 s) and count (a million), loopback only.
    const load = steadyLoad(lb.url, () => done, {
      concurrency: 8,
      maxMs: 60_000,
      maxRequests: 1_000_000,
      report,
    });
    try {
      const fast = await sharesOver(report, 1_500);
      delays.b = 100;
      await new Promise((resolve) => setTimeout(resolve, 1_500)); // the policy notices
      const slow = await sharesOver(report, 2_000);
      delays.b = 0;
      const fastAgain = performance.now();
      // Recovered: its share back within 15 s (the estimate decays, it is tried, it is fast).
      let back = await sharesOver(report, 2_000);
      const deadline = performance.now() + 15_000;
      while (policy === "p2c-ewma" && back.b < 0.2 && performance.now() < deadline) {
        back = await sharesOver(report, 2_000);
      }
      table.push(
        `${policy}: b's share fast ${fast.b.toFixed(2)}, slow ${slow.b.toFixed(2)}, ` +
          `recovered ${back.b.toFixed(2)} (window ending ${
            ((performance.now() - fastAgain) / 1000).toFixed(1)
          } s after it was fast again)`,
      );
      if (policy === "hash") {
        assert.ok(slow.b > 0.25, `hash keeps the slow one's keys on it: ${slow.b}`);
      } else if (policy === "p2c-ewma") {
        assert.ok(fast.b > 0.2, `all fast: a fair share (${fast.b})`);
        assert.ok(slow.b < 0.1, `slow: a much smaller share (${slow.b})`);
        assert.ok(back.b > 0.2, `recovered: its share back (${back.b})`);
      }
    } finally {
      done = true;
      const result = await load;
      assert.deepEqual(result.failures, [], `${policy}: failed requests`);
    }
  }
  console.log(table.join("\n"));
});

test("--balance p2c-ewma with --workers 2: every process weighs the slow replica by what it sees, and sends it little", async () => {
  await using servers = slowableBackends();
  const { delays } = servers;
  await using lb = await startBalancer([
    ...servers.args,
    "--ring",
    "maglev",
    "--balance",
    "p2c-ewma",
    "--workers",
    "2",
  ]);
  // Connections made before the worker listens would all stay with the control plane.
  const port = Number(new URL(lb.url).port);
  await waitFor(() => listeningInodes(port).size === 2, "the worker listening too", 10_000);
  let done = false;
  const report = newReport();
  // 16 connections: the kernel spreads them over both processes (reusePort). Bounded in time
  // and count, loopback only.
  const load = steadyLoad(lb.url, () => done, {
    concurrency: 16,
    maxMs: 30_000,
    maxRequests: 1_000_000,
    report,
  });
  try {
    const fast = await sharesOver(report, 1_500);
    delays.b = 100;
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // each process notices
    // Counted, not as a share: a process that kept b's keys on it (hash) would hold its
    // connections on 100 ms answers and add little to the share, but many answers of b's.
    const before = report.byReplica.get("b") ?? 0;
    const slow = await sharesOver(report, 2_000);
    const slowAnswers = (report.byReplica.get("b") ?? 0) - before;
    console.log(
      `workers, p2c-ewma: b's share fast ${fast.b.toFixed(2)}, slow ${slow.b.toFixed(2)} ` +
        `(${slowAnswers} answers in 2 s)`,
    );
    assert.ok(fast.b > 0.2, `all fast: a fair share (${fast.b})`);
    assert.ok(slow.b < 0.1, `slow: a much smaller share (${slow.b})`);
    // A process may probe it now and then as its estimate decays; one routing by hash would
    // send it a third of each of its connections' requests (dozens a second).
    assert.ok(slowAnswers < 40, `slow: few answers from b in either process (${slowAnswers})`);
  } finally {
    done = true;
    assert.deepEqual((await load).failures, []);
  }
});
