import assert from "node:assert/strict";
import { createServerApp, type Faults } from "./app.ts";

Deno.test("GET /home answers the spec's greeting, byte for byte", async () => {
  const res = await createServerApp({ id: "Server 1" }).request("/home");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  assert.equal(await res.text(), '{"message":"Hello from Server: Server 1","status":"successful"}');
});

Deno.test("GET /heartbeat answers 200 with an empty body", async () => {
  const res = await createServerApp({ id: "S5" }).request("/heartbeat");
  assert.equal(res.status, 200);
  assert.equal(await res.text(), "");
});

Deno.test("any other path is a 404 JSON error of the spec's shape", async () => {
  const app = createServerApp({ id: "S5" });
  for (const [method, path] of [["GET", "/other"], ["POST", "/home"], ["GET", "/"]]) {
    const res = await app.request(path, { method });
    assert.equal(res.status, 404, `${method} ${path}`);
    const body = await res.json();
    assert.deepEqual(Object.keys(body), ["message", "status"]);
    assert.equal(body.status, "failure");
    assert.match(body.message, /endpoint does not exist/);
  }
});

Deno.test("faults: heartbeat failure and delay take effect at once", async () => {
  const faults: Faults = { heartbeatFail: false, delayMs: 0 };
  const app = createServerApp({ id: "S1", faults });
  assert.equal((await app.request("/heartbeat")).status, 200);
  faults.heartbeatFail = true;
  assert.equal((await app.request("/heartbeat")).status, 500);
  faults.delayMs = 150;
  const started = performance.now();
  await (await app.request("/home")).text();
  assert.ok(performance.now() - started >= 140);
});
