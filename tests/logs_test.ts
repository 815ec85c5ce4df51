/**
 * `--log-format json` and `--access-log` on a real balancer process: every line it logs is one
 * JSON object with `time`, `level` and `event` first, and each proxied request has an `access`
 * line with its key, replica, status and tries.
 */

import assert from "node:assert/strict";
import { startBalancer, staticBackends, suiteTest, waitFor } from "./helpers.ts";

const { test } = suiteTest("logs suite", ["env", "net", "read", "run"]);

test("--log-format json --access-log true: JSON lines, and an access line per request", async () => {
  await using backends = staticBackends(["a", "b", "c"]);
  {
    await using lb = await startBalancer([
      ...backends.args,
      "--log-format",
      "json",
      "--access-log",
      "true",
    ]);
    const keys = [11, 22, 33];
    for (const id of keys) await (await fetch(`${lb.url}/home?id=${id}`)).body?.cancel();
    await waitFor(
      () => lb.log.filter((l) => l.includes('"event":"access"')).length === keys.length,
      "an access line per request",
      5_000,
    );
    const records = lb.log.filter((l) => l.trim()).map((line) => JSON.parse(line));
    for (const record of records) {
      assert.deepEqual(Object.keys(record).slice(0, 3), ["time", "level", "event"]);
      assert.ok(!Number.isNaN(Date.parse(record.time)));
    }
    assert.ok(records.some((r) => r.event === "balancer.listening"));
    const access = records.filter((r) => r.event === "access");
    assert.deepEqual(access.map((r) => r.key), keys.map(String));
    for (const r of access) {
      assert.equal(r.level, "info");
      assert.equal(r.status, 200);
      assert.equal(r.tries, 1);
      assert.ok(["a", "b", "c"].includes(r.replica), r.replica);
      assert.equal(typeof r.ms, "number");
    }
  }
});
