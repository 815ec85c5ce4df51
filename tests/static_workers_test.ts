/**
 * `--provider static` with `--workers 2`, as real processes on loopback: both workers serve
 * the port, routing agrees, scaling is refused, and SIGTERM leaves no worker behind.
 */

import assert from "node:assert/strict";
import { createServerApp } from "../server/mod.ts";
import { childPids, isAlive, killQuietly, startBalancer, waitFor } from "./helpers.ts";

/** Inodes of the TCP sockets listening on `port` (IPv4), from /proc/net/tcp. */
function listeningInodes(port: number): Set<string> {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  const inodes = new Set<string>();
  for (const line of Deno.readTextFileSync("/proc/net/tcp").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length > 9 && f[1].endsWith(`:${hex}`) && f[3] === "0A") inodes.add(f[9]);
  }
  return inodes;
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

Deno.test("--provider static --workers 2: both serve, keys agree, /add refused, no orphan", async () => {
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
    const owners = new Map<number, Set<string>>();
    for (let i = 0; i < 120; i++) {
      const id = 100_000 + (i % 12) * 7919;
      const res = await fetch(`${lb.url}/home?id=${id}`, { headers: { connection: "close" } });
      assert.equal(res.status, 200);
      const body = await res.text();
      owners.set(id, (owners.get(id) ?? new Set()).add(body));
    }
    for (const [id, seen] of owners) assert.equal(seen.size, 1, `id ${id} went to ${[...seen]}`);
    const add = await fetch(`${lb.url}/add`, { method: "POST", body: '{"n":1}' });
    assert.equal(add.status, 400);
    assert.match((await add.json()).message, /not available with --workers > 1/);
    assert.equal(await lb.stop(), 0);
    await waitFor(() => workers.every((pid) => !isAlive(pid)), "workers gone", 10_000);
  } finally {
    for (const pid of workers) killQuietly(pid);
    await Promise.all(servers.map((s) => s.shutdown()));
  }
});
