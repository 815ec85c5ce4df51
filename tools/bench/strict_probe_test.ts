import assert from "node:assert/strict";
import { serveStrictProbe } from "./strict_probe.ts";

/** Two backends that answer with what they were sent; the probe in front of them. */
async function withProbe(run: (port: number) => Promise<void>): Promise<void> {
  const backends = [0, 1].map((i) =>
    Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (request) =>
        Response.json({ backend: i, headers: Object.fromEntries(request.headers) }, {
          headers: { connection: "keep-alive", "keep-alive": "timeout=5", "x-kept": "yes" },
        }),
    )
  );
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = serveStrictProbe(listener, backends.map((b) => b.addr.port));
  try {
    await run(listener.addr.port);
  } finally {
    listener.close();
    await serving.catch(() => {});
    for (const b of backends) await b.shutdown();
  }
}

Deno.test("strict probe: backend id % n, forwarded fields set, hop-by-hop fields dropped both ways", async () => {
  await withProbe(async (port) => {
    const client = Deno.createHttpClient({});
    try {
      for (const id of [4, 7]) {
        const res = await fetch(`http://127.0.0.1:${port}/home?id=${id}`, {
          client,
          headers: { "x-forwarded-for": "10.0.0.1", "x-end": "1", "keep-alive": "timeout=1" },
        });
        const body = await res.json();
        assert.equal(body.backend, id % 2);
        assert.equal(body.headers["x-forwarded-for"], "10.0.0.1, 127.0.0.1");
        assert.equal(body.headers["x-forwarded-proto"], "http");
        assert.equal(body.headers["x-forwarded-host"], `127.0.0.1:${port}`);
        assert.equal(body.headers["via"], "1.1 ringlb");
        assert.equal(body.headers["x-end"], "1");
        assert.equal(body.headers["keep-alive"], undefined);
        assert.equal(res.headers.get("x-kept"), "yes");
        assert.equal(res.headers.get("keep-alive"), null);
        assert.equal(res.headers.get("via"), "1.1 ringlb");
      }
    } finally {
      client.close();
    }
  });
});

Deno.test("strict probe: a malformed head is refused, as ringlb's parser refuses it", async () => {
  await withProbe(async (port) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await conn.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: a\r\nbad header\r\n\r\n"));
      const buf = new Uint8Array(1024);
      const n = await conn.read(buf);
      assert.match(new TextDecoder().decode(buf.subarray(0, n ?? 0)), /^HTTP\/1\.1 400 /);
    } finally {
      conn.close();
    }
  });
});
