/**
 * Fuzz of the admin API: arbitrary bodies and methods never crash the balancer, every
 * rejection is a 4xx JSON error of the spec's shape, and a rejected request changes nothing.
 * `FUZZ_RUNS` sets the number of cases (default 2,000; `deno task fuzz` runs 10,000).
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { createBalancer } from "./balancer.ts";
import { parseConfig } from "./config.ts";
import { silentLogger } from "./logger.ts";
import { FakeCluster } from "./testing.ts";

const RUNS = Number(Deno.env.get("FUZZ_RUNS") ?? 2_000);

const hostname = fc.oneof(
  fc.constantFrom("S5", "s5", "Server 1", "Server-1", "", "-x", "a".repeat(64), "balancer"),
  fc.stringMatching(/^[A-Za-z0-9-]{1,8}$/),
  fc.string(),
);
const n = fc.oneof(
  fc.integer({ min: -3, max: 8 }),
  fc.constantFrom(0, 1.5, 1e9, Number.MAX_SAFE_INTEGER, "2", null, true, [], {}),
);
const body = fc.oneof(
  fc.record({ n, hostnames: fc.array(hostname, { maxLength: 5 }) }, { requiredKeys: [] }),
  fc.record({ n, hostnames: fc.oneof(hostname, fc.array(fc.anything(), { maxLength: 3 })) }),
  fc.record({ n, hostnames: fc.array(hostname, { maxLength: 3 }), extra: fc.anything() }),
  fc.jsonValue(),
).map((value) => JSON.stringify(value) ?? "null");
const text = fc.oneof(body, fc.string(), fc.constantFrom("", "{", "[1,", "\u0000", "{}{}"));
const request = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ method: fc.constant("POST"), path: fc.constant("/add"), text }),
  },
  {
    weight: 4,
    arbitrary: fc.record({ method: fc.constant("DELETE"), path: fc.constant("/rm"), text }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      method: fc.constantFrom("POST", "DELETE", "GET", "PUT", "PATCH"),
      path: fc.constantFrom("/add", "/rm", "/rep"),
      text,
    }),
  },
);

Deno.test(`admin API fuzz: ${RUNS} random requests, only 2xx/4xx JSON, no change on rejection`, async () => {
  const parsed = parseConfig(["--heartbeat-interval", "60000", "--max-replicas", "12"], {});
  if (parsed.help) throw new Error("unreachable");
  const cluster = new FakeCluster();
  cluster.foreignNames.add("balancer");
  const balancer = createBalancer(parsed.config, {
    provider: cluster,
    logger: silentLogger,
    fetch: cluster.fetch,
  });
  await balancer.start();
  const rep = async () => await (await balancer.app.request("/rep")).text();
  try {
    await fc.assert(
      fc.asyncProperty(request, async ({ method, path, text }) => {
        const before = await rep();
        const hasBody = method !== "GET";
        const res = await balancer.app.request(path, { method, body: hasBody ? text : undefined });
        const reply = await res.json();
        assert.deepEqual(Object.keys(reply), ["message", "status"]);
        assert.ok(res.status < 500, `${res.status} ${JSON.stringify(reply)}`);
        if (res.status >= 400) {
          assert.equal(reply.status, "failure");
          assert.match(reply.message, /^<Error> /);
          assert.equal(await rep(), before, "a rejected request changed /rep");
        } else {
          assert.equal(reply.status, "successful");
          assert.equal(JSON.stringify(reply), await rep(), "the answer is the new /rep");
          assert.ok(reply.message.N <= 12);
        }
        assert.equal(balancer.manager.serving, JSON.parse(await rep()).message.N);
      }),
      { numRuns: RUNS, seed: 20261125 },
    );
  } finally {
    await balancer.close();
  }
});
