import assert from "node:assert/strict";
import {
  adminExposure,
  type BalancerConfig,
  ConfigError,
  parseConfig,
  settingsTable,
} from "./config.ts";

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

Deno.test("defaults: every setting's default, grouped by the component that gets it", () => {
  assert.deepEqual(config([]), {
    listen: {
      port: 5000,
      host: "0.0.0.0",
      workers: 1,
      front: "socket",
      headerTimeoutMs: 10_000,
      keepAliveTimeoutMs: 75_000,
      maxConnections: 20_000,
      tlsCert: "",
      tlsKey: "",
    },
    cluster: {
      replicas: 3,
      names: ["Server 1", "Server 2", "Server 3"],
      maxReplicas: 50,
      startTimeoutMs: 10_000,
      drainTimeoutMs: 10_000,
      spares: 0,
      replicaId: "number",
      balance: "hash",
      slowStartMs: 0,
      keepReplicas: false,
    },
    health: { intervalMs: 500, timeoutMs: 300, failThreshold: 2 },
    outliers: { errors: 5, coolDownMs: 10_000, maxEjectionPercent: 50 },
    proxy: {
      responseTimeoutMs: 15_000,
      retryBodyBytes: 65_536,
      maxInFlight: 10_000,
      requestDeadlineMs: 30_000,
      bodyTimeoutMs: 15_000,
      retryBudget: 0.2,
      keyParam: "id",
      keyHeader: "x-request-id",
    },
    admin: { maxBodyBytes: 65_536, token: "", listen: undefined, ratePerSecond: 10 },
    ring: { algorithm: "spec", slotHash: "spec", probing: "linear" },
    provider: {
      kind: "process",
      backends: [],
      docker: {
        image: "ringlb:latest",
        network: "net1",
        owner: "ringlb",
        reach: "auto",
        shared: false,
      },
      endpointMode: "dnsrr",
    },
    logLevel: "info",
    logFormat: "text",
    accessLog: false,
  });
});

Deno.test("flags win over LB_* environment variables, which win over defaults", () => {
  const env = { LB_PORT: "6000", LB_REPLICAS: "4", LB_HEARTBEAT_INTERVAL_MS: "250" };
  const c = config(["--port", "7000"], env);
  assert.equal(c.listen.port, 7000);
  assert.equal(c.cluster.replicas, 4);
  assert.equal(c.health.intervalMs, 250);
  assert.deepEqual(c.cluster.names, ["Server 1", "Server 2", "Server 3", "Server 4"]);
});

Deno.test("--names fills the first hostnames; the rest are Server <i>", () => {
  assert.deepEqual(config(["--names", "S5, Server 2", "--replicas", "3"]).cluster.names, [
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
  rejects(["--tls-cert", "c.pem"], "--tls-cert and --tls-key go together: give both or neither");
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
  rejects(
    ["--swarm-endpoint-mode", "ip"],
    "--swarm-endpoint-mode must be one of dnsrr, vip, got 'ip'",
  );
  rejects(
    ["--provider", "swarm", "--spares", "1"],
    "--spares does not go with --provider swarm: the swarm restarts a failed task itself",
  );
  rejects(
    ["--provider", "swarm", "--docker-reach", "address"],
    "--docker-reach address does not go with --provider swarm: replicas are reached by " +
      "service name on the overlay network",
  );
  rejects(
    ["--provider", "k8s"],
    "--provider must be one of process, docker, swarm, static, got 'k8s'",
  );
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
  assert.equal(config(["--ring", "rendezvous", "--max-replicas", "500"]).cluster.maxReplicas, 500);
  // A spec ring of 64 slots (K = log2 64 = 6) holds 10 replicas: the default cap follows.
  assert.equal(config(["--ring-size", "64", "--replicas", "2"]).cluster.maxReplicas, 10);
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

Deno.test("every setting lands in the group its table row says (docs/configuration.md's 'goes to')", () => {
  // A value other than the default for each flag (and what it needs besides).
  const values: Record<string, string[]> = {
    port: ["6000"],
    host: ["127.0.0.1"],
    front: ["serve"],
    "header-timeout": ["2000"],
    "keepalive-timeout": ["2000"],
    "max-connections": ["10"],
    "tls-cert": ["c2.pem", "--tls-cert", "c.pem", "--tls-key", "k.pem"],
    "tls-key": ["k2.pem", "--tls-cert", "c.pem", "--tls-key", "k.pem"],
    replicas: ["2"],
    names: ["A"],
    "max-replicas": ["20"],
    "heartbeat-interval": ["100"],
    "heartbeat-timeout": ["100"],
    "fail-threshold": ["3"],
    "start-timeout": ["2000"],
    "response-timeout": ["2000"],
    "retry-body-limit": ["10"],
    "max-admin-body": ["1000"],
    "admin-token": ["0123456789abcdef"],
    "admin-listen": ["127.0.0.1:5001"],
    "admin-rate-limit": ["3"],
    "max-in-flight": ["10"],
    "request-deadline": ["2000"],
    "body-timeout": ["2000"],
    "outlier-errors": ["2"],
    "outlier-cooldown": ["2000"],
    "max-ejection-percent": ["20"],
    "retry-budget": ["0.5"],
    "drain-timeout": ["2000"],
    "key-param": ["key"],
    "key-header": ["x-key"],
    ring: ["maglev"],
    "slot-hash": ["fnv"],
    probing: ["quadratic"],
    vnodes: ["5"],
    "ring-size": ["1024"],
    "bounded-load": ["on"],
    balance: ["p2c-ewma"],
    "slow-start": ["5000", "--bounded-load", "on"],
    provider: ["docker"],
    backends: ["http://127.0.0.1:2", "--provider", "static", "--backends", "http://127.0.0.1:1"],
    workers: ["2", "--provider", "static", "--backends", "http://127.0.0.1:1"],
    spares: ["2"],
    "replica-id": ["name"],
    "docker-image": ["other"],
    "docker-network": ["other"],
    "docker-owner": ["other"],
    "docker-reach": ["name"],
    "docker-shared": ["true", "--provider", "docker"],
    "swarm-endpoint-mode": ["vip"],
    "keep-replicas": ["true"],
    "log-level": ["warn"],
    "log-format": ["json"],
    "access-log": ["true"],
  };
  // Settings that, by design, also set part of another group.
  const derived: Record<string, keyof BalancerConfig> = {
    provider: "cluster", // --spares auto: 1 with docker; --keep-replicas auto: true with swarm
    backends: "cluster", // the backends are the replicas
    "docker-shared": "cluster", // --keep-replicas auto: true with shared replicas
  };
  const rows = settingsTable().split("\n").slice(2).map((row) =>
    row.split("|").map((c) => c.trim())
  );
  assert.equal(rows.length, Object.keys(values).length, "a value for every setting");
  for (const [, flagCell, , , toCell] of rows) {
    const flag = flagCell.slice(3, -1); // `--flag`
    const to = toCell.slice(1, -1) as keyof BalancerConfig;
    const [value, ...also] = values[flag];
    const base = config(also);
    const changed = config([...also, `--${flag}`, value]);
    assert.notDeepEqual(changed[to], base[to], `--${flag} changes ${to}`);
    for (const group of Object.keys(base) as (keyof BalancerConfig)[]) {
      if (group !== to && group !== derived[flag]) {
        assert.deepEqual(changed[group], base[group], `--${flag} leaves ${group}`);
      }
    }
  }
});

Deno.test("admin settings: token, listener and rate limit are checked; the exposure warning", () => {
  const c = config([
    "--admin-token",
    "s3cret-s3cret-s3cret",
    "--admin-listen",
    "[::1]:5001",
    "--admin-rate-limit",
    "5",
  ]);
  assert.deepEqual(c.admin, {
    maxBodyBytes: 65_536,
    token: "s3cret-s3cret-s3cret",
    listen: { host: "::1", port: 5001 },
    ratePerSecond: 5,
  });
  assert.equal(
    config([], { LB_ADMIN_TOKEN: "from-the-environment" }).admin.token,
    "from-the-environment",
  );
  rejects(
    ["--admin-token", "short"],
    "--admin-token must be 16 to 256 visible ASCII characters (no spaces), got 5 characters",
  );
  rejects(
    ["--admin-token", "sixteen chars or more"],
    "--admin-token must be 16 to 256 visible ASCII characters (no spaces), got 21 characters",
  );
  rejects(
    ["--admin-listen", "5001"],
    "--admin-listen must be HOST:PORT, e.g. 127.0.0.1:5001, got '5001'",
  );
  rejects(
    ["--admin-listen", "localhost:99999"],
    "--admin-listen must be a port number (0-65535), got '99999'",
  );
  rejects(
    ["--admin-rate-limit", "0"],
    "--admin-rate-limit must be an integer from 1 to 10000, got '0'",
  );

  // Warned about: an admin API any host can reach, with no token.
  const exposure = (args: string[]) => adminExposure(config(args));
  assert.match(exposure([]) ?? "", /listens on 0\.0\.0\.0 with no --admin-token/);
  assert.match(exposure(["--host", "10.0.0.5"]) ?? "", /listens on 10\.0\.0\.5/);
  assert.equal(exposure(["--host", "127.0.0.1"]), undefined);
  assert.equal(exposure(["--host", "::1"]), undefined);
  assert.equal(exposure(["--admin-token", "0123456789abcdef"]), undefined);
  assert.equal(
    exposure(["--admin-listen", "127.0.0.2:5001"]),
    undefined,
    "the admin port is loopback",
  );
  assert.match(
    exposure(["--host", "127.0.0.1", "--admin-listen", "0.0.0.0:5001"]) ?? "",
    /listens on 0\.0\.0\.0/,
  );
});

Deno.test("--provider swarm: replicas outlive the balancer unless told otherwise, no spares", () => {
  const swarm = config(["--provider", "swarm"]);
  assert.equal(swarm.cluster.keepReplicas, true, "other balancers share the services");
  assert.equal(swarm.cluster.spares, 0);
  assert.equal(
    config(["--provider", "swarm", "--keep-replicas", "false"]).cluster.keepReplicas,
    false,
  );
  assert.equal(config(["--provider", "docker"]).cluster.keepReplicas, false);
  const shared = config(["--provider", "docker", "--docker-shared", "true"]);
  assert.equal(shared.cluster.keepReplicas, true);
  assert.equal(shared.provider.docker.shared, true);
  assert.throws(
    () => config(["--docker-shared", "true"]),
    /--docker-shared needs --provider docker/,
  );
  assert.equal(
    config(["--provider", "swarm", "--swarm-endpoint-mode", "vip"]).provider.endpointMode,
    "vip",
  );
});

Deno.test("--backends weights: parsed, and refused with the spec ring, which ignores them", () => {
  const c = config([
    "--provider",
    "static",
    "--ring",
    "maglev",
    "--backends",
    "a=http://127.0.0.1:1;weight=2",
  ]);
  assert.deepEqual(c.provider.backends, [{ name: "a", url: "http://127.0.0.1:1", weight: 2 }]);
  assert.throws(
    () => config(["--provider", "static", "--backends", "a=http://127.0.0.1:1;weight=2"]),
    {
      message: "--backends: weights need --ring ketama, maglev or rendezvous " +
        "(the spec ring places every server alike)",
    },
  );
});

Deno.test("--balance: one of the policies; the load-aware ones without --bounded-load or workers", () => {
  assert.equal(config(["--balance", "least-request"]).cluster.balance, "least-request");
  assert.throws(() => config(["--balance", "random"]), {
    message: "--balance must be one of hash, p2c-ewma, least-request, got 'random'",
  });
  assert.throws(() => config(["--balance", "p2c-ewma", "--bounded-load", "on"]), {
    message: "--bounded-load goes with --balance hash: --balance p2c-ewma spreads by load already",
  });
  // With workers, each process balances by the load it sees itself.
  const withWorkers = config([
    "--balance",
    "least-request",
    "--workers",
    "2",
    "--provider",
    "static",
    "--backends",
    "http://127.0.0.1:1",
  ]);
  assert.deepEqual([withWorkers.cluster.balance, withWorkers.listen.workers], ["least-request", 2]);
});

Deno.test("--slow-start: with a load-aware policy or bounded loads, not with a plain hash ring", () => {
  assert.equal(
    config(["--slow-start", "5000", "--balance", "least-request"]).cluster.slowStartMs,
    5000,
  );
  assert.throws(
    () => config(["--slow-start", "5000"]),
    /--slow-start needs a way to hold a new replica back/,
  );
  assert.throws(
    () => config(["--slow-start", "soon", "--bounded-load", "on"]),
    /--slow-start must be an integer/,
  );
  // With workers too: each ramps a member up from when it began routing to it.
  const workers = config([
    ...["--slow-start", "5000", "--balance", "p2c-ewma", "--workers", "2"],
    ...["--provider", "static", "--backends", "http://127.0.0.1:1"],
  ]);
  assert.deepEqual([workers.cluster.slowStartMs, workers.listen.workers], [5000, 2]);
});
