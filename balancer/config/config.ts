/**
 * The balancer's configuration: flags, then `LB_*` environment variables, then defaults.
 * Every value is checked at start; a bad one is a one-line {@linkcode ConfigError}.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  createRing,
  DEFAULT_BALANCE_FACTOR,
  KETAMA_DEFAULT_POINTS,
  MAGLEV_DEFAULT_TABLE_SIZE,
  RING_ALGORITHMS,
  type RingConfig,
  SLOT_HASH_NAMES,
  SlotRing,
} from "../../ring/mod.ts";
import { ConfigError, parsePort } from "../../contract/mod.ts";
import { LOG_LEVELS, type LogLevel } from "../support/mod.ts";
import { parseBackends, type StaticBackend } from "../providers/mod.ts";

export { ConfigError };

/** Everything the balancer can be told. */
export interface BalancerConfig {
  /** Port clients connect to. */
  port: number;
  /** Interface to listen on. */
  host: string;
  /** Replicas to start with. */
  replicas: number;
  /** Their hostnames; missing ones are `Server <i>`. */
  names: string[];
  /** Most replicas at once (also the largest `n` of one `/add`). */
  maxReplicas: number;
  /** Heartbeat period, ms. */
  heartbeatIntervalMs: number;
  /** Heartbeat timeout, ms. */
  heartbeatTimeoutMs: number;
  /** Consecutive heartbeat failures that eject a replica. */
  failThreshold: number;
  /** A new replica must answer a heartbeat within this, ms. */
  startTimeoutMs: number;
  /** A replica must start answering a proxied request within this, ms. */
  responseTimeoutMs: number;
  /** Request bodies up to this many bytes are buffered so a failed try can be resent. */
  retryBodyBytes: number;
  /** Largest admin request body, bytes. */
  maxAdminBodyBytes: number;
  /** Requests in flight get this long on `/rm` and on shutdown, ms. */
  drainTimeoutMs: number;
  /** Requests answered at once at most; more get a 503. */
  maxInFlight: number;
  /** All tries of one request together get this long, ms. */
  requestDeadlineMs: number;
  /** A client silent this long while sending its request body gets a 408, ms. */
  bodyTimeoutMs: number;
  /** Retries allowed per request over a 10 s window (0..1; 1 = no cap). */
  retryBudget: number;
  /** Failed tries in a row that eject a replica as an outlier (0: off). */
  outlierErrors: number;
  /** How long an outlier stays out of the ring, ms. */
  outlierCoolDownMs: number;
  /** Most serving replicas out as outliers at once, percent. */
  maxEjectionPercent: number;
  /** Query parameter with the routing key. */
  keyParam: string;
  /** Header with the routing key. */
  keyHeader: string;
  /** The ring: algorithm, its options, bounded loads. */
  ring: RingConfig;
  /** What runs replicas (`static`: servers that already run, see `backends`). */
  provider: "process" | "docker" | "static";
  /** `--provider static`: the servers to route to; they are the replicas. */
  backends: StaticBackend[];
  /** Docker provider: image replicas run. */
  dockerImage: string;
  /** Docker provider: network replicas join. */
  dockerNetwork: string;
  /** Docker provider: owner label of this balancer's containers. */
  dockerOwner: string;
  /** Docker provider: reach replicas by container name or address (`auto`: name inside a container). */
  dockerReach: "auto" | "name" | "address";
  /** Leave replicas running on shutdown, for the next balancer to adopt (Docker). */
  keepReplicas: boolean;
  /** Warm spares kept started outside the ring, promoted when a replica fails. */
  spares: number;
  /** Lowest log level printed. */
  logLevel: LogLevel;
  /** Processes serving the port together (`reusePort`); more than 1 needs static backends. */
  workers: number;
}

/** Most replicas of any ring (the spec ring holds fewer: 56 with its defaults). */
const MAX_REPLICAS = 1000;

interface IntSpec {
  flag: string;
  env: string;
  fallback: number;
  min: number;
  max: number;
  unit?: string;
}

const INTS = {
  replicas: { flag: "replicas", env: "LB_REPLICAS", fallback: 3, min: 0, max: MAX_REPLICAS },
  maxReplicas: {
    flag: "max-replicas",
    env: "LB_MAX_REPLICAS",
    fallback: 50,
    min: 1,
    max: MAX_REPLICAS,
  },
  heartbeatIntervalMs: {
    flag: "heartbeat-interval",
    env: "LB_HEARTBEAT_INTERVAL_MS",
    fallback: 500,
    min: 10,
    max: 600_000,
    unit: "ms",
  },
  heartbeatTimeoutMs: {
    flag: "heartbeat-timeout",
    env: "LB_HEARTBEAT_TIMEOUT_MS",
    fallback: 300,
    min: 1,
    max: 600_000,
    unit: "ms",
  },
  failThreshold: {
    flag: "fail-threshold",
    env: "LB_FAIL_THRESHOLD",
    fallback: 2,
    min: 1,
    max: 100,
  },
  startTimeoutMs: {
    flag: "start-timeout",
    env: "LB_START_TIMEOUT_MS",
    fallback: 10_000,
    min: 100,
    max: 600_000,
    unit: "ms",
  },
  responseTimeoutMs: {
    flag: "response-timeout",
    env: "LB_RESPONSE_TIMEOUT_MS",
    fallback: 15_000,
    min: 1,
    max: 3_600_000,
    unit: "ms",
  },
  retryBodyBytes: {
    flag: "retry-body-limit",
    env: "LB_RETRY_BODY_BYTES",
    fallback: 65_536,
    min: 0,
    max: 64 * 1024 * 1024,
    unit: "bytes",
  },
  outlierErrors: {
    flag: "outlier-errors",
    env: "LB_OUTLIER_ERRORS",
    fallback: 5,
    min: 0,
    max: 1000,
  },
  outlierCoolDownMs: {
    flag: "outlier-cooldown",
    env: "LB_OUTLIER_COOLDOWN_MS",
    fallback: 10_000,
    min: 10,
    max: 3_600_000,
    unit: "ms",
  },
  maxEjectionPercent: {
    flag: "max-ejection-percent",
    env: "LB_MAX_EJECTION_PERCENT",
    fallback: 50,
    min: 0,
    max: 100,
  },
  requestDeadlineMs: {
    flag: "request-deadline",
    env: "LB_REQUEST_DEADLINE_MS",
    fallback: 30_000,
    min: 1,
    max: 3_600_000,
    unit: "ms",
  },
  bodyTimeoutMs: {
    flag: "body-timeout",
    env: "LB_BODY_TIMEOUT_MS",
    fallback: 15_000,
    min: 1,
    max: 3_600_000,
    unit: "ms",
  },
  maxInFlight: {
    flag: "max-in-flight",
    env: "LB_MAX_IN_FLIGHT",
    fallback: 10_000,
    min: 1,
    max: 1_000_000,
  },
  drainTimeoutMs: {
    flag: "drain-timeout",
    env: "LB_DRAIN_TIMEOUT_MS",
    fallback: 10_000,
    min: 0,
    max: 600_000,
    unit: "ms",
  },
  workers: {
    flag: "workers",
    env: "LB_WORKERS",
    fallback: 1,
    min: 1,
    max: 64,
  },
  maxAdminBodyBytes: {
    flag: "max-admin-body",
    env: "LB_MAX_ADMIN_BODY_BYTES",
    fallback: 65_536,
    min: 64,
    max: 64 * 1024 * 1024,
    unit: "bytes",
  },
} satisfies Record<string, IntSpec>;

const STRINGS = {
  port: { flag: "port", env: "LB_PORT", fallback: "5000" },
  host: { flag: "host", env: "LB_HOST", fallback: "0.0.0.0" },
  names: { flag: "names", env: "LB_NAMES", fallback: "" },
  keyParam: { flag: "key-param", env: "LB_KEY_PARAM", fallback: "id" },
  keyHeader: { flag: "key-header", env: "LB_KEY_HEADER", fallback: "x-request-id" },
  probing: { flag: "probing", env: "LB_PROBING", fallback: "linear" },
  ring: { flag: "ring", env: "LB_RING", fallback: "spec" },
  slotHash: { flag: "slot-hash", env: "LB_SLOT_HASH", fallback: "spec" },
  vnodes: { flag: "vnodes", env: "LB_VNODES", fallback: "auto" },
  ringSize: { flag: "ring-size", env: "LB_RING_SIZE", fallback: "auto" },
  boundedLoad: { flag: "bounded-load", env: "LB_BOUNDED_LOAD", fallback: "off" },
  provider: { flag: "provider", env: "LB_PROVIDER", fallback: "process" },
  backends: { flag: "backends", env: "LB_BACKENDS", fallback: "" },
  dockerImage: { flag: "docker-image", env: "LB_DOCKER_IMAGE", fallback: "ringlb:latest" },
  dockerNetwork: { flag: "docker-network", env: "LB_DOCKER_NETWORK", fallback: "net1" },
  dockerOwner: { flag: "docker-owner", env: "LB_DOCKER_OWNER", fallback: "ringlb" },
  dockerReach: { flag: "docker-reach", env: "LB_DOCKER_REACH", fallback: "auto" },
  keepReplicas: { flag: "keep-replicas", env: "LB_KEEP_REPLICAS", fallback: "false" },
  spares: { flag: "spares", env: "LB_SPARES", fallback: "auto" },
  retryBudget: { flag: "retry-budget", env: "LB_RETRY_BUDGET", fallback: "0.2" },
  logLevel: { flag: "log-level", env: "LB_LOG_LEVEL", fallback: "info" },
} as const;

/** `--help` text. */
export const HELP =
  `Usage: deno task start [options]     (or: deno run -P=balancer balancer/main.ts [options])

A consistent-hashing HTTP load balancer that keeps its replicas alive.
Every option can also be set by the environment variable in brackets; flags win.

  --port N                port clients connect to [LB_PORT] (5000)
  --host ADDR             interface to listen on [LB_HOST] (0.0.0.0)
  --replicas N            replicas to start with [LB_REPLICAS] (3)
  --names "A,B,…"         their hostnames [LB_NAMES] ("Server 1", "Server 2", …)
  --max-replicas N        most replicas at once (the spec ring holds 56) [LB_MAX_REPLICAS] (50)
  --heartbeat-interval MS heartbeat period [LB_HEARTBEAT_INTERVAL_MS] (500)
  --heartbeat-timeout MS  heartbeat timeout [LB_HEARTBEAT_TIMEOUT_MS] (300)
  --fail-threshold N      failed heartbeats in a row that eject a replica [LB_FAIL_THRESHOLD] (2)
  --start-timeout MS      a new replica must answer within [LB_START_TIMEOUT_MS] (10000)
  --response-timeout MS   a replica must start its answer within [LB_RESPONSE_TIMEOUT_MS] (15000)
  --retry-body-limit B    bodies up to B bytes may be resent to the next replica [LB_RETRY_BODY_BYTES] (65536)
  --max-admin-body B      largest /add or /rm body [LB_MAX_ADMIN_BODY_BYTES] (65536)
  --outlier-errors N      failed tries in a row that eject a replica for a while; 0: off [LB_OUTLIER_ERRORS] (5)
  --outlier-cooldown MS   how long an outlier stays out of the ring [LB_OUTLIER_COOLDOWN_MS] (10000)
  --max-ejection-percent P  most replicas out as outliers at once [LB_MAX_EJECTION_PERCENT] (50)
  --request-deadline MS   all tries of one request together, then 504 [LB_REQUEST_DEADLINE_MS] (30000)
  --body-timeout MS       a client silent this long mid-body gets a 408 [LB_BODY_TIMEOUT_MS] (15000)
  --max-in-flight N       requests answered at once; more get a 503 [LB_MAX_IN_FLIGHT] (10000)
  --retry-budget R        retries per request over 10 s, 0..1 (1: no cap) [LB_RETRY_BUDGET] (0.2)
  --drain-timeout MS      requests in flight get this long on /rm and shutdown [LB_DRAIN_TIMEOUT_MS] (10000)
  --key-param NAME        query parameter with the routing key [LB_KEY_PARAM] (id)
  --key-header NAME       header with the routing key [LB_KEY_HEADER] (x-request-id)
  --ring spec|ketama|maglev|rendezvous  the consistent-hash algorithm [LB_RING] (spec)
  --slot-hash spec|fnv|xxhash  spec ring: the H/Φ pair [LB_SLOT_HASH] (spec)
  --probing linear|quadratic  spec ring: slot collisions [LB_PROBING] (linear)
  --vnodes N|auto         spec ring: virtual nodes per replica (9); ketama: points per
                          unit of weight (1000) [LB_VNODES] (auto)
  --ring-size N|auto      spec ring: slots (512); maglev: table size, a prime (65537) [LB_RING_SIZE]
  --bounded-load E|on|off  no replica above (1+E) x the average requests in flight; on: 0.25
                          [LB_BOUNDED_LOAD] (off)
  --provider process|docker|static  what runs replicas [LB_PROVIDER] (process)
  --backends "URL,name=URL,…"  with --provider static: running servers to route to, health-
                          checked, never started or stopped [LB_BACKENDS]
  --docker-image IMAGE    image replicas run [LB_DOCKER_IMAGE] (ringlb:latest)
  --docker-network NAME   network replicas join, created if absent [LB_DOCKER_NETWORK] (net1)
  --docker-owner NAME     owner label of this balancer's containers [LB_DOCKER_OWNER] (ringlb)
  --docker-reach auto|name|address  reach replicas by name or IP [LB_DOCKER_REACH] (auto)
  --spares N|auto         warm spares promoted when a replica fails [LB_SPARES]
                          (auto: 1 with --provider docker, 0 with process)
  --keep-replicas true|false  leave replicas running on exit, to be adopted [LB_KEEP_REPLICAS] (false)
  --log-level debug|info|warn|error  [LB_LOG_LEVEL] (info)
  --workers N             processes sharing the port (reusePort, Linux); with --provider static
                          only; /add and /rm are then refused [LB_WORKERS] (1)
  -h, --help              this text
`;

/** Result of parsing: a config, or a request for help. */
export type ParsedArgs = { help: true } | { help: false; config: BalancerConfig };

function oneOf<T extends string>(value: string, allowed: readonly T[], what: string): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new ConfigError(`${what} must be one of ${allowed.join(", ")}, got '${value}'`);
}

/**
 * Parses command-line flags and `LB_*` environment variables into a checked config.
 * Throws {@linkcode ConfigError} with a one-line message on any bad value.
 */
export function parseConfig(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): ParsedArgs {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {
    help: { type: "boolean", short: "h" },
  };
  for (const spec of [...Object.values(INTS), ...Object.values(STRINGS)]) {
    options[spec.flag] = { type: "string" };
  }
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: [...args], options, strict: true, allowPositionals: false }));
  } catch (error) {
    const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new ConfigError(`${message} (see --help)`);
  }
  if (values.help) return { help: true };

  const raw = (spec: { flag: string; env: string; fallback: string }): [string, string] => {
    const flag = values[spec.flag];
    if (typeof flag === "string") return [flag, `--${spec.flag}`];
    const fromEnv = env[spec.env];
    if (fromEnv !== undefined && fromEnv !== "") return [fromEnv, spec.env];
    return [spec.fallback, `--${spec.flag}`];
  };
  const int = (spec: IntSpec): number => {
    const [text, what] = raw({ ...spec, fallback: String(spec.fallback) });
    const value = /^[0-9]{1,10}$/.test(text.trim()) ? Number(text) : Number.NaN;
    if (!(value >= spec.min && value <= spec.max)) {
      const unit = spec.unit ? ` ${spec.unit}` : "";
      throw new ConfigError(
        `${what} must be an integer from ${spec.min} to ${spec.max}${unit}, got '${text}'`,
      );
    }
    return value;
  };
  const str = (spec: { flag: string; env: string; fallback: string }) => raw(spec)[0];

  const [portText, portWhat] = raw(STRINGS.port);
  const config: BalancerConfig = {
    port: parsePort(portText, portWhat),
    host: str(STRINGS.host),
    replicas: int(INTS.replicas),
    names: [],
    maxReplicas: int(INTS.maxReplicas),
    heartbeatIntervalMs: int(INTS.heartbeatIntervalMs),
    heartbeatTimeoutMs: int(INTS.heartbeatTimeoutMs),
    failThreshold: int(INTS.failThreshold),
    startTimeoutMs: int(INTS.startTimeoutMs),
    responseTimeoutMs: int(INTS.responseTimeoutMs),
    retryBodyBytes: int(INTS.retryBodyBytes),
    maxAdminBodyBytes: int(INTS.maxAdminBodyBytes),
    drainTimeoutMs: int(INTS.drainTimeoutMs),
    maxInFlight: int(INTS.maxInFlight),
    requestDeadlineMs: int(INTS.requestDeadlineMs),
    bodyTimeoutMs: int(INTS.bodyTimeoutMs),
    outlierErrors: int(INTS.outlierErrors),
    outlierCoolDownMs: int(INTS.outlierCoolDownMs),
    maxEjectionPercent: int(INTS.maxEjectionPercent),
    retryBudget: 0,
    keyParam: str(STRINGS.keyParam),
    keyHeader: str(STRINGS.keyHeader).toLowerCase(),
    ring: parseRing(raw),
    provider: oneOf(str(STRINGS.provider), ["process", "docker", "static"], "--provider"),
    backends: [],
    dockerImage: str(STRINGS.dockerImage),
    dockerNetwork: str(STRINGS.dockerNetwork),
    dockerOwner: str(STRINGS.dockerOwner),
    dockerReach: oneOf(str(STRINGS.dockerReach), ["auto", "name", "address"], "--docker-reach"),
    keepReplicas: oneOf(str(STRINGS.keepReplicas), ["true", "false", "1", "0"], "--keep-replicas")
      .match(/true|1/) !== null,
    spares: 0,
    logLevel: oneOf(str(STRINGS.logLevel), LOG_LEVELS, "--log-level"),
    workers: int(INTS.workers),
  };
  if (config.workers > 1 && config.provider !== "static") {
    throw new ConfigError(
      `--workers ${config.workers} needs --provider static: each worker would start replicas of its own`,
    );
  }
  if (!config.host) throw new ConfigError(`--host must not be empty`);
  for (
    const [what, value] of [["--docker-network", config.dockerNetwork], [
      "--docker-owner",
      config.dockerOwner,
    ]]
  ) {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(value)) {
      throw new ConfigError(`${what} must be letters, digits, '_', '.' or '-', got '${value}'`);
    }
  }
  if (!config.dockerImage) throw new ConfigError(`--docker-image must not be empty`);
  if (!config.keyParam || !/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(config.keyHeader)) {
    throw new ConfigError(`--key-param and --key-header must be non-empty names`);
  }
  const capacity = ringCapacity(config.ring);
  const [, maxWhat] = raw({ ...INTS.maxReplicas, fallback: "" });
  const maxGiven = values["max-replicas"] !== undefined || Boolean(env.LB_MAX_REPLICAS);
  if (config.maxReplicas > capacity) {
    if (maxGiven) {
      throw new ConfigError(
        `${maxWhat} (${config.maxReplicas}) must not exceed what --ring ${config.ring.algorithm} ` +
          `holds (${capacity})`,
      );
    }
    config.maxReplicas = capacity;
  }
  if (config.replicas > config.maxReplicas) {
    const [, replicasWhat] = raw({ ...INTS.replicas, fallback: "" });
    const limit = maxGiven
      ? `${maxWhat} (${config.maxReplicas})`
      : `what --ring ${config.ring.algorithm} holds (${config.maxReplicas})`;
    throw new ConfigError(`${replicasWhat} (${config.replicas}) must not exceed ${limit}`);
  }
  const [budgetText, budgetWhat] = raw(STRINGS.retryBudget);
  config.retryBudget = /^(0(\.[0-9]+)?|1(\.0+)?|\.[0-9]+)$/.test(budgetText)
    ? Number(budgetText)
    : Number.NaN;
  if (Number.isNaN(config.retryBudget)) {
    throw new ConfigError(`${budgetWhat} must be a number from 0 to 1, got '${budgetText}'`);
  }
  const [sparesText, sparesWhat] = raw(STRINGS.spares);
  if (sparesText === "auto") config.spares = config.provider === "docker" ? 1 : 0;
  else if (/^[0-9]{1,2}$/.test(sparesText) && Number(sparesText) <= 10) {
    config.spares = Number(sparesText);
  } else {
    throw new ConfigError(
      `${sparesWhat} must be 'auto' or an integer from 0 to 10, got '${sparesText}'`,
    );
  }
  const [backendsText, backendsWhat] = raw(STRINGS.backends);
  if (config.provider === "static") {
    try {
      config.backends = parseBackends(backendsText);
    } catch (error) {
      throw new ConfigError(`${backendsWhat}: ${(error as Error).message}`);
    }
    if (config.backends.length === 0) {
      throw new ConfigError(`--provider static needs --backends (e.g. http://127.0.0.1:8081)`);
    }
    for (const [flag, envName] of [["replicas", "LB_REPLICAS"], ["names", "LB_NAMES"]]) {
      if (values[flag] !== undefined || env[envName]) {
        throw new ConfigError(
          `--${flag} does not go with --provider static: the backends are the replicas`,
        );
      }
    }
    if (config.spares > 0 && sparesText !== "auto") {
      throw new ConfigError(`--spares does not go with --provider static`);
    }
    config.replicas = config.backends.length;
    config.names = config.backends.map((b) => b.name);
    const capacity = ringCapacity(config.ring);
    if (config.replicas > capacity) {
      throw new ConfigError(
        `--backends lists ${config.replicas} servers; --ring ${config.ring.algorithm} holds ` +
          `${capacity}`,
      );
    }
    config.maxReplicas = Math.max(config.maxReplicas, config.replicas);
    return { help: false, config };
  }
  if (backendsText) {
    throw new ConfigError(`${backendsWhat} needs --provider static`);
  }
  const given = str(STRINGS.names).split(",").map((name) => name.trim()).filter(Boolean);
  if (given.length > config.replicas) {
    throw new ConfigError(
      `--names lists ${given.length} hostnames for ${config.replicas} replicas`,
    );
  }
  if (new Set(given).size !== given.length) {
    throw new ConfigError(`--names lists a hostname twice`);
  }
  const names = [...given];
  for (let i = 1; names.length < config.replicas; i++) {
    if (!names.includes(`Server ${i}`)) names.push(`Server ${i}`);
  }
  config.names = names;
  return { help: false, config };
}

type RawValue = (spec: { flag: string; env: string; fallback: string }) => [string, string];

/** `--ring` and its options; builds the ring once so every bad option is caught at start. */
function parseRing(raw: RawValue): RingConfig {
  const str = (spec: { flag: string; env: string; fallback: string }) => raw(spec)[0];
  const ring: RingConfig = {
    algorithm: oneOf(str(STRINGS.ring), RING_ALGORITHMS, "--ring"),
    slotHash: oneOf(str(STRINGS.slotHash), SLOT_HASH_NAMES, "--slot-hash"),
    probing: oneOf(str(STRINGS.probing), ["linear", "quadratic"] as const, "--probing"),
  };
  // Options only some rings have: given to another ring, they are a mistake worth a word.
  const applies = {
    vnodes: ["spec", "ketama"],
    size: ["spec", "maglev"],
    slotHash: ["spec"],
    probing: ["spec"],
  } as const;
  const names = {
    vnodes: STRINGS.vnodes,
    size: STRINGS.ringSize,
    slotHash: STRINGS.slotHash,
    probing: STRINGS.probing,
  };
  for (const [key, spec] of [["vnodes", STRINGS.vnodes], ["size", STRINGS.ringSize]] as const) {
    const [text, what] = raw(spec);
    if (text === "auto") continue;
    if (!/^[0-9]{1,8}$/.test(text) || Number(text) < 1) {
      throw new ConfigError(`${what} must be 'auto' or a positive integer, got '${text}'`);
    }
    ring[key] = Number(text);
  }
  for (const key of ["vnodes", "size", "slotHash", "probing"] as const) {
    const [text, what] = raw(names[key]);
    const allowed: readonly string[] = applies[key];
    if (text !== names[key].fallback && !allowed.includes(ring.algorithm)) {
      throw new ConfigError(`${what} does not apply to --ring ${ring.algorithm}`);
    }
  }
  const [boundText, boundWhat] = raw(STRINGS.boundedLoad);
  if (boundText === "on") ring.boundedLoad = DEFAULT_BALANCE_FACTOR;
  else if (boundText !== "off") {
    const epsilon = /^[0-9]{1,3}(\.[0-9]+)?$|^\.[0-9]+$/.test(boundText) ? Number(boundText) : 0;
    if (!(epsilon > 0 && epsilon <= 100)) {
      throw new ConfigError(
        `${boundWhat} must be 'off', 'on' (0.25) or a number above 0, up to 100, got '${boundText}'`,
      );
    }
    ring.boundedLoad = epsilon;
  }
  try {
    createRing(ring);
  } catch (error) {
    // The ring names its options as in code; say them as the user wrote them.
    const message = (error instanceof Error ? error.message : String(error))
      .replace(/^(tableSize|slots)\b/, "--ring-size").replace(
        /^(points|virtualNodes)\b/,
        "--vnodes",
      );
    throw new ConfigError(`${message} (--ring ${ring.algorithm})`);
  }
  return ring;
}

/** Most points one ketama ring takes; see `KetamaRing`. */
const KETAMA_MAX_POINTS = 10_000_000;

/**
 * Most replicas `ring` holds: the spec ring's free slots ÷ K; a Maglev table's size ÷ 100
 * (Eisenbud et al. want M ≫ N for balance: M > 100·N); ketama's point budget ÷ points per
 * replica; rendezvous, any (the overall limit).
 */
function ringCapacity(ring: RingConfig): number {
  switch (ring.algorithm) {
    case "spec":
      return new SlotRing({ slots: ring.size, virtualNodes: ring.vnodes }).capacity;
    case "maglev":
      return Math.min(
        MAX_REPLICAS,
        Math.max(1, Math.floor((ring.size ?? MAGLEV_DEFAULT_TABLE_SIZE) / 100)),
      );
    case "ketama":
      return Math.min(
        MAX_REPLICAS,
        Math.floor(KETAMA_MAX_POINTS / (ring.vnodes ?? KETAMA_DEFAULT_POINTS)),
      );
    case "rendezvous":
      return MAX_REPLICAS;
  }
}
