/**
 * `/metrics` on a real balancer process: what it counts matches what was sent, the text passes
 * `promtool check metrics` (Debian's `prometheus` package), and the admin token guards it.
 */

import assert from "node:assert/strict";
import { startBalancer, staticBackends, suiteTest } from "./helpers.ts";

const { test } = suiteTest("metrics suite", ["env", "net", "read", "run"]);

const TOKEN = "metrics-suite-token-01";

/** `promtool check metrics` on `text`: its complaints, or "" when it has none. */
async function promtool(text: string): Promise<string> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("promtool", {
      args: ["check", "metrics"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    throw new Error(`promtool is needed (apt-get install prometheus): ${error}`);
  }
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  const said = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  return code === 0 && said.trim() === "" ? "" : `exit ${code}: ${said}`;
}

/** The value of the sample `name{labels}` (exact label text), or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test("/metrics: requests by replica and class add up, replicas are up, and promtool accepts it", async () => {
  await using backends = staticBackends(["a", "b", "c"]);
  {
    await using lb = await startBalancer([
      ...backends.args,
      "--admin-token",
      TOKEN,
    ]);
    const client = Deno.createHttpClient({});
    try {
      for (let i = 0; i < 30; i++) {
        await (await fetch(`${lb.url}/home?id=${1000 + i * 7919}`, { client })).body?.cancel();
      }
      // A path the replicas do not have: their 404 is the spec's 400, counted for the replica.
      await (await fetch(`${lb.url}/nope?id=5`, { client })).body?.cancel();

      const refused = await fetch(`${lb.url}/metrics`, { client });
      assert.equal(refused.status, 401, "the token guards /metrics");
      await refused.body?.cancel();
      const res = await fetch(`${lb.url}/metrics`, {
        client,
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/);
      const text = await res.text();
      assert.equal(await promtool(text), "", "promtool check metrics has no complaint");

      let ok = 0;
      for (const r of "abc") {
        ok += sample(text, `ringlb_requests_total{replica="${r}",method="GET",code="2xx"}`) ?? 0;
        assert.equal(sample(text, `ringlb_replica_up{replica="${r}"}`), 1, `${r} is up`);
      }
      assert.equal(ok, 30, "every /home answer counted once, by its replica");
      const bad = [..."abc"].map((r) =>
        sample(text, `ringlb_requests_total{replica="${r}",method="GET",code="4xx"}`) ?? 0
      );
      assert.deepEqual(bad.reduce((x, y) => x + y), 1);
      assert.equal(sample(text, "ringlb_request_duration_seconds_count"), 31);
      assert.equal(sample(text, "ringlb_upstream_try_duration_seconds_count"), 31);
      assert.equal(sample(text, 'ringlb_tries_per_request_bucket{le="1"}'), 31);
      assert.equal(sample(text, "ringlb_retries_total"), 0);
      assert.equal(sample(text, "ringlb_heartbeat_failures_total"), 0);
      assert.equal(sample(text, "ringlb_ring_members"), 3);
      assert.match(text, /^ringlb_ring_info\{kind="spec[^"]*"\} 1$/m, "the default ring, spec");
      assert.equal(sample(text, "ringlb_client_connections"), 1, "this test's one connection");
      assert.ok((sample(text, "process_resident_memory_bytes") ?? 0) > 10_000_000);
    } finally {
      client.close();
    }
  }
});
