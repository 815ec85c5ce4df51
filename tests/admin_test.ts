/**
 * The admin API's protection on a real balancer process: `--admin-listen` moves `/rep`, `/add`
 * and `/rm` to their own loopback port (the proxy port then proxies those paths), `--admin-token`
 * guards `/add` and `/rm` there, and an admin API anyone can reach is warned about once.
 */

import assert from "node:assert/strict";
import { startBalancer, staticBackends, suiteTest, waitFor } from "./helpers.ts";

const { test } = suiteTest("admin suite", ["env", "net", "read", "run"]);

const TOKEN = "admin-suite-token-0123";

/** A loopback port nothing listens on now. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  listener.close();
  return listener.addr.port;
}

test("--admin-listen: the admin API on its own port, guarded by --admin-token; the proxy port proxies /rep", async () => {
  await using servers = staticBackends(["a", "b", "c"]);
  const adminPort = freePort();
  await using lb = await startBalancer([
    ...servers.args,
    "--admin-listen",
    `127.0.0.1:${adminPort}`,
    "--admin-token",
    TOKEN,
  ]);
  const admin = `http://127.0.0.1:${adminPort}`;
  await waitFor(() => lb.log.some((l) => l.includes("admin.listening")), "the admin port", 10_000);

  const rep = await fetch(`${admin}/rep`);
  assert.equal(rep.status, 200);
  assert.deepEqual(await rep.json(), {
    message: { N: 3, replicas: ["a", "b", "c"] },
    status: "successful",
  });
  // On the proxy port, /rep is an ordinary path: the replicas know no such endpoint.
  const proxied = await fetch(`${lb.url}/rep`);
  assert.equal(proxied.status, 400);
  assert.deepEqual(await proxied.json(), {
    message: "<Error> '/rep' endpoint does not exist in server replicas",
    status: "failure",
  });
  // And the admin port proxies nothing.
  const home = await fetch(`${admin}/home?id=1`);
  assert.equal(home.status, 400);
  await home.body?.cancel();

  const rm = (headers: Record<string, string>) =>
    fetch(`${admin}/rm`, { method: "DELETE", body: '{"n":1,"hostnames":["c"]}', headers });
  const refused = await rm({});
  assert.equal(refused.status, 401);
  await refused.body?.cancel();
  assert.equal((await (await fetch(`${admin}/rep`)).json()).message.N, 3, "nothing changed");
  const removed = await rm({ authorization: `Bearer ${TOKEN}` });
  assert.equal(removed.status, 200);
  assert.deepEqual((await removed.json()).message, { N: 2, replicas: ["a", "b"] });
  assert.ok(
    !lb.log.some((l) => l.includes("admin.unprotected")),
    "loopback and a token: no warning",
  );
});

test("an admin API on every interface with no token is warned about, once", async () => {
  await using servers = staticBackends(["a", "b", "c"]);
  await using lb = await startBalancer([
    ...servers.args,
    "--host",
    "0.0.0.0", // (bound on every interface; the test only talks to loopback)
  ]);
  await waitFor(() => lb.log.some((l) => l.includes("admin.unprotected")), "the warning", 10_000);
  assert.equal(lb.log.filter((l) => l.includes("admin.unprotected")).length, 1);
  assert.match(lb.log.find((l) => l.includes("admin.unprotected"))!, /--admin-token/);
});
