import assert from "node:assert/strict";
import { ConfigError, LISTENING_LINE, parsePort } from "../contract/mod.ts";
import { parseServerEnv } from "./config.ts";

Deno.test("defaults: port 5000 on all interfaces, no faults", () => {
  assert.deepEqual(parseServerEnv({}), {
    port: 5000,
    host: "0.0.0.0",
    id: "unnamed",
    heartbeatFail: false,
    delayMs: 0,
    faultSignals: false,
    exitOnStdinEof: false,
  });
});

Deno.test("reads SERVER_ID, PORT and the fault hooks", () => {
  const config = parseServerEnv({
    SERVER_ID: "Server 2",
    PORT: "0",
    HOST: "127.0.0.1",
    FAULT_HEARTBEAT_FAIL: "1",
    FAULT_DELAY_MS: "250",
    FAULT_SIGNALS: "true",
    EXIT_ON_STDIN_EOF: "1",
  });
  assert.equal(config.id, "Server 2");
  assert.equal(config.port, 0);
  assert.equal(config.heartbeatFail, true);
  assert.equal(config.delayMs, 250);
  assert.equal(config.faultSignals, true);
  assert.equal(config.exitOnStdinEof, true);
});

Deno.test("a PORT that is not a port number is a clear ConfigError", () => {
  for (const bad of ["abc", "-1", "65536", "80.5", "", "5000x", "1e3"]) {
    assert.throws(() => parseServerEnv({ PORT: bad }), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.message, `PORT must be a port number (0-65535), got '${bad}'`);
      return true;
    });
  }
  assert.equal(parsePort("65535", "PORT"), 65535);
});

Deno.test("bad fault values are ConfigErrors", () => {
  assert.throws(() => parseServerEnv({ FAULT_DELAY_MS: "soon" }), ConfigError);
  assert.throws(() => parseServerEnv({ FAULT_HEARTBEAT_FAIL: "yes" }), ConfigError);
});

Deno.test("LISTENING_LINE finds the port in the start-up line", () => {
  const line = 'server "S1" listening on http://127.0.0.1:41234/';
  assert.equal(line.match(LISTENING_LINE)?.[1], "41234");
});
