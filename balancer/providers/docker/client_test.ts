import assert from "node:assert/strict";
import {
  compareVersions,
  DockerClient,
  DockerError,
  DockerUnavailableError,
  negotiateVersion,
  socketFromDockerHost,
} from "./client.ts";

Deno.test("API version: the engine's when we know it, ours when the engine is newer", () => {
  assert.equal(negotiateVersion("1.41"), "1.41"); // Docker 20.10
  assert.equal(negotiateVersion("1.47"), "1.47");
  assert.equal(negotiateVersion("1.53", "1.44"), "1.51"); // newer engine: our newest
  assert.throws(
    () => negotiateVersion("1.40"),
    /1\.40 is too old: 1\.41 \(Docker 20\.10\) or newer/,
  );
  assert.ok(compareVersions("1.9", "1.10") < 0);
});

Deno.test("DOCKER_HOST: unix sockets only, default /var/run/docker.sock", () => {
  assert.equal(socketFromDockerHost(undefined), "/var/run/docker.sock");
  assert.equal(socketFromDockerHost("unix:///tmp/d.sock"), "/tmp/d.sock");
  assert.throws(() => socketFromDockerHost("tcp://1.2.3.4:2375"), DockerUnavailableError);
});

Deno.test("no engine at the socket: a one-line hint", async () => {
  const client = new DockerClient({ socket: "/tmp/ringlb-no-such.sock" });
  try {
    await assert.rejects(client.ping(), (error: unknown) => {
      assert.ok(error instanceof DockerUnavailableError);
      assert.equal(
        error.message,
        "Docker engine not reachable at /tmp/ringlb-no-such.sock (no such socket): " +
          "start dockerd, or run with --provider=process",
      );
      return true;
    });
  } finally {
    client.close();
  }
});

Deno.test("a fake engine: version negotiated once, engine errors typed with the engine's message", async () => {
  const socket = await Deno.makeTempFile({ suffix: ".sock" });
  await Deno.remove(socket);
  const seen: string[] = [];
  const engine = Deno.serve({ path: socket, transport: "unix", onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    seen.push(`${req.method} ${path}`);
    if (path === "/version") {
      return Response.json({ Version: "29.0.0", ApiVersion: "1.52", MinAPIVersion: "1.44" });
    }
    if (path === "/v1.51/containers/create") {
      return Response.json({ message: 'Conflict. The container name "/S5" is already in use' }, {
        status: 409,
      });
    }
    if (path === "/v1.51/containers/nope/json") {
      return Response.json({ message: "No such container: nope" }, { status: 404 });
    }
    return new Response("not json", { status: 500 });
  });
  const client = new DockerClient({ socket });
  try {
    await assert.rejects(client.createContainer("S5", { Image: "x" }), (e: unknown) => {
      assert.ok(e instanceof DockerError);
      assert.equal(e.status, 409);
      assert.equal(e.message, 'Conflict. The container name "/S5" is already in use');
      return true;
    });
    await assert.rejects(client.inspectContainer("nope"), /^DockerError: No such container: nope$/);
    await assert.rejects(
      client.startContainer("x"),
      (e: unknown) => e instanceof DockerError && e.message === "not json",
    );
    assert.equal(seen.filter((s) => s === "GET /version").length, 1, "version asked once");
  } finally {
    client.close();
    await engine.shutdown();
    await Deno.remove(socket).catch(() => {});
  }
});
