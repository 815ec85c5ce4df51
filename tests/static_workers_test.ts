/**
 * `--provider static` with `--workers 2`, as real processes on loopback: both workers serve
 * the port, routing agrees, scaling is refused, and SIGTERM leaves no worker behind.
 */

import assert from "node:assert/strict";
import { createServerApp } from "../server/mod.ts";
import {
  childPids,
  isAlive,
  killQuietly,
  listeningInodes,
  startBalancer,
  suiteTest,
  waitFor,
} from "./helpers.ts";

const { test } = suiteTest("static workers suite", ["env", "net", "read", "run"]);

/** The inode of the accepted socket on `port` whose peer is local port `peer` (IPv4). */
function acceptedInode(port: number, peer: number): string | undefined {
  const hex = (p: number) => p.toString(16).toUpperCase().padStart(4, "0");
  for (const line of Deno.readTextFileSync("/proc/net/tcp").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length > 9 && f[1].endsWith(`:${hex(port)}`) && f[2].endsWith(`:${hex(peer)}`)) {
      return f[9];
    }
  }
  return undefined;
}

/** A kept-alive HTTP/1.1 connection to the balancer, and which process accepted it. */
async function connection(port: number, pids: number[]) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  // The kernel completes the handshake before a process accepts: wait until one holds it.
  let owner: number | undefined;
  await waitFor(
    () => {
      const inode = acceptedInode(port, conn.localAddr.port);
      owner = pids.find((pid) => inode && socketInodes(pid).includes(inode));
      return owner !== undefined;
    },
    "a process accepting the connection",
    5_000,
  );
  const get = (path: string): Promise<string> => send("GET", path);
  const send = async (method: string, path: string, body = ""): Promise<string> =>
    (await exchange(method, path, body)).body;
  /** One request; its answer's status, Content-Type and body. */
  const exchange = async (method: string, path: string, body = "") => {
    const head = `${method} ${path} HTTP/1.1\r\nhost: lb\r\ncontent-length: ${body.length}\r\n\r\n`;
    await conn.write(new TextEncoder().encode(head + body));
    let text = "";
    const buffer = new Uint8Array(4096);
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) throw new Error("the balancer closed the connection");
      text += new TextDecoder().decode(buffer.subarray(0, n));
      const end = text.indexOf("\r\n\r\n");
      const length = Number(/content-length: (\d+)/i.exec(text)?.[1]);
      if (end >= 0 && text.length >= end + 4 + length) {
        return {
          status: Number(text.slice(9, 12)),
          type: /content-type: ([^\r]*)/i.exec(text)?.[1] ?? "",
          body: text.slice(end + 4),
        };
      }
    }
  };
  return { owner, get, send, exchange, close: () => conn.close() };
}

/** Inodes of the sockets process `pid` holds. */
function socketInodes(pid: number): string[] {
  const inodes: string[] = [];
  for (const fd of Deno.readDirSync(`/proc/${pid}/fd`)) {
    try {
      const match = Deno.readLinkSync(`/proc/${pid}/fd/${fd.name}`).match(/^socket:\[(\d+)\]$/);
      if (match) inodes.push(match[1]);
    } catch {
      // closed meanwhile
    }
  }
  return inodes;
}

test("--provider static --workers 2: both processes serve, keys agree, /rm and /add through the worker, no orphan", async () => {
  const servers = ["a", "b", "c"].map((id) =>
    Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, createServerApp({ id }).fetch)
  );
  const backends = servers.map((s, i) => `${"abc"[i]}=http://127.0.0.1:${s.addr.port}`);
  let workers: number[] = [];
  try {
    await using lb = await startBalancer([
      "--provider",
      "static",
      "--backends",
      backends.join(","),
      "--ring",
      "ketama",
      "--workers",
      "2",
    ]);
    await waitFor(() => (workers = childPids(lb.pid)).length === 1, "the second worker", 10_000);
    // Every connection is a new one, so the kernel spreads them over both processes.
    // reusePort: the kernel holds one listening socket per process on the port.
    const port = Number(new URL(lb.url).port);
    await waitFor(() => listeningInodes(port).size === 2, "the worker listening too", 10_000);
    const listening = listeningInodes(port);
    assert.ok(
      socketInodes(workers[0]).some((inode) => listening.has(inode)),
      "one is the worker's",
    );
    // Which process accepted each connection, read from /proc: the kernel spreads new
    // connections over the two listening sockets.
    const conns = await Promise.all(
      Array.from({ length: 24 }, () => connection(port, [lb.pid, workers[0]])),
    );
    try {
      const byOwner = Map.groupBy(conns, (c) => c.owner);
      assert.deepEqual(
        [...byOwner.keys()].sort(),
        [lb.pid, workers[0]].sort(),
        "both processes accepted connections",
      );
      // The same keys through a connection of each process: the same replica answers.
      const [first, second] = [byOwner.get(lb.pid)![0], byOwner.get(workers[0])![0]];
      const answers = new Set<string>();
      for (let i = 0; i < 12; i++) {
        const path = `/home?id=${100_000 + i * 7919}`;
        const [a, b] = [await first.get(path), await second.get(path)];
        assert.equal(a, b, `${path}: the workers route it alike`);
        answers.add(a);
      }
      assert.ok(answers.size >= 2, "and the keys are spread over the backends");

      // The admin API through the worker: relayed to the control plane, which answers once the
      // worker has the change; from then on both processes route without the removed backend.
      const removed = JSON.parse(await second.send("DELETE", "/rm", '{"n":1,"hostnames":["c"]}'));
      assert.deepEqual(removed.message, { N: 2, replicas: ["a", "b"] });
      const keys = Array.from({ length: 30 }, (_, i) => `/home?id=${200_000 + i * 7919}`);
      for (const path of keys) {
        const [a, b] = [await first.get(path), await second.get(path)];
        assert.equal(a, b, `${path}: alike after /rm`);
        assert.doesNotMatch(a, /Server: c/, `${path}: not to the removed backend`);
      }
      const added = JSON.parse(await second.send("POST", "/add", '{"n":1,"hostnames":["c"]}'));
      assert.equal(added.message.N, 3);
      const back = new Set<string>();
      for (const path of keys) {
        const [a, b] = [await first.get(path), await second.get(path)];
        assert.equal(a, b, `${path}: alike after /add`);
        back.add(a);
      }
      assert.ok([...back].some((a) => a.includes("Server: c")), "c serves again, in both");

      // /metrics (from the control plane, asked through the worker) counts both processes'
      // requests: the worker sends what it counted every second.
      const proxied = (12 + 30 + 30) * 2;
      const answered = async () => {
        const text = await second.get("/metrics");
        return text.split("\n").filter((l) => l.startsWith("ringlb_requests_total{"))
          .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
      };
      let total = 0;
      await waitFor(
        async () => (total = await answered()) === proxied,
        "every request counted",
        5_000,
        100,
      )
        .catch(() => assert.fail(`/metrics counted ${total} of ${proxied} requests`));
    } finally {
      for (const c of conns) c.close();
    }
    assert.equal(await lb.stop(), 0);
    await waitFor(() => workers.every((pid) => !isAlive(pid)), "workers gone", 10_000);
  } finally {
    for (const pid of workers) killQuietly(pid);
    await Promise.all(servers.map((s) => s.shutdown()));
  }
});

test("--workers 2 with local processes: the control plane starts a replica /add asked a worker for, and both route to it", async () => {
  let workers: number[] = [];
  try {
    await using lb = await startBalancer(["--workers", "2", "--replicas", "2"]);
    await waitFor(
      () => (workers = childPids(lb.pid).filter((pid) => !lb.replicas().has(pid))).length === 1,
      "the worker",
      10_000,
    );
    const port = Number(new URL(lb.url).port);
    await waitFor(() => listeningInodes(port).size === 2, "the worker listening too", 10_000);
    const conns = await Promise.all(
      Array.from({ length: 16 }, () => connection(port, [lb.pid, workers[0]])),
    );
    try {
      const byOwner = Map.groupBy(conns, (c) => c.owner);
      const viaWorker = byOwner.get(workers[0])?.[0];
      const viaControl = byOwner.get(lb.pid)?.[0];
      assert.ok(viaWorker && viaControl, "connections to both processes");
      const added = JSON.parse(await viaWorker.send("POST", "/add", '{"n":1,"hostnames":["S9"]}'));
      assert.deepEqual(added.message.replicas, ["Server 1", "Server 2", "S9"]);
      // Answered once the worker had the change: the same keys go to the same replicas, S9 too.
      const seen = new Set<string>();
      for (let i = 0; i < 40; i++) {
        const path = `/home?id=${300_000 + i * 7919}`;
        const a: string = await viaControl.get(path);
        const b: string = await viaWorker.get(path);
        assert.equal(a, b, `${path}: alike`);
        seen.add(JSON.parse(a).message);
      }
      assert.ok(seen.has("Hello from Server: 3"), [...seen].join(", ")); // S9, numbered 3
      assert.equal(
        JSON.parse(await viaWorker.get("/rep")).message.N,
        3,
        "/rep from the control plane",
      );
      // Hot keys: each process counts what it routes (1 request in 8), the worker sends its
      // keys every second, and /explain?top=N adds them up.
      for (let i = 0; i < 80; i++) {
        await viaControl.get("/home?id=hot-key");
        await viaWorker.get("/home?id=hot-key");
      }
      let top: { key: string; count: number }[] = [];
      await waitFor(
        async () => {
          top = JSON.parse(await viaControl.get("/explain?top=1")).top ?? [];
          return top[0]?.key === "hot-key" && top[0].count > 80;
        },
        `both processes' counts in /explain?top: ${JSON.stringify(top)}`,
        5_000,
      );
      assert.ok(top[0].count <= 160, JSON.stringify(top));
    } finally {
      for (const c of conns) c.close();
    }
    assert.equal(await lb.stop(), 0);
    await waitFor(() => workers.every((pid) => !isAlive(pid)), "the worker gone", 10_000);
  } finally {
    for (const pid of workers) killQuietly(pid);
  }
});

test("--workers 2: the admin API answers through a worker exactly as one process does", async () => {
  // The spec's admin calls and their errors, sent to a one-process balancer and to the worker
  // of a two-process one (relayed to its control plane): same status, type and body, byte for
  // byte. Every hostname is given, so no random name differs.
  const big = JSON.stringify({ n: 1, hostnames: ["x".repeat(70_000)] });
  const calls: [string, string, string?][] = [
    ["GET", "/rep"],
    ["POST", "/add", '{"n":2,"hostnames":["S5","S6"]}'],
    ["POST", "/add", '{"n":1,"hostnames":["a","b"]}'],
    ["POST", "/add", "{not json"],
    ["POST", "/add", '{"n":-1}'],
    ["POST", "/add", '{"n":1,"hostnames":["S5"]}'],
    ["POST", "/add", big],
    ["PUT", "/add", "{}"],
    ["DELETE", "/rm", '{"n":1,"hostnames":["S6"]}'],
    ["DELETE", "/rm", '{"n":1,"hostnames":["nope"]}'],
    ["DELETE", "/rm", '{"n":1,"hostnames":["a","b"]}'],
    ["DELETE", "/rm", '{"n":99}'],
    ["GET", "/rep"],
    ["DELETE", "/rm", '{"n":1,"hostnames":["S5"]}'],
    ["GET", "/rep"],
    ["GET", "/nowhere"],
  ];
  const flags = ["--replicas", "3", "--admin-rate-limit", "10000"];
  const answers: { status: number; type: string; body: string }[][] = [];
  let workers: number[] = [];
  try {
    for (const extra of [[], ["--workers", "2"]]) {
      await using lb = await startBalancer([...flags, ...extra]);
      const port = Number(new URL(lb.url).port);
      let conn = await connection(port, [lb.pid]);
      if (extra.length) {
        conn.close();
        await waitFor(
          () => (workers = childPids(lb.pid).filter((pid) => !lb.replicas().has(pid))).length === 1,
          "the worker",
          10_000,
        );
        await waitFor(() => listeningInodes(port).size === 2, "the worker listening", 10_000);
        // Connections until one lands on the worker (the kernel spreads them).
        const tried = [];
        for (let i = 0; i < 32 && conn.owner !== workers[0]; i++) {
          conn = await connection(port, [lb.pid, workers[0]]);
          tried.push(conn);
        }
        for (const other of tried) if (other !== conn) other.close();
        assert.equal(conn.owner, workers[0], "a connection to the worker");
      }
      const these = [];
      for (const [method, path, body] of calls) {
        these.push(await conn.exchange(method, path, body));
        // An error may close the connection (the balancer does after a refused request).
        if (these.at(-1)!.status >= 400 && !["/nowhere"].includes(path)) {
          conn.close();
          const pids = extra.length ? [lb.pid, workers[0]] : [lb.pid];
          do conn = await connection(port, pids); while (extra.length && conn.owner !== workers[0]);
        }
      }
      conn.close();
      answers.push(these);
      assert.equal(await lb.stop(), 0);
    }
  } finally {
    for (const pid of workers) killQuietly(pid);
  }
  const [one, two] = answers;
  for (let i = 0; i < calls.length; i++) {
    assert.deepEqual(
      two[i],
      one[i],
      `${calls[i][0]} ${calls[i][1]} ${calls[i][2]?.slice(0, 40) ?? ""}`,
    );
  }
  assert.deepEqual(
    one.map((a) => a.status),
    [200, 200, 400, 400, 400, 400, 413, 405, 200, 400, 400, 400, 200, 200, 200, 400],
  );
});
