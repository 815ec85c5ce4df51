import assert from "node:assert/strict";
import { type BalancerConfig, ConfigError, parseConfig } from "./config.ts";

function config(args: string[], env: Record<string, string> = {}): BalancerConfig {
  const parsed = parseConfig(args, env);
  if (parsed.help) throw new Error("expected a config");
  return parsed.config;
}

function rejects(args: string[], message: string, env: Record<string, string> = {}) {
  assert.throws(() => parseConfig(args, env), (error: unknown) => {
    assert.ok(error instanceof ConfigError, String(error));
    assert.equal(error.message, message);
    return true;
  });
}

Deno.test("defaults: port 5000, 3 replicas named like the spec, heartbeats 500/300 ms, 2 strikes", () => {
  const c = config([]);
  assert.equal(c.port, 5000);
  assert.equal(c.host, "0.0.0.0");
  assert.equal(c.replicas, 3);
  assert.deepEqual(c.names, ["Server 1", "Server 2", "Server 3"]);
  assert.equal(c.heartbeatIntervalMs, 500);
  assert.equal(c.heartbeatTimeoutMs, 300);
  assert.equal(c.failThreshold, 2);
  assert.equal(c.maxReplicas, 50);
  assert.equal(c.provider, "process");
  assert.equal(c.keyParam, "id");
  assert.equal(c.keyHeader, "x-request-id");
});

Deno.test("flags win over LB_* environment variables, which win over defaults", () => {
  const env = { LB_PORT: "6000", LB_REPLICAS: "4", LB_HEARTBEAT_INTERVAL_MS: "250" };
  const c = config(["--port", "7000"], env);
  assert.equal(c.port, 7000);
  assert.equal(c.replicas, 4);
  assert.equal(c.heartbeatIntervalMs, 250);
  assert.deepEqual(c.names, ["Server 1", "Server 2", "Server 3", "Server 4"]);
});

Deno.test("--names fills the first hostnames; the rest are Server <i>", () => {
  assert.deepEqual(config(["--names", "S5, Server 2", "--replicas", "3"]).names, [
    "S5",
    "Server 2",
    "Server 1",
  ]);
});

Deno.test("--help is a request for help", () => {
  assert.deepEqual(parseConfig(["--help"], {}), { help: true });
  assert.deepEqual(parseConfig(["-h"], {}), { help: true });
});

Deno.test("bad values are one-line ConfigErrors naming the setting", () => {
  rejects(["--port", "http"], "--port must be a port number (0-65535), got 'http'");
  rejects([], "LB_PORT must be a port number (0-65535), got '99999'", { LB_PORT: "99999" });
  rejects(["--replicas=-1"], "--replicas must be an integer from 0 to 1000, got '-1'");
  rejects(
    ["--heartbeat-interval", "fast"],
    "--heartbeat-interval must be an integer from 10 to 600000 ms, got 'fast'",
  );
  rejects(
    ["--max-replicas", "100"],
    "--max-replicas (100) must not exceed what --ring spec holds (56)",
  );
  rejects(
    ["--replicas", "9", "--max-replicas", "5"],
    "--replicas (9) must not exceed --max-replicas (5)",
  );
  rejects(["--probing", "cubic"], "--probing must be one of linear, quadratic, got 'cubic'");
  rejects(["--provider", "k8s"], "--provider must be one of process, docker, static, got 'k8s'");
  rejects(["--names", "A,B,C,D"], "--names lists 4 hostnames for 3 replicas");
  rejects(["--names", "A,A"], "--names lists a hostname twice");
  rejects(["--nope"], "Unknown option '--nope' (see --help)");
  rejects(
    ["extra"],
    "Unexpected argument 'extra'. This command does not take positional arguments (see --help)",
  );
});

Deno.test("ring options: --ring, --slot-hash, --vnodes, --ring-size, --bounded-load", () => {
  assert.deepEqual(config([]).ring, { algorithm: "spec", slotHash: "spec", probing: "linear" });
  const c = config(["--ring", "maglev", "--ring-size", "1009", "--bounded-load", "0.5"]);
  assert.equal(c.ring.algorithm, "maglev");
  assert.equal(c.ring.size, 1009);
  assert.equal(c.ring.boundedLoad, 0.5);
  assert.equal(config([], { LB_RING: "ketama", LB_VNODES: "200" }).ring.vnodes, 200);
  assert.equal(config(["--ring", "rendezvous", "--max-replicas", "500"]).maxReplicas, 500);
  // A spec ring of 64 slots (K = log2 64 = 6) holds 10 replicas: the default cap follows.
  assert.equal(config(["--ring-size", "64", "--replicas", "2"]).maxReplicas, 10);
  rejects(
    ["--ring", "chord"],
    "--ring must be one of spec, ketama, maglev, rendezvous, got 'chord'",
  );
  rejects(["--slot-hash", "md5"], "--slot-hash must be one of spec, fnv, xxhash, got 'md5'");
  rejects(["--vnodes=-3"], "--vnodes must be 'auto' or a positive integer, got '-3'");
  rejects(
    ["--ring", "maglev", "--ring-size", "1000"],
    "--ring-size must be a prime up to 16777216, got 1000 (--ring maglev)",
  );
  // A Maglev table wants 100 entries per replica at least: 257 holds 2.
  rejects(
    ["--ring", "maglev", "--ring-size", "257"],
    "--replicas (3) must not exceed what --ring maglev holds (2)",
  );
  // 10⁵ points per replica: 100 replicas fill ketama's 10⁷-point budget.
  rejects(
    ["--ring", "ketama", "--vnodes", "100000", "--max-replicas", "200"],
    "--max-replicas (200) must not exceed what --ring ketama holds (100)",
  );
  rejects(
    ["--ring", "rendezvous", "--vnodes", "5"],
    "--vnodes does not apply to --ring rendezvous",
  );
  rejects(
    ["--ring", "ketama", "--slot-hash", "fnv"],
    "--slot-hash does not apply to --ring ketama",
  );
  rejects([], "LB_RING_SIZE does not apply to --ring ketama", {
    LB_RING: "ketama",
    LB_RING_SIZE: "7",
  });
  rejects(
    ["--replicas", "5"],
    "LB_MAX_REPLICAS (100) must not exceed what --ring spec holds (56)",
    { LB_MAX_REPLICAS: "100" },
  );
  assert.equal(config(["--bounded-load", "on"]).ring.boundedLoad, 0.25);
  rejects(
    ["--bounded-load", "0"],
    "--bounded-load must be 'off', 'on' (0.25) or a number above 0, up to 100, got '0'",
  );
  rejects(
    [],
    "LB_BOUNDED_LOAD must be 'off', 'on' (0.25) or a number above 0, up to 100, got 'lots'",
    { LB_BOUNDED_LOAD: "lots" },
  );
});
