/**
 * Upgrade tunnelling through the socket front, on loopback: Deno's `WebSocket` client talks to
 * real WebSocket echo replicas through the balancer (static backends, the HTTP/1.1 client): the
 * upgrade is routed by the key like any request, frames go both ways, and the tunnel counts as
 * in flight at its replica until it closes.
 */

import assert from "node:assert/strict";
import { createBalancer, parseConfig, silentLogger, StaticProvider } from "../balancer/mod.ts";
import type { Replica } from "../balancer/cluster/mod.ts";
import { suiteTest, waitFor } from "./helpers.ts";

const { test } = suiteTest("websocket suite", ["net"]);

/** A replica that answers heartbeats and echoes WebSocket messages, prefixed with its name. */
function echoReplica(name: string): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    if (new URL(request.url).pathname === "/heartbeat") return new Response("ok");
    if (request.headers.get("upgrade") !== "websocket") return new Response("no", { status: 426 });
    const { socket, response } = Deno.upgradeWebSocket(request);
    socket.onmessage = (event) => socket.send(`${name}: ${event.data}`);
    return response;
  });
}

/** Opens a WebSocket and resolves once it is open; messages are collected. */
async function connect(url: string) {
  const socket = new WebSocket(url);
  const received: string[] = [];
  socket.onmessage = (event) => received.push(String(event.data));
  const closed = new Promise<void>((resolve) => socket.onclose = () => resolve());
  await new Promise<void>((resolve, reject) => {
    socket.onopen = () => resolve();
    socket.onerror = (event) =>
      reject(new Error(`websocket failed: ${(event as ErrorEvent).message}`));
  });
  return { socket, received, closed };
}

test("websocket through the socket front: routed by key, frames both ways, in flight until closed", async () => {
  const replicas = [echoReplica("a"), echoReplica("b"), echoReplica("c")];
  const backends = replicas.map((r, i) => `${"abc"[i]}=http://127.0.0.1:${r.addr.port}`).join(",");
  const parsed = parseConfig(["--provider", "static", "--backends", backends], {});
  if (parsed.help) throw new Error("unreachable");
  const provider = new StaticProvider(parsed.config.provider.backends);
  const balancer = createBalancer(parsed.config, { provider, logger: silentLogger });
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const front = balancer.socketFront(listener);
  const serving = front.serve();
  try {
    await balancer.start();
    await waitFor(() => balancer.manager.serving === 3, "three backends serving");
    // (The route's targets are the manager's long-lived Replica objects.)
    const owner = balancer.manager.route("chat-7", 1)[0] as Replica;
    const ws = await connect(`ws://127.0.0.1:${listener.addr.port}/ws?id=chat-7`);
    assert.equal(owner.inFlight, 1, "the tunnel is in flight at its replica");
    ws.socket.send("hello");
    ws.socket.send("again");
    await waitFor(() => ws.received.length === 2, "two echoes");
    assert.deepEqual(ws.received, [`${owner.name}: hello`, `${owner.name}: again`]);
    ws.socket.close();
    await ws.closed;
    await waitFor(() => owner.inFlight === 0, "out of flight once closed");
    // A plain request on the same front still works.
    const res = await fetch(`http://127.0.0.1:${listener.addr.port}/ws?id=chat-7`);
    assert.equal(res.status, 426);
    await res.body?.cancel();
  } finally {
    await front.shutdown();
    await serving;
    await balancer.close();
    await Promise.all(replicas.map((r) => r.shutdown()));
  }
});
