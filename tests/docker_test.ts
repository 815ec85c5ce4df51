/**
 * The Docker suite, against a real engine: `docker compose up` of compose.yaml, replicas as
 * containers created by the balancer through the Engine API, kills, adoption after a
 * balancer restart, and a teardown that leaves nothing of ours behind.
 *
 * Skipped with a one-line reason when no engine answers, except under CI=true, where it
 * must run. Everything it creates carries its own project, network and owner names, so it
 * never touches a user's stack; traffic goes to 127.0.0.1 and the containers it created.
 */

import assert from "node:assert/strict";
import {
  containerName,
  DockerClient,
  LABELS,
  serverIdInEnv,
} from "../balancer/providers/docker/mod.ts";
import { engineClient, engineSuite, freePort, run } from "./engine.ts";
import { newReport, rep, startBalancer, steadyLoad, waitFor } from "./helpers.ts";

const engineTest = await engineSuite("docker suite");

/** `docker compose` (v2) when present, else Debian's `docker-compose` (v1). */
async function composeCommand(): Promise<string[]> {
  try {
    await run(["docker", "compose", "version"], {}, 10_000);
    return ["docker", "compose"];
  } catch {
    return ["docker-compose"];
  }
}

/**
 * Removes every container and volume carrying `label`, and the network, if left over. Cleanup
 * must not hinge on the code under test: when the Engine API client fails (a permission, a
 * bug), the `docker` CLI does it; when both fail, the error names what is left and how to
 * remove it.
 */
async function sweep(client: DockerClient, label: string, network: string): Promise<void> {
  try {
    for (const c of await client.listContainers([label])) {
      await client.removeContainer(c.Id).catch(() => {});
    }
    for (const v of await client.listVolumes([label])) {
      await client.removeVolume(v.Name).catch(() => {});
    }
    await client.removeNetwork(network).catch(() => {});
    if ((await client.listContainers([label])).length === 0) return;
  } catch {
    // fall through to the CLI
  }
  const cli = async (...args: string[]) => (await run(["docker", ...args], {}, 60_000)).trim();
  try {
    const containers = (await cli("ps", "-aq", "--filter", `label=${label}`)).split(/\s+/)
      .filter(Boolean);
    if (containers.length) await cli("rm", "-f", "-v", ...containers);
    const volumes = (await cli("volume", "ls", "-q", "--filter", `label=${label}`)).split(/\s+/)
      .filter(Boolean);
    if (volumes.length) await cli("volume", "rm", "-f", ...volumes);
    await cli("network", "rm", network).catch(() => "");
  } catch (error) {
    throw new Error(
      `cleanup failed; remove what is left with: docker rm -f $(docker ps -aq --filter ` +
        `label=${label}) (${error instanceof Error ? error.message.split("\n")[0] : error})`,
    );
  }
}

engineTest(
  "docker compose: replicas as containers, /add and /rm, kill and heal, adoption, clean teardown",
  async (t) => {
    const project = "ringlbtest";
    const owner = "ringlb-test";
    const network = "ringlb-test-net";
    const image = "ringlb-test:latest";
    const port = freePort();
    const url = `http://127.0.0.1:${port}`;
    const env = {
      LB_IMAGE: image,
      LB_NETWORK: network,
      LB_OWNER: owner,
      LB_PUBLISH: `127.0.0.1:${port}`,
      LB_REPLICAS: "3",
    };
    const compose = [...(await composeCommand()), "-p", project, "-f", "compose.yaml"];
    const client = engineClient();
    const ownerLabel = `${LABELS.owner}=${owner}`;
    const ours = async () =>
      (await client.listContainers([ownerLabel])).filter((c) => c.State === "running");
    const balancerId = async () =>
      (await client.listContainers([`com.docker.compose.project=${project}`]))[0]?.Id;

    try {
      await t.step(
        "compose up builds the image; the balancer starts 3 replicas and a spare",
        async () => {
          await run([Deno.execPath(), "task", "docker:prepare"]);
          await run([...compose, "up", "-d", "--build"], env);
          await waitFor(
            async () => {
              try {
                return (await fetch(`${url}/home`).then((r) => r.text())).includes(
                  "Hello from Server",
                );
              } catch {
                return false;
              }
            },
            "GET /home answers through the balancer",
            90_000,
          );
          assert.deepEqual((await rep(url)).replicas, ["Server 1", "Server 2", "Server 3"]);
          await waitFor(
            async () => (await ours()).length === 4,
            "3 replicas and 1 spare running",
            30_000,
          );
          const info = await client.inspectContainer("Server-2");
          assert.equal(info.Config.Labels?.[LABELS.owner], owner);
          assert.equal(info.Config.Labels?.[LABELS.role], "replica");
          assert.equal(info.Config.Labels?.[LABELS.hostname], "Server 2");
          assert.ok(info.Config.Env?.includes("SERVER_ID=2"), "its server number, as the seed");
          assert.ok(info.NetworkSettings.Networks[network].Aliases?.includes("Server-2"));
          // The seed's replies; the spare already answers as the number it will serve under.
          const report = await steadyLoad(url, () => false, { maxRequests: 200 });
          assert.deepEqual([...report.byReplica.keys()].sort(), ["1", "2", "3"]);
          const ids = (await ours()).map((c) => c.Id);
          const serverIds = await Promise.all(
            ids.map(async (id) => serverIdInEnv((await client.inspectContainer(id)).Config.Env)),
          );
          assert.deepEqual(serverIds.sort(), ["1", "2", "3", "4"]);
        },
      );

      await t.step("/add and /rm create and remove real containers", async () => {
        // `server_1` is a container name but not a DNS name: Docker's resolver answers it.
        const added = await fetch(`${url}/add`, {
          method: "POST",
          body: '{"n":3,"hostnames":["S5","server_1"]}',
        });
        assert.equal(added.status, 200);
        const { message } = await added.json();
        assert.equal(message.N, 6);
        const s5 = await client.inspectContainer("S5");
        assert.equal(s5.State.Running, true);
        assert.equal(s5.Config.Labels?.[LABELS.hostname], "S5");
        assert.ok(s5.NetworkSettings.Networks[network].Aliases?.includes("S5"));
        assert.ok(s5.Config.Env?.includes("SERVER_ID=5"), "numbered after the spare's 4");
        const underscore = await client.inspectContainer("server_1");
        assert.ok(underscore.NetworkSettings.Networks[network].Aliases?.includes("server_1"));
        assert.ok(underscore.Config.Env?.includes("SERVER_ID=6"));
        const random = message.replicas.find((n: string) => n.startsWith("replica-"));
        assert.equal((await client.inspectContainer(random)).State.Running, true);
        // The balancer (a container on the network) reaches server_1 by that name: its keys
        // are answered by it.
        const logs = await run(["docker", "logs", (await balancerId())!]);
        assert.match(logs, /replica\.ready name=server_1 [^\n]*url=http:\/\/server_1:5000/);
        const report = await steadyLoad(url, () => false, { maxRequests: 300 });
        assert.deepEqual(report.failures, []);
        // The spec ring routes no key to server 6 (its narrow arc): with server_1 left alone,
        // every key goes to it, by that name.
        const others = message.replicas.filter((name: string) => name !== "server_1");
        const removed = await fetch(`${url}/rm`, {
          method: "DELETE",
          body: JSON.stringify({ n: others.length, hostnames: others }),
        });
        assert.equal(removed.status, 200);
        assert.deepEqual((await removed.json()).message.replicas, ["server_1"]);
        await assert.rejects(client.inspectContainer("S5"), /No such container/);
        assert.deepEqual(await (await fetch(`${url}/home?id=123456`)).json(), {
          message: "Hello from Server: 6",
          status: "successful",
        });
        const refilled = await fetch(`${url}/add`, { method: "POST", body: '{"n":2}' });
        assert.equal(refilled.status, 200);
        assert.equal((await refilled.json()).message.N, 3);
        assert.equal((await ours()).length, 4, "3 replicas and the spare");

        // `balancer` is the compose service's alias on the network: by that name the
        // balancer would reach itself.
        const clash = await fetch(`${url}/add`, {
          method: "POST",
          body: '{"n":1,"hostnames":["balancer"]}',
        });
        assert.equal(clash.status, 400);
        assert.match((await clash.json()).message, /hostname 'balancer' is ambiguous on network/);
        assert.equal((await rep(url)).N, 3);
        assert.equal((await ours()).length, 4, "no container left behind by the refused name");
      });

      await t.step(
        "docker kill of a replica under load: no failed GET, N = 3 again with a new name",
        async () => {
          let healed = false;
          const progress = newReport();
          const load = steadyLoad(url, () => healed, {
            concurrency: 4,
            maxMs: 15_000,
            report: progress,
          });
          const victim = (await rep(url)).replicas[1]; // server 2: the spec ring gives it keys, not server 6
          const victimId = serverIdInEnv(
            (await client.inspectContainer(containerName(victim))).Config.Env,
          )!;
          await waitFor(() => (progress.byReplica.get(victimId) ?? 0) > 0, "traffic reaches it");
          const killedAt = performance.now();
          await client.killContainer(containerName(victim));
          await waitFor(
            async () => {
              const { N, replicas } = await rep(url);
              return N === 3 && !replicas.includes(victim);
            },
            "replaced",
            5_000,
          );
          const healMs = performance.now() - killedAt;
          // Some traffic after the heal: the replacement serves its keys.
          const sentAtHeal = progress.sent;
          await waitFor(() => progress.sent >= sentAtHeal + 40, "traffic after the heal");
          healed = true;
          const report = await load;
          assert.deepEqual(report.failures, [], `failed GETs out of ${report.sent}`);
          assert.ok(report.sent > 20, `only ${report.sent} requests`);
          assert.ok(healMs < 3_000, `healed in ${healMs.toFixed(0)} ms`);
          await waitFor(
            () => client.inspectContainer(containerName(victim)).then(() => false, () => true),
            "the dead container is removed",
            5_000,
          );
        },
      );

      await t.step(
        "a restarted balancer container adopts its replicas: no duplicates, no orphans",
        async () => {
          // A second promotion, in another place of the ring: both must keep their places.
          await waitFor(async () => (await ours()).length === 4, "3 replicas and 1 spare", 10_000);
          const second = (await rep(url)).replicas[0]; // after [1]: an unlabelled heuristic would swap them
          await client.killContainer(containerName(second));
          await waitFor(async () => !(await rep(url)).replicas.includes(second), "replaced", 5_000);
          // Steady state: the spare started after the last kill is running.
          await waitFor(async () => (await ours()).length === 4, "3 replicas and 1 spare", 10_000);
          const before = (await rep(url)).replicas;
          const containersBefore = (await ours()).map((c) => c.Id).sort();
          const lb = await balancerId();
          await client.killContainer(lb); // crash: no chance to clean up
          assert.deepEqual(
            (await ours()).map((c) => c.Id).sort(),
            containersBefore,
            "replicas outlive it",
          );
          await client.startContainer(lb);
          await waitFor(
            async () => {
              try {
                return (await rep(url)).N === 3;
              } catch {
                return false;
              }
            },
            "the balancer answers again",
            30_000,
          );
          assert.deepEqual(
            (await rep(url)).replicas,
            before,
            "the same replicas, in the same order",
          );
          await waitFor(async () => (await ours()).length === 4, "3 replicas and 1 spare", 10_000);
          assert.deepEqual(
            (await ours()).map((c) => c.Id).sort(),
            containersBefore,
            "nothing new started",
          );
          const report = await steadyLoad(url, () => false, { maxRequests: 200 });
          assert.deepEqual(report.failures, []);
          assert.equal(report.byReplica.size, 3, "all three adopted replicas serve");
        },
      );

      await t.step(
        "compose down: the balancer removes its replicas, compose the network",
        async () => {
          await run([...compose, "down"], env);
          assert.deepEqual(await client.listContainers([ownerLabel]), []);
          assert.deepEqual(await client.listVolumes([ownerLabel]), [], "no promotion notes left");
          assert.equal(await client.inspectNetwork(network), undefined);
        },
      );
    } finally {
      await run([...compose, "down", "--remove-orphans"], env).catch(() => {});
      await sweep(client, ownerLabel, network);
      client.close();
    }
  },
);

engineTest(
  "docker provider with the balancer on the host: replicas reached by address, SIGTERM removes them",
  async () => {
    const owner = `ringlb-test-host-${Deno.pid}`;
    const client = engineClient();
    try {
      await run([Deno.execPath(), "task", "docker:prepare"]);
      await run(["docker", "build", "-q", "-t", "ringlb-test:latest", "."]);
      const lb = await startBalancer([
        "--provider=docker",
        `--docker-network=${owner}`,
        `--docker-owner=${owner}`,
        "--docker-image=ringlb-test:latest",
        "--spares=0",
      ]);
      try {
        assert.equal((await rep(lb.url)).N, 3);
        assert.ok(lb.log.some((l) => l.includes("docker.ready") && l.includes("reach=address")));
        const report = await steadyLoad(lb.url, () => false, { maxRequests: 100 });
        assert.deepEqual(report.failures, []);
        assert.equal((await client.listContainers([`${LABELS.owner}=${owner}`])).length, 3);
      } finally {
        assert.equal(await lb.stop("SIGTERM"), 0);
      }
      assert.deepEqual(await client.listContainers([`${LABELS.owner}=${owner}`]), []);
    } finally {
      await sweep(client, `${LABELS.owner}=${owner}`, owner);
      client.close();
    }
  },
);

engineTest(
  "docker provider rules: /events ejects without heartbeats; foreign and other owners' containers untouched; dead ones removed on adoption; LB_KEEP_REPLICAS",
  async () => {
    const tag = `${Deno.pid}`;
    const [ownerA, ownerB] = [`ringlb-test-a-${tag}`, `ringlb-test-b-${tag}`];
    const network = `ringlb-test-rules-${tag}`;
    const foreign = `foreign-${tag}`;
    const image = "ringlb-test:latest";
    const client = engineClient();
    const labelsOf = (owner: string) => [`${LABELS.owner}=${owner}`];
    const running = async (owner: string) =>
      (await client.listContainers(labelsOf(owner))).filter((c) => c.State === "running")
        .map((c) => c.Id).sort();
    // Heartbeats a minute apart: a replica's death can only be seen on the event stream.
    const start = (owner: string, names: string, env: Record<string, string> = {}) =>
      startBalancer([
        "--provider=docker",
        `--docker-network=${network}`,
        `--docker-owner=${owner}`,
        `--docker-image=${image}`,
        "--spares=0",
        "--heartbeat-interval=60000",
        `--replicas=${names.split(",").length}`,
        `--names=${names}`,
      ], env);
    try {
      await run([Deno.execPath(), "task", "docker:prepare"]);
      await run(["docker", "build", "-q", "-t", image, "."]);
      await client.createNetwork(network, {});
      // A container the balancers do not own, and a dead one that A owns.
      const foreignId = await client.createContainer(foreign, { Image: image });
      const deadId = await client.createContainer(`dead-${tag}`, {
        Image: image,
        Labels: {
          [LABELS.owner]: ownerA,
          [LABELS.role]: "replica",
          [LABELS.hostname]: `dead-${tag}`,
          [LABELS.ordinal]: "1",
        },
      });

      const a = await start(ownerA, `a-1-${tag},a-2-${tag}`, { LB_KEEP_REPLICAS: "true" });
      await using b = await start(ownerB, `b-1-${tag}`);
      try {
        await assert.rejects(client.inspectContainer(deadId), /No such container/);
        assert.ok(a.log.some((l) => l.includes("docker.removed_dead")), "A removed its dead one");
        assert.deepEqual((await rep(a.url)).replicas, [`a-1-${tag}`, `a-2-${tag}`]);
        assert.deepEqual((await rep(b.url)).replicas, [`b-1-${tag}`]);
        assert.equal((await running(ownerA)).length, 2);
        const bIds = await running(ownerB);
        assert.equal(bIds.length, 1, "B started its own replica; A adopted none of B's");

        // Names held by a foreign container or by another owner's replica: 400, untouched.
        for (const name of [foreign, `b-1-${tag}`]) {
          const res = await fetch(`${a.url}/add`, {
            method: "POST",
            body: JSON.stringify({ n: 1, hostnames: [name] }),
          });
          assert.equal(res.status, 400, name);
          assert.match((await res.json()).message, /not own/, name);
        }
        const untouched = await client.inspectContainer(foreignId);
        assert.equal(untouched.State.Status, "created", "the foreign container was left as it was");
        assert.deepEqual(await running(ownerB), bIds, "B's replica was left running");
        assert.equal((await rep(a.url)).N, 2);

        // docker kill: seen on /events at once (heartbeats are a minute apart), replaced.
        const victim = `a-2-${tag}`;
        await client.killContainer(victim);
        // Replaced: the replacement is serving (in /rep it is listed from its spawn on).
        await waitFor(
          () => a.log.some((l) => l.includes("replica.ready") && l.includes("name=replica-")),
          "the killed replica's replacement serves",
          15_000,
        );
        assert.ok(!(await rep(a.url)).replicas.includes(victim));
        assert.ok(
          a.log.some((l) => l.includes(`name=${victim}`) && l.includes("container died")),
          "ejected by its die event",
        );

        // LB_KEEP_REPLICAS: A exits and leaves its replicas; a new A adopts the same ones.
        const kept = await running(ownerA);
        const before = (await rep(a.url)).replicas;
        assert.equal(await a.stop("SIGTERM"), 0);
        assert.deepEqual(await running(ownerA), kept, "A's replicas outlive it");
        await using again = await start(ownerA, `a-1-${tag},a-2-${tag}`);
        assert.deepEqual((await rep(again.url)).replicas, before, "adopted, same names and order");
        assert.deepEqual(await running(ownerA), kept, "the same containers, nothing new");
        assert.equal(await again.stop("SIGTERM"), 0);
        assert.deepEqual(await running(ownerA), [], "without LB_KEEP_REPLICAS they are removed");
        assert.deepEqual(await running(ownerB), bIds, "B's replica untouched by A's exits");
      } finally {
        await a[Symbol.asyncDispose]();
      }
    } finally {
      for (const owner of [ownerA, ownerB]) await sweep(client, labelsOf(owner)[0], network);
      await client.removeContainer(foreign).catch(() => {});
      await client.removeNetwork(network).catch(() => {});
      client.close();
    }
  },
);
