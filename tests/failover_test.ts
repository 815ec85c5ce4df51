/**
 * Failover with real processes on loopback: the balancer runs as `balancer/main.ts`, its
 * replicas as child processes, and the test kills them the way an operator or the OOM
 * killer would.
 */

import assert from "node:assert/strict";
import { DockerClient } from "../balancer/providers/docker/mod.ts";
import { SlotRing } from "../ring/mod.ts";
import { createServerApp } from "../server/mod.ts";
import {
  inCI,
  isAlive,
  newReport,
  rep,
  serverIdOf,
  startBalancer,
  steadyLoad,
  suiteTest,
  waitFor,
} from "./helpers.ts";

const { test, ready } = suiteTest("failover suite", ["env", "net", "read", "run", "write"]);

const SPEC_NAMES = ["Server 1", "Server 2", "Server 3"];

/** Whether a Docker engine answers at the default socket. */
async function engineAnswers(): Promise<boolean> {
  const client = new DockerClient();
  try {
    await client.ping();
    return true;
  } catch {
    return false;
  } finally {
    client.close();
  }
}

test("kill -9 of a replica under steady GETs: no client error, N = 3 again within 3 s", async () => {
  await using lb = await startBalancer();
  assert.deepEqual((await rep(lb.url)).replicas, SPEC_NAMES);
  // Replicas answer as their server numbers, as the seed's do.
  assert.deepEqual([...lb.replicas().values()].sort(), ["1", "2", "3"]);
  const [victim] = [...lb.replicas()].find(([, id]) => id === "2")!;

  let healed = false;
  let healMs = 0;
  const progress = newReport();
  const load = steadyLoad(lb.url, () => healed, { concurrency: 4, maxMs: 8_000, report: progress });
  await waitFor(() => (progress.byReplica.get("2") ?? 0) > 0, "traffic reaches Server 2");
  const killedAt = performance.now();
  Deno.kill(victim, "SIGKILL");
  await waitFor(
    async () => {
      const { N, replicas } = await rep(lb.url);
      const back = N === 3 && !replicas.includes("Server 2") && lb.replicas().size === 3 &&
        !lb.replicas().has(victim);
      if (back) healMs = performance.now() - killedAt;
      return back;
    },
    "N = 3 with a new replica",
    3_000,
  );
  // The replacement took Server 2's place: its number (so its reply), and its slots on the ring.
  const replacement = (await rep(lb.url)).replicas[1];
  assert.deepEqual([...lb.replicas().values()].sort(), ["1", "2", "3"]);
  const ring = new SlotRing();
  ["Server 1", replacement, "Server 3"].forEach((name, i) => ring.add({ name, ordinal: i + 1 }));
  const id = [...Array(1000).keys()].map((i) => 100_000 + i).find((k) =>
    ring.lookup(k) === replacement
  );
  await waitFor(
    async () => {
      const res = await fetch(`${lb.url}/home?id=${id}`);
      // (Server 2's process is gone: this reply is the replacement's.)
      return (await res.json()).message === `Hello from Server: 2`;
    },
    "the replacement answers its keys",
    3_000,
  );
  // Some traffic after the heal too (a fast heal leaves few requests before it).
  const sentAtHeal = progress.sent;
  await waitFor(() => progress.sent >= Math.max(sentAtHeal + 20, 60), "traffic after the heal");
  healed = true;
  const report = await load;

  assert.deepEqual(report.failures, [], `failed requests out of ${report.sent}`);
  assert.ok(report.sent > 50, `only ${report.sent} requests were sent`);
  assert.match(replacement, /^replica-[0-9a-z]{6}$/, "the replacement has a new random name");
  assert.ok(healMs < 3_000, `healed in ${healMs.toFixed(0)} ms`);
  assert.ok(lb.log.some((l) => l.includes("replica.stopping") && l.includes("killed by SIGKILL")));
});

test("a replica whose heartbeats fail is ejected, stopped and replaced", async () => {
  // FAULT_SIGNALS reaches the replicas through the balancer's environment: SIGUSR1 toggles
  // heartbeat failure in a running replica.
  await using lb = await startBalancer([], { FAULT_SIGNALS: "1" });
  const [pid] = [...lb.replicas()].find(([, id]) => id === "3")!; // Server 3
  Deno.kill(pid, "SIGUSR1");
  await waitFor(async () => !(await rep(lb.url)).replicas.includes("Server 3"), "ejected", 5_000);
  await waitFor(() => !isAlive(pid), "the ejected replica's process ended", 7_000);
  await waitFor(async () => (await rep(lb.url)).N === 3, "N restored", 5_000);
  assert.ok(lb.log.some((l) => l.includes('name="Server 3"') && l.includes("heartbeats failed")));
  // The replacement serves.
  const report = await steadyLoad(lb.url, () => false, { maxRequests: 60, concurrency: 2 });
  assert.deepEqual(report.failures, []);
});

test("/add starts real processes with the given names; /rm stops them (--replica-id name)", async () => {
  await using lb = await startBalancer(["--replica-id", "name"]);
  const added = await fetch(`${lb.url}/add`, {
    method: "POST",
    body: JSON.stringify({ n: 2, hostnames: ["S5"] }),
  });
  assert.equal(added.status, 200);
  const { message } = await added.json();
  assert.equal(message.N, 5);
  const ids = [...lb.replicas().values()].sort();
  assert.deepEqual(
    ids,
    [...message.replicas].sort(),
    "one process per replica, named by SERVER_ID",
  );
  const s5 = [...lb.replicas()].find(([, id]) => id === "S5")![0];

  // Every replica answers through the balancer.
  const report = await steadyLoad(lb.url, () => false, { maxRequests: 400, concurrency: 4 });
  assert.deepEqual(report.failures, []);
  assert.equal(report.byReplica.size, 5, `answers came from ${[...report.byReplica.keys()]}`);

  const removed = await fetch(`${lb.url}/rm`, {
    method: "DELETE",
    body: JSON.stringify({ n: 2, hostnames: ["S5"] }),
  });
  assert.equal(removed.status, 200);
  assert.equal((await removed.json()).message.N, 3);
  assert.equal(isAlive(s5), false, "S5's process has ended when /rm answers");
  assert.equal(lb.replicas().size, 3);
});

test("SIGTERM stops every replica before the balancer exits 0", async () => {
  const lb = await startBalancer();
  try {
    const pids = [...lb.replicas().keys()];
    assert.equal(pids.length, 3);
    assert.equal(await lb.stop("SIGTERM"), 0);
    for (const pid of pids) {
      assert.equal(isAlive(pid), false, `replica ${pid} outlived the balancer`);
    }
    assert.ok(lb.log.some((l) => l.includes("balancer.stopped")));
  } finally {
    await lb[Symbol.asyncDispose]();
  }
});

test("SIGTERM drains: a request in flight still gets its answer before the balancer exits", async () => {
  // The backend is the test's own (a static backend), so it knows when the request is in
  // flight, and it answers only after the balancer has begun to stop.
  const arrived = Promise.withResolvers<void>();
  const answer = Promise.withResolvers<void>();
  const app = createServerApp({ id: "b" });
  const backend = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    if (new URL(req.url).pathname === "/slow") {
      arrived.resolve();
      await answer.promise;
      return new Response("done");
    }
    return app.fetch(req);
  });
  const lb = await startBalancer([
    "--provider",
    "static",
    "--backends",
    `b=http://127.0.0.1:${backend.addr.port}`,
  ]);
  try {
    const reply = fetch(`${lb.url}/slow`).then(async (r) => `${r.status} ${await r.text()}`);
    await arrived.promise;
    const exit = lb.stop("SIGTERM");
    await waitFor(() => lb.log.some((l) => l.includes("balancer.stopping")), "stopping");
    answer.resolve();
    assert.equal(await reply, "200 done", "the request in flight was answered");
    assert.equal(await exit, 0);
  } finally {
    answer.resolve();
    await lb[Symbol.asyncDispose]();
    await backend.shutdown();
  }
});

test("SIGKILL of the balancer: its replicas exit by themselves (no orphans)", async () => {
  const lb = await startBalancer();
  const replicas = [...lb.replicas()];
  try {
    assert.equal(replicas.length, 3, "the replicas were found before the balancer dies");
    await lb.stop("SIGKILL");
    await waitFor(
      () => replicas.every(([pid, id]) => serverIdOf(pid) !== id),
      "orphaned replicas exited",
      5_000,
    );
  } finally {
    await lb[Symbol.asyncDispose]();
  }
});

/**
 * Runs `balancer/main.ts` with `args` to its exit (for start-up errors), with the balancer's
 * permission set and, as a user with another `DOCKER_HOST` must add, write access to its socket.
 */
async function runMain(args: string[], env: Record<string, string> = {}) {
  const socket = env.DOCKER_HOST?.replace(/^unix:\/\//, "");
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-q",
      "-P=balancer",
      ...(socket ? [`--allow-write=${socket}`] : []),
      new URL("../balancer/main.ts", import.meta.url).pathname,
      ...args,
    ],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code, stdout: text.decode(stdout), stderr: text.decode(stderr) };
}

test("a bad flag is a one-line error and exit code 2", async () => {
  assert.deepEqual(await runMain(["--port", "http"]), {
    code: 2,
    stdout: "",
    stderr: "balancer: --port must be a port number (0-65535), got 'http'\n",
  });
});

test("--provider docker with no engine: a one-line hint and exit code 1", async () => {
  const env = { DOCKER_HOST: "unix:///tmp/ringlb-no-engine.sock" };
  assert.deepEqual(await runMain(["--provider=docker"], env), {
    code: 1,
    stdout: "",
    stderr:
      "balancer: Docker engine not reachable at /tmp/ringlb-no-engine.sock (no such socket): " +
      "start dockerd, or run with --provider=process\n",
  });
});

const noEngine = !ready || !(await engineAnswers());
const CI = inCI();
if (ready && noEngine && !CI) console.log("docker image check skipped: no Docker engine answers");

test({
  name: "--provider docker with a missing replica image: a one-line hint and exit code 1",
  ignore: noEngine && !CI,
  async fn() {
    if (noEngine) throw new Error("CI=true but no Docker engine answers");
    const image = "ringlb-no-such-image:0";
    assert.deepEqual(await runMain(["--provider=docker", `--docker-image=${image}`]), {
      code: 1,
      stdout: "",
      stderr: `balancer: replica image '${image}' is not in the engine: build it first ` +
        `(docker compose build, or docker build -t ${image} .)\n`,
    });
  },
});
