/**
 * `--tls-cert` and `--tls-key` as real processes on loopback: clients reach the balancer over
 * HTTPS on either front, and plain HTTP is not served on that port. (That requests over TLS are
 * forwarded with `X-Forwarded-Proto: https` is socket_front_test's and proxy_test's.) The
 * certificate is the test one in balancer/testing/tls/.
 */

import assert from "node:assert/strict";
import { startBalancer, suiteTest } from "./helpers.ts";

const { test } = suiteTest("tls suite", ["env", "net", "read", "run"]);

const TLS = new URL("../balancer/testing/tls/", import.meta.url);
const ca = () => Deno.readTextFileSync(new URL("ca.pem", TLS));

for (const front of ["socket", "serve"]) {
  test(`--tls-cert/--tls-key, --front ${front}: HTTPS to the balancer, routed as over HTTP`, async () => {
    await using lb = await startBalancer([
      "--front",
      front,
      "--replicas",
      "1",
      "--tls-cert",
      new URL("cert.pem", TLS).pathname,
      "--tls-key",
      new URL("key.pem", TLS).pathname,
    ]);
    assert.match(lb.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    using client = Deno.createHttpClient({ caCerts: [ca()] });
    const home = await fetch(`${lb.url}/home?id=1`, { client });
    assert.equal(home.status, 200);
    assert.deepEqual(await home.json(), {
      message: "Hello from Server: 1",
      status: "successful",
    });
    const rep = await fetch(`${lb.url}/rep`, { client });
    assert.equal((await rep.json()).message.N, 1);
    // The same port does not speak plain HTTP.
    await assert.rejects(fetch(lb.url.replace("https:", "http:") + "/rep").then((r) => r.text()));
  });
}
