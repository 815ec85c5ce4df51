import assert from "node:assert/strict";
import { createServerApp } from "../../server/mod.ts";
import { createBalancer } from "../balancer.ts";
import { parseConfig } from "../config/mod.ts";
import { silentLogger } from "../support/mod.ts";
import { parseBackends, StaticProvider } from "./static.ts";
import { waitFor } from "../testing/mod.ts";

Deno.test("parseBackends: URLs and name=URL items, with one-line errors", () => {
  assert.deepEqual(parseBackends("http://127.0.0.1:18081, web-2=http://127.0.0.1:18082/"), [
    { name: "127-0-0-1-18081", url: "http://127.0.0.1:18081" },
    { name: "web-2", url: "http://127.0.0.1:18082" },
  ]);
  assert.deepEqual(parseBackends(""), []);
  assert.throws(() => parseBackends("ftp://h:1"), /must be an http:\/\/ or https:\/\/ URL/);
  assert.throws(() => parseBackends("127.0.0.1:1"), /is not a URL \(expected http:\/\/host:port\)/);
  assert.throws(() => parseBackends("nonsense"), /'nonsense' is not a URL/);
  assert.throws(() => parseBackends("http://h:1/api"), /no path or query/);
  assert.throws(() => parseBackends("http://h:1?x=1"), /no path or query/);
  assert.throws(() => parseBackends("http://u:p@h:1"), /credentials/);
  assert.throws(() => parseBackends("a=http://h:1,a=http://h:2"), /backend name 'a' twice/);
  assert.throws(() => parseBackends("http://h:1,b=http://h:1"), /backend http:\/\/h:1 twice/);
  assert.throws(() => parseBackends("web 1=http://h:1"), /'web 1' must be 1-63 letters/);
  assert.equal(parseBackends("web_1=http://h:1")[0].name, "web_1");
});

Deno.test("--provider static: the backends are the replicas; bad combinations refused", () => {
  const parsed = parseConfig(["--provider", "static", "--backends", "a=http://127.0.0.1:1"], {});
  assert.ok(!parsed.help);
  assert.equal(parsed.config.cluster.replicas, 1);
  assert.deepEqual(parsed.config.cluster.names, ["a"]);
  const refused = (args: string[], message: RegExp) =>
    assert.throws(() => parseConfig(args, {}), message);
  refused(["--provider", "static"], /--provider static needs --backends/);
  refused(["--backends", "http://127.0.0.1:1"], /--backends needs --provider static/);
  refused(
    ["--provider", "static", "--backends", "http://127.0.0.1:1", "--replicas", "3"],
    /--replicas does not go with --provider static/,
  );
  refused(["--provider", "static", "--backends", "ftp://x:1"], /^.*--backends: 'ftp:\/\/x:1'/);
  const many = Array.from({ length: 60 }, (_, i) => `http://127.0.0.1:${20000 + i}`).join(",");
  refused(
    ["--provider", "static", "--backends", many],
    /--backends lists 60 servers; --ring spec holds 56/,
  );
  const maglev = parseConfig(["--provider", "static", "--backends", many, "--ring", "maglev"], {});
  assert.ok(
    !maglev.help && maglev.config.cluster.replicas === 60 &&
      maglev.config.cluster.maxReplicas === 60,
  );
});

/** A replica app served on loopback; `close()` stops it, `port` stays for a restart. */
/** A balancer over static `backends` (`name=URL,…`) on a maglev ring, with extra `flags`. */
function staticBalancer(backends: string, ...flags: string[]) {
  const parsed = parseConfig(
    ["--provider", "static", "--backends", backends, "--ring", "maglev", ...flags],
    {},
  );
  if (parsed.help) throw new Error("unreachable");
  const provider = new StaticProvider(parsed.config.provider.backends);
  return { provider, balancer: createBalancer(parsed.config, { provider, logger: silentLogger }) };
}

function serve(id: string, port = 0) {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port, onListen: () => {} },
    createServerApp({ id }).fetch,
  );
  return { server, port: server.addr.port };
}

Deno.test("static backends: routed to, ejected when down, back when up; never stopped", async () => {
  const servers = ["a", "b", "c"].map((id) => serve(id));
  const backends = servers.map((s, i) => `${"abc"[i]}=http://127.0.0.1:${s.port}`).join(",");
  const { balancer } = staticBalancer(
    backends,
    "--heartbeat-interval",
    "20",
    "--heartbeat-timeout",
    "200",
  );
  const get = async (path: string) => {
    const res = await balancer.app.request(path);
    return { status: res.status, body: await res.text() };
  };
  try {
    await balancer.start();
    assert.equal(balancer.manager.serving, 3);
    assert.equal(
      (await get("/rep")).body,
      '{"message":{"N":3,"replicas":["a","b","c"]},"status":"successful"}',
    );
    const seen = new Set<string>();
    for (let id = 0; id < 60; id++) seen.add((await get(`/home?id=${id}`)).body);
    assert.equal(seen.size, 3, "every backend serves some keys");

    // b goes down: it leaves the ring, and its keys are served by the others meanwhile.
    const port = servers[1].port;
    await servers[1].server.shutdown();
    await waitFor(() => balancer.manager.serving === 2, "b out of the ring");
    for (let id = 0; id < 30; id++) {
      const res = await get(`/home?id=${id}`);
      assert.equal(res.status, 200);
      assert.doesNotMatch(res.body, /Server: b"/);
    }
    // Nothing was started in its place: /rep still lists the three configured backends.
    assert.match((await get("/rep")).body, /"N":3,"replicas":\["a","b","c"\]/);

    // b comes back on the same port: it rejoins on its first good heartbeat.
    servers[1] = serve("b", port);
    await waitFor(() => balancer.manager.serving === 3, "b back in the ring", 5_000);
    const again = new Set<string>();
    for (let id = 0; id < 60; id++) again.add((await get(`/home?id=${id}`)).body);
    assert.equal(again.size, 3);

    // /rm takes a backend out without stopping it; /add brings it back; unknown names fail.
    assert.equal(
      (await balancer.app.request("/rm", {
        method: "DELETE",
        body: JSON.stringify({ n: 1, hostnames: ["c"] }),
      })).status,
      200,
    );
    const still = await fetch(`http://127.0.0.1:${servers[2].port}/heartbeat`);
    await still.body?.cancel();
    assert.equal(still.status, 200, "c was left running");
    const add = await balancer.app.request("/add", {
      method: "POST",
      body: JSON.stringify({ n: 1, hostnames: ["c"] }),
    });
    assert.equal(add.status, 200, await add.text());
    const unknown = await balancer.app.request("/add", {
      method: "POST",
      body: JSON.stringify({ n: 1, hostnames: ["zz"] }),
    });
    const body = await unknown.text();
    assert.equal(unknown.status, 400, body);
    assert.match(body, /no static backend is named 'zz'/);
    assert.equal(balancer.manager.snapshot().N, 3, "the failed /add changed nothing");
  } finally {
    await balancer.close();
    await Promise.all(servers.map((s) => s.server.shutdown().catch(() => {})));
  }
});

/** A backend whose heartbeats can be made to fail; it records when each arrives. */
function flakyBackend(id: string) {
  const beats: number[] = [];
  const state = { failing: false };
  const app = createServerApp({ id });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    if (new URL(req.url).pathname !== "/heartbeat") return app.fetch(req);
    beats.push(performance.now());
    return new Response(null, { status: state.failing ? 500 : 200 });
  });
  return { server, beats, state, url: `http://127.0.0.1:${server.addr.port}` };
}

Deno.test("static backends: down again after rejoining leaves the ring again; a down one is polled at the heartbeat interval", async () => {
  const a = flakyBackend("a");
  const b = flakyBackend("b");
  const { balancer } = staticBalancer(
    `a=${a.url},b=${b.url}`,
    "--heartbeat-interval",
    "200",
    "--heartbeat-timeout",
    "100",
  );
  try {
    await balancer.start();
    await waitFor(() => balancer.manager.serving === 2, "both serve");
    for (let round = 1; round <= 2; round++) {
      b.state.failing = true;
      await waitFor(() => balancer.manager.serving === 1, `round ${round}: b out`, 5_000);
      const from = b.beats.length;
      await waitFor(() => b.beats.length >= from + 3, `round ${round}: b polled while down`);
      const gaps = b.beats.slice(from).map((t, i, all) => i ? t - all[i - 1] : Infinity);
      assert.ok(Math.min(...gaps) >= 200 * 0.9 - 2, `polled every ~200 ms, not faster: ${gaps}`);
      b.state.failing = false;
      await waitFor(() => balancer.manager.serving === 2, `round ${round}: b back`, 5_000);
    }
    // A name that is not a backend: refused, and nothing more is wanted.
    const unknown = await balancer.app.request("/add", {
      method: "POST",
      body: JSON.stringify({ n: 1, hostnames: ["zz"] }),
    });
    assert.equal(unknown.status, 400);
    await unknown.body?.cancel();
    assert.equal(balancer.manager.desired, 2);
  } finally {
    await balancer.close();
    await Promise.all([a.server.shutdown(), b.server.shutdown()]);
  }
});

Deno.test("static backends: one down at start is not waited for, and joins when it answers", async () => {
  const up = serve("up");
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close(); // nothing listens there yet
  const { balancer } = staticBalancer(
    `up=http://127.0.0.1:${up.port},late=http://127.0.0.1:${port}`,
    "--heartbeat-interval",
    "50",
    "--start-timeout",
    "200",
  );
  let late: ReturnType<typeof serve> | undefined;
  try {
    await balancer.start();
    assert.equal(balancer.manager.serving, 1, "serving with the one that answers");
    assert.deepEqual(balancer.manager.snapshot().replicas, ["up", "late"]);
    late = serve("late", port);
    await waitFor(() => balancer.manager.serving === 2, "the late one joins", 5_000);
  } finally {
    await balancer.close();
    await up.server.shutdown();
    await late?.server.shutdown();
  }
});

Deno.test("static backends: /add of one that is down answers 503 after --start-timeout, then it joins when up", async () => {
  const a = serve("a");
  let b = serve("b");
  const { balancer } = staticBalancer(
    `a=http://127.0.0.1:${a.port},b=http://127.0.0.1:${b.port}`,
    "--heartbeat-interval",
    "50",
    "--start-timeout",
    "200",
  );
  try {
    await balancer.start();
    const rm = await balancer.app.request("/rm", {
      method: "DELETE",
      body: JSON.stringify({ n: 1, hostnames: ["b"] }),
    });
    assert.equal(rm.status, 200);
    await rm.body?.cancel();
    await b.server.shutdown();
    const added = balancer.app.request("/add", {
      method: "POST",
      body: JSON.stringify({ n: 1, hostnames: ["b"] }),
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const hung = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("/add never answered")), 5_000);
    });
    const res = await Promise.race([added, hung]);
    clearTimeout(timer);
    assert.equal(res.status, 503);
    await res.body?.cancel();
    b = serve("b", b.port);
    await waitFor(() => balancer.manager.serving === 2, "b joins once it answers", 5_000);
  } finally {
    await balancer.close();
    await Promise.all([a.server.shutdown(), b.server.shutdown().catch(() => {})]);
  }
});

Deno.test("parseBackends: ;weight=W after an item; a bad or repeated weight is a one-line error", () => {
  assert.deepEqual(parseBackends("a=http://127.0.0.1:1;weight=3, http://127.0.0.1:2; weight=0.5"), [
    { name: "a", url: "http://127.0.0.1:1", weight: 3 },
    { name: "127-0-0-1-2", url: "http://127.0.0.1:2", weight: 0.5 },
  ]);
  for (
    const [text, message] of [
      [
        "a=http://127.0.0.1:1;weight=0",
        "'weight=0' in 'a=http://127.0.0.1:1;weight=0': expected weight=W, a number above 0, at most 100",
      ],
      [
        "a=http://127.0.0.1:1;w=2",
        "'w=2' in 'a=http://127.0.0.1:1;w=2': expected weight=W, a number above 0, at most 100",
      ],
      [
        "a=http://127.0.0.1:1;weight=101",
        "'weight=101' in 'a=http://127.0.0.1:1;weight=101': expected weight=W, a number above 0, at most 100",
      ],
      [
        "a=http://127.0.0.1:1;weight=2;weight=3",
        "'a=http://127.0.0.1:1;weight=2;weight=3' gives its weight twice",
      ],
    ]
  ) {
    assert.throws(() => parseBackends(text), { message }, text);
  }
});
