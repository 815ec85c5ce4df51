/**
 * Several balancers sharing one owner's Docker replicas (`--docker-shared`), against a real
 * engine: two balancers on the host (replicas reached by address), one holding the reconciler
 * lease. What it shows: both build the same ring from the engine (10,000 keys agree); `/add`
 * and `/rm` on the follower are seen by the reconciler within a second and not undone by it; a
 * killed replica is replaced exactly once (the reconciler promotes its spare) and both converge;
 * when the reconciler dies, the follower takes the lease and replaces the next failure.
 *
 * Needs an engine (skipped with a one-line reason without one, except under CI=true).
 * Everything it creates carries its own owner and network names; traffic goes to 127.0.0.1
 * and the containers it created.
 */

import assert from "node:assert/strict";
import { LABELS } from "../balancer/providers/docker/mod.ts";
import { engineClient, engineSuite, run } from "./engine.ts";
import {
  ownersOf,
  rep,
  type RunningBalancer,
  startBalancer,
  steadyLoad,
  waitFor,
} from "./helpers.ts";

const engineTest = await engineSuite("shared docker suite");

/** How many replicas serve (`ringlb_replica_up` 1) through a balancer. */
async function serving(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text.split("\n").filter((l) => l.startsWith("ringlb_replica_up{") && l.endsWith(" 1"))
    .length;
}

/** Keys the two balancers route differently. */
async function disagreements(a: string, b: string, keys: readonly number[]): Promise<number> {
  const [viaA, viaB] = [await ownersOf(a, keys), await ownersOf(b, keys)];
  return keys.filter((_, i) => viaA[i] !== viaB[i]).length;
}

engineTest(
  "docker --docker-shared: two balancers, one lease; same ring, each other's /add and /rm, one replacement per kill, lease handover",
  async (t) => {
    const owner = `ringlb-test-shared-${Deno.pid}`;
    const ownerLabel = `${LABELS.owner}=${owner}`;
    const client = engineClient();
    const flags = [
      "--provider=docker",
      "--docker-shared=true",
      `--docker-network=${owner}`,
      `--docker-owner=${owner}`,
      "--docker-image=ringlb-test:latest",
      // Replies name the replica: two added at once on the two balancers can share a number,
      // and the agreement checks must tell them apart.
      "--replica-id=name",
    ];
    const started: RunningBalancer[] = [];
    const running = async () =>
      (await client.listContainers([ownerLabel])).filter((c) => c.State === "running");
    const leaseHolder = async () => {
      const lease = await client.listContainers([`ringlb.lease=${owner}`]);
      return lease.find((c) => c.State === "running")?.Labels["ringlb.holder"];
    };
    const keys = Array.from({ length: 10_000 }, (_, i) => i * 7919 + 13);
    const few = keys.slice(0, 2_000);

    try {
      await run([Deno.execPath(), "task", "docker:prepare"]);
      await run(["docker", "build", "-q", "-t", "ringlb-test:latest", "."]);
      const a = await startBalancer(flags);
      started.push(a);
      const b = await startBalancer(flags);
      started.push(b);

      await t.step(
        "A holds the lease and started 3 replicas and a spare; B follows, adopting the 3",
        async () => {
          assert.ok(a.log.some((l) => l.includes("docker.ready") && l.includes("role=reconciler")));
          assert.ok(b.log.some((l) => l.includes("docker.ready") && l.includes("role=follower")));
          assert.match((await leaseHolder()) ?? "", new RegExp(`:${a.pid}$`));
          assert.deepEqual(await rep(b.url), await rep(a.url));
          assert.equal((await running()).length, 4, "3 replicas and 1 spare, none started by B");
          const differ = await disagreements(a.url, b.url, keys);
          console.log(`shared docker: ${keys.length - differ} of ${keys.length} keys routed alike`);
          assert.equal(differ, 0);
        },
      );

      await t.step(
        "/add on B is routed by A within a second; /rm on B is not undone by A",
        async () => {
          const added = await fetch(`${b.url}/add`, {
            method: "POST",
            body: '{"n":1,"hostnames":["S5"]}',
          });
          assert.equal(added.status, 200, await added.clone().text());
          const addedAt = performance.now();
          await waitFor(async () => (await serving(a.url)) === 4, "A routes to S5", 1_000);
          console.log(
            `shared docker: /add on B → routed by A ${
              (performance.now() - addedAt).toFixed(0)
            } ms after B answered`,
          );
          assert.equal(await disagreements(a.url, b.url, few), 0);

          const removed = await fetch(`${b.url}/rm`, {
            method: "DELETE",
            body: '{"n":1,"hostnames":["S5"]}',
          });
          assert.equal(removed.status, 200, await removed.clone().text());
          await waitFor(async () => (await rep(a.url)).N === 3, "A lets S5 go", 1_000);
          // Long enough for a wrong replacement to show.
          await new Promise((resolve) => setTimeout(resolve, 1_500));
          assert.deepEqual(await rep(a.url), await rep(b.url));
          assert.equal((await rep(a.url)).N, 3, "A did not replace what B removed");
          assert.equal((await running()).length, 4);
          assert.ok(!a.log.some((l) => l.includes("replica.stopping") && l.includes("ejected")));
        },
      );

      await t.step(
        "/add on both at once (the same ordinal, likely), then /rm across: still every key alike",
        async () => {
          const add = (url: string, name: string) =>
            fetch(`${url}/add`, { method: "POST", body: `{"n":1,"hostnames":["${name}"]}` });
          const added = await Promise.all([add(a.url, "S6"), add(b.url, "S7")]);
          for (const res of added) assert.equal(res.status, 200, await res.text());
          for (const url of [a.url, b.url]) {
            await waitFor(async () => (await serving(url)) === 5, "5 serve", 5_000);
          }
          assert.deepEqual(await rep(a.url), await rep(b.url));
          assert.equal(await disagreements(a.url, b.url, few), 0);
          const rm = (url: string, name: string) =>
            fetch(`${url}/rm`, { method: "DELETE", body: `{"n":1,"hostnames":["${name}"]}` });
          const removed = await Promise.all([rm(a.url, "S7"), rm(b.url, "S6")]);
          for (const res of removed) assert.equal(res.status, 200, await res.text());
          for (const url of [a.url, b.url]) {
            await waitFor(async () => (await rep(url)).N === 3, "3 again", 5_000);
          }
          await new Promise((resolve) => setTimeout(resolve, 1_500)); // a wrong replacement shows
          assert.deepEqual(await rep(a.url), await rep(b.url));
          assert.equal((await running()).length, 4, "3 replicas and the spare, nothing replaced");
          assert.equal(await disagreements(a.url, b.url, few), 0);
        },
      );

      await t.step(
        "docker kill of a replica: replaced once (A promotes its spare); both converge",
        async () => {
          const spawnedByB = b.log.filter((l) => l.includes("replica.spawning")).length;
          const spawnedByA = a.log.filter((l) => l.includes("replica.spawning")).length;
          const before = (await rep(a.url)).replicas;
          const victim = before[1];
          await client.killContainer(victim.replace(/[^a-zA-Z0-9_.-]/g, "-"));
          await waitFor(
            async () => {
              const [ra, rb] = [await rep(a.url), await rep(b.url)];
              return ra.N === 3 && !ra.replicas.includes(victim) &&
                JSON.stringify(ra) === JSON.stringify(rb);
            },
            "both list 3 replicas, the same, without the victim",
            10_000,
          );
          await waitFor(async () => (await running()).length === 4, "a new spare", 15_000);
          assert.equal(await disagreements(a.url, b.url, keys), 0);
          assert.equal(
            b.log.filter((l) => l.includes("replica.spawning")).length,
            spawnedByB,
            "B started nothing",
          );
          assert.equal(
            a.log.filter((l) => l.includes("replica.spawning")).length,
            spawnedByA,
            "A started no replica: it promoted its spare (and started a new spare)",
          );
          assert.equal(a.log.filter((l) => l.includes("replica.promoted")).length, 1);
        },
      );

      await t.step(
        "A dies (SIGKILL): B takes the lease and replaces the next failure",
        async () => {
          await a.stop("SIGKILL");
          const diedAt = performance.now();
          await waitFor(
            async () => (await leaseHolder())?.endsWith(`:${b.pid}`) ?? false,
            "B holds the lease",
            10_000,
          );
          console.log(
            `shared docker: lease taken over ${
              (performance.now() - diedAt).toFixed(0)
            } ms after the holder died`,
          );
          const victim = (await rep(b.url)).replicas[0];
          await client.killContainer(victim.replace(/[^a-zA-Z0-9_.-]/g, "-"));
          await waitFor(
            async () => {
              const { N, replicas } = await rep(b.url);
              return N === 3 && !replicas.includes(victim);
            },
            "B replaced it",
            10_000,
          ).catch((error) => {
            throw new Error(`${error.message}\nB's log:\n${b.log.slice(-30).join("\n")}`);
          });
          await waitFor(async () => (await serving(b.url)) === 3, "3 serve through B", 15_000);
          const report = await steadyLoad(b.url, () => false, { maxRequests: 300 });
          assert.deepEqual(report.failures, []);
          assert.equal(report.byReplica.size, 3);
        },
      );
    } finally {
      for (const balancer of started) await balancer.stop("SIGKILL").catch(() => 0);
      for (const label of [ownerLabel, `ringlb.lease=${owner}`]) {
        for (const c of await client.listContainers([label]).catch(() => [])) {
          await client.removeContainer(c.Id).catch(() => {});
        }
      }
      for (const v of await client.listVolumes([ownerLabel]).catch(() => [])) {
        await client.removeVolume(v.Name).catch(() => {});
      }
      await client.removeNetwork(owner).catch(() => {});
      client.close();
    }
  },
);
