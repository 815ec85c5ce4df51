import assert from "node:assert/strict";
import { serveProbe } from "./relay_probe.ts";

Deno.test("relay probe: keep-alive requests go to backend id % n, answers relayed whole", async () => {
  const backends = [0, 1].map((i) =>
    Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      () => Response.json({ backend: i }),
    )
  );
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = serveProbe(listener, backends.map((b) => b.addr.port));
  const client = Deno.createHttpClient({});
  try {
    for (const id of [4, 7, 10]) {
      const res = await fetch(`http://127.0.0.1:${listener.addr.port}/home?id=${id}`, { client });
      assert.deepEqual(await res.json(), { backend: id % 2 });
    }
  } finally {
    client.close();
    listener.close();
    await serving.catch(() => {});
    for (const b of backends) await b.shutdown();
  }
});
