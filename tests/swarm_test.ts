/**
 * The swarm suite, against a real engine in swarm mode: two balancers in containers on an
 * attachable overlay network, sharing one owner label, their replicas swarm services reached
 * by name (`dnsrr`). What it shows: services created through the Engine API with the owner's
 * labels; both balancers route every key alike; `/add` on one and `/rm` on the other are seen
 * by both within a second; a killed task is ejected at once by both and rejoins when the swarm
 * has restarted it, with no replacement started by either; a balancer that stops leaves the
 * services to the other.
 *
 * Needs an engine (skipped with a one-line reason without one, except under CI=true). A swarm
 * is initialised on 127.0.0.1 when the engine is in none, and left again at the end. Everything
 * it creates carries its own owner, label and network names; traffic goes to 127.0.0.1 only.
 */

import assert from "node:assert/strict";
import { LABELS } from "../balancer/providers/docker/mod.ts";
import { engineClient, engineSuite, freePort, run } from "./engine.ts";
import { newReport, ownersOf, rep, steadyLoad, waitFor } from "./helpers.ts";

const engineTest = await engineSuite("swarm suite");

const OWNER = "ringlb-swarm-test";
const NETWORK = "ringlb-swarm-test-net";
const IMAGE = "ringlb-swarm-test:latest";
/** On the balancer containers this suite runs, for cleanup. */
const TEST_LABEL = "ringlb.test=swarm";
const KILLS = 10;

/** `ringlb_replica_up` of one replica, from a balancer's `/metrics`. */
async function up(url: string, replica: string): Promise<number | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split("\n").find((l) =>
    l.startsWith(`ringlb_replica_up{replica="${replica}"}`)
  );
  return line === undefined ? undefined : Number(line.split(" ").at(-1));
}

/** Whether a balancer answers `/rep` (it may be starting). */
async function answers(url: string): Promise<boolean> {
  try {
    return (await rep(url)).N >= 0;
  } catch {
    return false;
  }
}

engineTest(
  "swarm: two balancers share one set of services, agree on every key, see each other's /add and /rm, and ride out task kills",
  async (t) => {
    const client = engineClient();
    const ownerLabel = `${LABELS.owner}=${OWNER}`;
    const docker = async (...args: string[]) => (await run(["docker", ...args], {}, 60_000)).trim();
    let joinedSwarm = false;
    const balancers: { name: string; url: string }[] = [];

    /** Starts a balancer container on the overlay network, published on a loopback port. */
    const startBalancer = async (name: string, extra: string[] = []) => {
      const port = freePort();
      await docker(
        "run",
        "-d",
        "--name",
        name,
        "--label",
        TEST_LABEL,
        "--network",
        NETWORK,
        "-p",
        `127.0.0.1:${port}:5000`,
        "-v",
        "/var/run/docker.sock:/var/run/docker.sock",
        IMAGE,
        ...["run", "--cached-only", "--allow-net", "--allow-env", "--allow-read"],
        ...["--allow-write=/var/run/docker.sock", "--allow-run", "balancer/main.ts"],
        ...["--provider", "swarm", "--docker-image", IMAGE, "--docker-network", NETWORK],
        ...["--docker-owner", OWNER, "--replicas", "3", ...extra],
      );
      const url = `http://127.0.0.1:${port}`;
      balancers.push({ name, url });
      await waitFor(() => answers(url), `balancer ${name} answers`, 60_000);
      return url;
    };

    try {
      await t.step(
        "a swarm on 127.0.0.1, the image and an attachable overlay network",
        async () => {
          const state = (await client.info()).Swarm?.LocalNodeState;
          if (state !== "active") {
            await docker("swarm", "init", "--advertise-addr", "127.0.0.1");
            joinedSwarm = true;
          }
          await run([Deno.execPath(), "task", "docker:prepare"]);
          await run(["docker", "build", "-q", "-t", IMAGE, "."]);
          await client.createNetwork(NETWORK, { [LABELS.owner]: OWNER }, "overlay");
        },
      );

      let a = "";
      let b = "";
      await t.step("balancer A creates 3 services: labelled, dnsrr, one task each", async () => {
        a = await startBalancer("ringlb-swarm-test-a");
        await waitFor(async () => (await rep(a)).N === 3, "3 replicas", 60_000);
        for (const replica of ["Server 1", "Server 2", "Server 3"]) {
          await waitFor(async () => (await up(a, replica)) === 1, `${replica} serves`, 60_000);
        }
        const services = await client.listServices([ownerLabel]);
        assert.deepEqual(services.map((s) => s.Spec.Name).sort(), [
          "Server-1",
          "Server-2",
          "Server-3",
        ]);
        const spec = JSON.parse(await docker("service", "inspect", "Server-2"))[0].Spec;
        assert.equal(spec.EndpointSpec.Mode, "dnsrr");
        assert.equal(spec.Mode.Replicated.Replicas, 1);
        assert.equal(spec.Labels[LABELS.hostname], "Server 2");
        assert.equal(spec.TaskTemplate.ContainerSpec.Labels[LABELS.owner], OWNER);
        assert.ok(spec.TaskTemplate.ContainerSpec.Env.includes("SERVER_ID=2"));
      });

      await t.step(
        "balancer B, same owner, adopts them: 10,000 keys, 100 % agreement",
        async () => {
          b = await startBalancer("ringlb-swarm-test-b");
          assert.deepEqual(await rep(b), await rep(a));
          for (const replica of ["Server 1", "Server 2", "Server 3"]) {
            await waitFor(async () => (await up(b, replica)) === 1, `${replica} serves B`, 30_000);
          }
          const keys = Array.from({ length: 10_000 }, (_, i) => i * 7919 + 13);
          const [viaA, viaB] = [await ownersOf(a, keys), await ownersOf(b, keys)];
          const differ = keys.filter((_, i) => viaA[i] !== viaB[i]).length;
          console.log(`swarm: ${keys.length - differ} of ${keys.length} keys routed alike`);
          assert.equal(differ, 0);
          assert.equal(new Set(viaA).size, 3, "every replica owns keys");
          assert.equal(
            (await client.listServices([ownerLabel])).length,
            3,
            "B started nothing of its own",
          );
        },
      );

      await t.step("/add on A is seen by B, /rm on B is seen by A, within a second", async () => {
        const added = await fetch(`${a}/add`, {
          method: "POST",
          body: '{"n":1,"hostnames":["S5"]}',
        });
        assert.equal(added.status, 200, await added.clone().text());
        const addedAt = performance.now();
        assert.deepEqual((await added.json()).message.replicas, [
          "Server 1",
          "Server 2",
          "Server 3",
          "S5",
        ]);
        await waitFor(async () => (await up(b, "S5")) === 1, "B routes to S5", 1_000);
        console.log(
          `swarm: /add on A → routed by B after ${(performance.now() - addedAt).toFixed(0)} ms`,
        );
        const keys = Array.from({ length: 2_000 }, (_, i) => i * 104_729 + 7);
        const [viaA, viaB] = [await ownersOf(a, keys), await ownersOf(b, keys)];
        assert.deepEqual(viaB, viaA, "4 replicas: still every key alike");
        assert.ok(viaA.includes("4"), "S5 (server 4) owns keys");

        const removed = await fetch(`${b}/rm`, {
          method: "DELETE",
          body: '{"n":1,"hostnames":["S5"]}',
        });
        assert.equal(removed.status, 200, await removed.clone().text());
        const removedAt = performance.now();
        await waitFor(async () => (await rep(a)).N === 3, "A lets S5 go", 1_000);
        console.log(
          `swarm: /rm on B → gone from A after ${(performance.now() - removedAt).toFixed(0)} ms`,
        );
        assert.equal(await client.inspectService("S5"), undefined, "its service is removed");
        assert.deepEqual(await ownersOf(a, keys), await ownersOf(b, keys));

        // `server_1` makes the service name `server-1`: the one `Server 1` has (swarm names
        // are case-insensitive). Refused, with the replica that has it named.
        const clash = await fetch(`${a}/add`, {
          method: "POST",
          body: '{"n":1,"hostnames":["server_1"]}',
        });
        const said = await clash.json();
        assert.equal(clash.status, 400, JSON.stringify(said));
        assert.match(said.message, /service name 'server-1' is already replica 'Server 1''s/);
        assert.equal((await rep(a)).N, 3);
      });

      await t.step(
        `${KILLS} task kills: ejected at once by both, back when the swarm restarted it, nothing respawned`,
        async () => {
          let done = false;
          const load = steadyLoad(a, () => done, {
            concurrency: 2,
            maxMs: 120_000,
            report: newReport(),
          });
          const times: number[] = [];
          try {
            for (let kill = 0; kill < KILLS; kill++) {
              const task = await docker(
                "ps",
                "-q",
                "--filter",
                "label=com.docker.swarm.service.name=Server-2",
              );
              assert.ok(task, "Server 2's task runs");
              const killedAt = performance.now();
              await client.killContainer(task);
              for (const url of [a, b]) {
                await waitFor(async () => (await up(url, "Server 2")) === 0, "ejected", 5_000);
              }
              await waitFor(
                async () => (await up(a, "Server 2")) === 1 && (await up(b, "Server 2")) === 1,
                "back in both rings",
                20_000,
              );
              times.push(performance.now() - killedAt);
            }
          } finally {
            done = true;
          }
          const report = await load;
          const sorted = [...times].sort((x, y) => x - y);
          console.log(
            `swarm: kill → serving again over ${KILLS} kills: min ${sorted[0].toFixed(0)} ms, ` +
              `median ${sorted[Math.floor(KILLS / 2)].toFixed(0)} ms, max ${
                sorted.at(-1)!.toFixed(0)
              } ms`,
          );
          assert.deepEqual(report.failures, [], `failed GETs out of ${report.sent}`);
          for (const url of [a, b]) {
            const logs = await docker("logs", balancers.find((x) => x.url === url)!.name);
            // The die event, not missed heartbeats, took it out.
            assert.match(logs, /replica\.down name="Server 2" reason="task died \(exit code 137\)/);
            assert.doesNotMatch(logs, /replica\.spawning name=replica-/, "nothing respawned");
          }
          assert.deepEqual((await rep(a)).replicas, ["Server 1", "Server 2", "Server 3"]);
          assert.deepEqual(await rep(b), await rep(a));
          assert.equal((await client.listServices([ownerLabel])).length, 3);
        },
      );

      await t.step("A stops (SIGTERM): the services stay, B serves them all", async () => {
        await docker("stop", "-t", "20", "ringlb-swarm-test-a");
        assert.equal((await client.listServices([ownerLabel])).length, 3);
        const report = await steadyLoad(b, () => false, { maxRequests: 300 });
        assert.deepEqual(report.failures, []);
        assert.equal(report.byReplica.size, 3);
      });
    } finally {
      const names = balancers.map((x) => x.name);
      if (names.length) await docker("rm", "-f", ...names).catch(() => "");
      const left = (await docker("ps", "-aq", "--filter", `label=${TEST_LABEL}`).catch(() => ""))
        .split(/\s+/).filter(Boolean);
      if (left.length) await docker("rm", "-f", ...left).catch(() => "");
      for (const service of await client.listServices([ownerLabel]).catch(() => [])) {
        await client.removeService(service.ID).catch(() => {});
      }
      // The network goes once the tasks' containers are gone.
      await waitFor(
        async () => (await client.listContainers([ownerLabel])).length === 0,
        "task containers gone",
        30_000,
      ).catch(() => {});
      await client.removeNetwork(NETWORK).catch(() => {});
      if (joinedSwarm) {
        await docker("swarm", "leave", "--force").catch(() => "");
        // `swarm init` made the gateway bridge for overlay networks; leaving does not remove it.
        await docker("network", "rm", "docker_gwbridge").catch(() => "");
      }
      client.close();
    }
  },
);
