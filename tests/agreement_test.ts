/**
 * Two balancers, one routing: two balancer processes with the same static backends route 10,000
 * random keys to the same replicas, although the backends join their rings in other orders (each
 * backend answers heartbeats after a random delay, and a backend joins a ring on its first good
 * heartbeat). Every ring places its members in a canonical order; the assignment's slot ring,
 * whose placement used to depend on the join order, is the one checked here.
 */

import assert from "node:assert/strict";
import { startBalancer, staticBackends, suiteTest } from "./helpers.ts";
import { mulberry32 } from "../ring/random.ts";

const { test } = suiteTest("agreement suite", ["env", "net", "read", "run"]);

test("two balancers, backends joining in other orders: 10,000 random keys, 100 % agreement", async () => {
  const jitter = mulberry32(7);
  // Each backend answers its heartbeats after a random delay: they join in other orders.
  await using backends = staticBackends(["a", "b", "c", "d", "e"], (app) => async (request) => {
    if (request.url.endsWith("/heartbeat")) {
      await new Promise((resolve) => setTimeout(resolve, jitter() * 120));
    }
    return app(request);
  });
  {
    const args = backends.args;
    await using one = await startBalancer(args);
    // (The same list: a static backend's ordinal, which places it on the slot ring, is its
    // place in --backends.)
    await using two = await startBalancer(args);
    const random = mulberry32(2026);
    const keys = Array.from({ length: 10_000 }, () => 100_000 + Math.floor(random() * 900_000));
    const clients = [Deno.createHttpClient({}), Deno.createHttpClient({})];
    const answers = [new Map<number, string>(), new Map<number, string>()];
    try {
      let next = 0;
      const worker = async () => {
        while (next < keys.length) {
          const key = keys[next++];
          for (const [i, lb] of [one, two].entries()) {
            const res = await fetch(`${lb.url}/home?id=${key}`, { client: clients[i] });
            answers[i].set(key, (await res.json()).message);
          }
        }
      };
      await Promise.all(Array.from({ length: 8 }, worker));
    } finally {
      for (const client of clients) client.close();
    }
    const differ = keys.filter((k) => answers[0].get(k) !== answers[1].get(k));
    assert.equal(differ.length, 0, `keys routed differently: ${differ.slice(0, 5).join(", ")}…`);
    const used = new Set(answers[0].values());
    assert.ok(used.size >= 3, `the keys spread over the backends: ${[...used].join(", ")}`);
  }
});
