import assert from "node:assert/strict";
import { COUNTS_PATH, fetchCounts, serveListen, serveServe, summarize } from "./fairness.ts";

Deno.test("fairness: the spread of counts, and the starved ones (under a tenth of the mean)", () => {
  assert.deepEqual(summarize([5, 5, 5, 5]), {
    connections: 4,
    min: 5,
    p10: 5,
    p50: 5,
    p90: 5,
    max: 5,
    starved: 0,
  });
  // Mean 31.2: the eight served once or never are starved; the one served 10 times is not.
  const spread = summarize([1, 300, 1, 10, ...Array(6).fill(0)]);
  assert.equal(spread.starved, 8);
  assert.equal(spread.max, 300);
  assert.equal(spread.p50, 0);
  assert.throws(() => summarize([]), /no connections/);
});

/** `n` keep-alive requests on one connection, each answer read whole before the next. */
async function requests(port: number, n: number): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const buf = new Uint8Array(1024);
  try {
    for (let i = 0; i < n; i++) {
      await conn.write(new TextEncoder().encode("GET /x HTTP/1.1\r\nhost: t\r\n\r\n"));
      let text = "";
      while (!text.endsWith("\r\n\r\nok")) {
        const got = await conn.read(buf);
        if (got === null) throw new Error("closed before the answer");
        text += new TextDecoder().decode(buf.subarray(0, got));
      }
    }
  } finally {
    conn.close();
  }
}

Deno.test("fairness: both servers count each connection's requests, and only those", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const counts: number[] = [];
  const listening = serveListen(listener, 0, counts);
  const served = serveServe(0, 0);
  try {
    for (const port of [listener.addr.port, (served.addr as Deno.NetAddr).port]) {
      // A connection that sends nothing (a readiness check) is not counted.
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      await Promise.all([requests(port, 3), requests(port, 5), requests(port, 1)]);
      const url = `http://127.0.0.1:${port}`;
      assert.deepEqual((await fetchCounts(url, 3)).sort(), [1, 3, 5]);
      // (Asking again does not count the asking connections.)
      assert.deepEqual((await fetchCounts(url, 3)).sort(), [1, 3, 5]);
    }
    assert.equal(COUNTS_PATH, "/counts");
  } finally {
    listener.close();
    await listening.catch(() => {});
    await served.shutdown();
  }
});

Deno.test("fairness: bad flags give a one-line error and exit 1, before anything starts", async () => {
  for (
    const [args, message] of [
      [["--connections", "0"], '--connections must be an integer from 1 to 10000, not "0"'],
      [["--seconds", "2.5"], '--seconds must be an integer from 1 to 600, not "2.5"'],
      [["--busy-us", ""], '--busy-us must be an integer from 0 to 100000, not ""'],
      [["--serve", "nginx", "--port", "1"], "--serve is listen or serve"],
    ]
  ) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-q", "-A", new URL("fairness.ts", import.meta.url).pathname, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr).trim();
    assert.equal(out.code, 1, stderr);
    assert.equal(stderr, `fairness: ${message}`);
  }
});
