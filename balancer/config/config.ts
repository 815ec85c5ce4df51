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
  RING_ALGORITHMS,
  ringCapacity as capacityOf,
  type RingConfig,
  SLOT_HASH_NAMES,
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

/** One setting: its flag, its environment variable, its default and what it means. */
interface Setting {
  /** The flag, without `--`. */
  flag: string;
  /** The environment variable. */
  env: string;
  /** The default, as the text an unset setting is parsed from. */
  fallback: string;
  /** The value's form in `--help`, e.g. `MS` or `spec|ketama`. */
  arg: string;
  /** What it does, in one line (for `--help` and docs/configuration.md). */
  help: string;
  /** The default as shown, when the text above would not say it. */
  shown?: string;
}

/** An integer setting, with its range. */
interface IntSetting extends Setting {
  min: number;
  max: number;
  unit?: "ms" | "bytes";
}

/**
 * Every setting, declared once, in the order `--help` and docs/configuration.md list them:
 * the parser, `--help` and the docs table all come from here.
 */
const SETTINGS = {
  port: {
    flag: "port",
    env: "LB_PORT",
    fallback: "5000",
    arg: "N",
    help: "port clients connect to",
  },
  host: {
    flag: "host",
    env: "LB_HOST",
    fallback: "0.0.0.0",
    arg: "ADDR",
    help: "interface to listen on",
  },
  replicas: {
    flag: "replicas",
    env: "LB_REPLICAS",
    fallback: "3",
    arg: "N",
    help: "replicas to start with",
    min: 0,
    max: MAX_REPLICAS,
  },
  names: {
    flag: "names",
    env: "LB_NAMES",
    fallback: "",
    arg: '"A,B,…"',
    help: "their hostnames, comma-separated",
    shown: '"Server 1", "Server 2", …',
  },
  maxReplicas: {
    flag: "max-replicas",
    env: "LB_MAX_REPLICAS",
    fallback: "50",
    arg: "N",
    help:
      "most replicas at once, and the largest n of one /add (at most what the ring holds: 56 for the spec ring)",
    min: 1,
    max: MAX_REPLICAS,
  },
  heartbeatIntervalMs: {
    flag: "heartbeat-interval",
    env: "LB_HEARTBEAT_INTERVAL_MS",
    fallback: "500",
    arg: "MS",
    help: "time between heartbeats",
    min: 10,
    max: 600_000,
    unit: "ms",
  },
  heartbeatTimeoutMs: {
    flag: "heartbeat-timeout",
    env: "LB_HEARTBEAT_TIMEOUT_MS",
    fallback: "300",
    arg: "MS",
    help: "a heartbeat not answered within this has failed",
    min: 1,
    max: 600_000,
    unit: "ms",
  },
  failThreshold: {
    flag: "fail-threshold",
    env: "LB_FAIL_THRESHOLD",
    fallback: "2",
    arg: "N",
    help: "failed heartbeats in a row that eject a replica",
    min: 1,
    max: 100,
  },
  startTimeoutMs: {
    flag: "start-timeout",
    env: "LB_START_TIMEOUT_MS",
    fallback: "10000",
    arg: "MS",
    help: "a new replica must answer a heartbeat within this, or it is replaced",
    min: 100,
    max: 600_000,
    unit: "ms",
  },
  responseTimeoutMs: {
    flag: "response-timeout",
    env: "LB_RESPONSE_TIMEOUT_MS",
    fallback: "15000",
    arg: "MS",
    help: "a replica must start its answer within this (then 504)",
    min: 1,
    max: 3_600_000,
    unit: "ms",
  },
  retryBodyBytes: {
    flag: "retry-body-limit",
    env: "LB_RETRY_BODY_BYTES",
    fallback: "65536",
    arg: "B",
    help: "request bodies up to B bytes may be resent to the next replica",
    min: 0,
    max: 64 * 1024 * 1024,
    unit: "bytes",
  },
  maxAdminBodyBytes: {
    flag: "max-admin-body",
    env: "LB_MAX_ADMIN_BODY_BYTES",
    fallback: "65536",
    arg: "B",
    help: "largest /add or /rm body (then 413)",
    min: 64,
    max: 64 * 1024 * 1024,
    unit: "bytes",
  },
  maxInFlight: {
    flag: "max-in-flight",
    env: "LB_MAX_IN_FLIGHT",
    fallback: "10000",
    arg: "N",
    help: "requests answered at once; more get a 503 with Retry-After",
    min: 1,
    max: 1_000_000,
  },
  requestDeadlineMs: {
    flag: "request-deadline",
    env: "LB_REQUEST_DEADLINE_MS",
    fallback: "30000",
    arg: "MS",
    help: "all tries of one request together (then 504)",
    min: 1,
    max: 3_600_000,
    unit: "ms",
  },
  bodyTimeoutMs: {
    flag: "body-timeout",
    env: "LB_BODY_TIMEOUT_MS",
    fallback: "15000",
    arg: "MS",
    help: "a client silent this long mid-body gets a 408",
    min: 1,
    max: 3_600_000,
    unit: "ms",
  },
  outlierErrors: {
    flag: "outlier-errors",
    env: "LB_OUTLIER_ERRORS",
    fallback: "5",
    arg: "N",
    help: "failed tries in a row that eject a replica for a while; 0: off",
    min: 0,
    max: 1000,
  },
  outlierCoolDownMs: {
    flag: "outlier-cooldown",
    env: "LB_OUTLIER_COOLDOWN_MS",
    fallback: "10000",
    arg: "MS",
    help: "how long an outlier stays out of the ring",
    min: 10,
    max: 3_600_000,
    unit: "ms",
  },
  maxEjectionPercent: {
    flag: "max-ejection-percent",
    env: "LB_MAX_EJECTION_PERCENT",
    fallback: "50",
    arg: "P",
    help: "most serving replicas out as outliers at once, percent",
    min: 0,
    max: 100,
  },
  retryBudget: {
    flag: "retry-budget",
    env: "LB_RETRY_BUDGET",
    fallback: "0.2",
    arg: "R",
    help: "retries per request over a 10 s window (at least 10 per window), 0 to 1; 1: no cap",
  },
  drainTimeoutMs: {
    flag: "drain-timeout",
    env: "LB_DRAIN_TIMEOUT_MS",
    fallback: "10000",
    arg: "MS",
    help: "requests in flight get this long on /rm and on shutdown",
    min: 0,
    max: 600_000,
    unit: "ms",
  },
  keyParam: {
    flag: "key-param",
    env: "LB_KEY_PARAM",
    fallback: "id",
    arg: "NAME",
    help: "query parameter with the routing key",
  },
  keyHeader: {
    flag: "key-header",
    env: "LB_KEY_HEADER",
    fallback: "x-request-id",
    arg: "NAME",
    help: "header with the routing key",
  },
  ring: {
    flag: "ring",
    env: "LB_RING",
    fallback: "spec",
    arg: "spec|ketama|maglev|rendezvous",
    help: "the consistent-hash ring",
  },
  slotHash: {
    flag: "slot-hash",
    env: "LB_SLOT_HASH",
    fallback: "spec",
    arg: "spec|fnv|xxhash",
    help: "spec ring: the H/Φ pair",
  },
  probing: {
    flag: "probing",
    env: "LB_PROBING",
    fallback: "linear",
    arg: "linear|quadratic",
    help: "spec ring: how slot collisions are resolved",
  },
  vnodes: {
    flag: "vnodes",
    env: "LB_VNODES",
    fallback: "auto",
    arg: "N|auto",
    help:
      "spec ring: virtual nodes per replica (auto: 9); ketama: points per unit of weight (auto: 1000)",
  },
  ringSize: {
    flag: "ring-size",
    env: "LB_RING_SIZE",
    fallback: "auto",
    arg: "N|auto",
    help: "spec ring: slots (auto: 512); maglev: table size, a prime (auto: 65537)",
  },
  boundedLoad: {
    flag: "bounded-load",
    env: "LB_BOUNDED_LOAD",
    fallback: "off",
    arg: "E|on|off",
    help: "no replica above (1+E) × the average requests in flight (E up to 100; on: 0.25)",
  },
  provider: {
    flag: "provider",
    env: "LB_PROVIDER",
    fallback: "process",
    arg: "process|docker|static",
    help: "what runs replicas (static: servers you run, see --backends)",
  },
  backends: {
    flag: "backends",
    env: "LB_BACKENDS",
    fallback: "",
    arg: '"URL,name=URL,…"',
    help:
      "with --provider static: the servers to route to, health-checked, never started or stopped",
  },
  workers: {
    flag: "workers",
    env: "LB_WORKERS",
    fallback: "1",
    arg: "N",
    help:
      "processes sharing the port (reusePort, Linux); more than 1 with --provider static only, and /add and /rm are then refused",
    min: 1,
    max: 64,
  },
  spares: {
    flag: "spares",
    env: "LB_SPARES",
    fallback: "auto",
    arg: "N|auto",
    help: "warm spares, 0 to 10, promoted when a replica fails",
    shown: "auto: 1 with docker, 0 with process",
  },
  dockerImage: {
    flag: "docker-image",
    env: "LB_DOCKER_IMAGE",
    fallback: "ringlb:latest",
    arg: "IMAGE",
    help: "image replicas run",
  },
  dockerNetwork: {
    flag: "docker-network",
    env: "LB_DOCKER_NETWORK",
    fallback: "net1",
    arg: "NAME",
    help: "network replicas join, created if absent",
  },
  dockerOwner: {
    flag: "docker-owner",
    env: "LB_DOCKER_OWNER",
    fallback: "ringlb",
    arg: "NAME",
    help: "owner label of this balancer's containers",
  },
  dockerReach: {
    flag: "docker-reach",
    env: "LB_DOCKER_REACH",
    fallback: "auto",
    arg: "auto|name|address",
    help:
      "reach replicas by container name (balancer on their network) or address (balancer on the host); auto asks the engine",
  },
  keepReplicas: {
    flag: "keep-replicas",
    env: "LB_KEEP_REPLICAS",
    fallback: "false",
    arg: "true|false",
    help: "leave replicas running on exit, for the next balancer to adopt (Docker)",
  },
  logLevel: {
    flag: "log-level",
    env: "LB_LOG_LEVEL",
    fallback: "info",
    arg: "debug|info|warn|error",
    help: "lowest level logged (debug adds every replica's output and failed heartbeat)",
  },
} satisfies Record<string, Setting | IntSetting>;

/** Where `--help`'s descriptions start, and how wide it is. */
const HELP_INDENT = 26;
const HELP_WIDTH = 100;

/** Wraps `text` at {@linkcode HELP_WIDTH}, continuation lines indented. */
function wrap(first: string, text: string): string {
  const lines: string[] = [];
  let line = first.length >= HELP_INDENT
    ? first + "\n" + " ".repeat(HELP_INDENT)
    : first.padEnd(HELP_INDENT);
  let empty = true;
  for (const word of text.split(" ")) {
    const tail = line.slice(line.lastIndexOf("\n") + 1);
    if (!empty && tail.length + 1 + word.length > HELP_WIDTH) {
      lines.push(line);
      line = " ".repeat(HELP_INDENT) + word;
    } else {
      line += (empty ? "" : " ") + word;
    }
    empty = false;
  }
  lines.push(line);
  return lines.join("\n");
}

/** The default of `setting` as `--help` and the docs show it, or undefined when it has none. */
function shownDefault(setting: Setting): string | undefined {
  return setting.shown ?? (setting.fallback === "" ? undefined : setting.fallback);
}

/** `--help` text, from {@linkcode SETTINGS}. */
export const HELP = [
  "Usage: deno task start [options]     (or: deno run -P=balancer balancer/main.ts [options])",
  "",
  "A consistent-hashing HTTP load balancer that keeps its replicas alive.",
  "Every option can also be set by the environment variable in brackets; flags win.",
  "",
  ...Object.values(SETTINGS).map((s: Setting) => {
    const fallback = shownDefault(s);
    return wrap(
      `  --${s.flag} ${s.arg}`,
      `${s.help} [${s.env}]${fallback ? ` (${fallback})` : ""}`,
    );
  }),
  wrap("  -h, --help", "this text"),
  "",
].join("\n");

/**
 * The settings as a Markdown table (flag, variable, default, meaning): the part of
 * docs/configuration.md that `deno task docs` writes.
 */
export function settingsTable(): string {
  const cell = (text: string) => text.replaceAll("|", "\\|");
  const rows = Object.values(SETTINGS).map((s: Setting) => {
    const fallback = shownDefault(s);
    return `| \`--${s.flag}\` | \`${s.env}\` | ${fallback ? `\`${cell(fallback)}\`` : ""} | ${
      cell(s.help)
    } |`;
  });
  return ["| flag | environment | default | meaning |", "| --- | --- | --- | --- |", ...rows].join(
    "\n",
  );
}

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
  for (const spec of Object.values(SETTINGS)) {
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
  const int = (spec: IntSetting): number => {
    const [text, what] = raw(spec);
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

  const [portText, portWhat] = raw(SETTINGS.port);
  const config: BalancerConfig = {
    port: parsePort(portText, portWhat),
    host: str(SETTINGS.host),
    replicas: int(SETTINGS.replicas),
    names: [],
    maxReplicas: int(SETTINGS.maxReplicas),
    heartbeatIntervalMs: int(SETTINGS.heartbeatIntervalMs),
    heartbeatTimeoutMs: int(SETTINGS.heartbeatTimeoutMs),
    failThreshold: int(SETTINGS.failThreshold),
    startTimeoutMs: int(SETTINGS.startTimeoutMs),
    responseTimeoutMs: int(SETTINGS.responseTimeoutMs),
    retryBodyBytes: int(SETTINGS.retryBodyBytes),
    maxAdminBodyBytes: int(SETTINGS.maxAdminBodyBytes),
    drainTimeoutMs: int(SETTINGS.drainTimeoutMs),
    maxInFlight: int(SETTINGS.maxInFlight),
    requestDeadlineMs: int(SETTINGS.requestDeadlineMs),
    bodyTimeoutMs: int(SETTINGS.bodyTimeoutMs),
    outlierErrors: int(SETTINGS.outlierErrors),
    outlierCoolDownMs: int(SETTINGS.outlierCoolDownMs),
    maxEjectionPercent: int(SETTINGS.maxEjectionPercent),
    retryBudget: 0,
    keyParam: str(SETTINGS.keyParam),
    keyHeader: str(SETTINGS.keyHeader).toLowerCase(),
    ring: parseRing(raw),
    provider: oneOf(str(SETTINGS.provider), ["process", "docker", "static"], "--provider"),
    backends: [],
    dockerImage: str(SETTINGS.dockerImage),
    dockerNetwork: str(SETTINGS.dockerNetwork),
    dockerOwner: str(SETTINGS.dockerOwner),
    dockerReach: oneOf(str(SETTINGS.dockerReach), ["auto", "name", "address"], "--docker-reach"),
    keepReplicas: oneOf(str(SETTINGS.keepReplicas), ["true", "false", "1", "0"], "--keep-replicas")
      .match(/true|1/) !== null,
    spares: 0,
    logLevel: oneOf(str(SETTINGS.logLevel), LOG_LEVELS, "--log-level"),
    workers: int(SETTINGS.workers),
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
  const [, maxWhat] = raw({ ...SETTINGS.maxReplicas, fallback: "" });
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
    const [, replicasWhat] = raw({ ...SETTINGS.replicas, fallback: "" });
    const limit = maxGiven
      ? `${maxWhat} (${config.maxReplicas})`
      : `what --ring ${config.ring.algorithm} holds (${config.maxReplicas})`;
    throw new ConfigError(`${replicasWhat} (${config.replicas}) must not exceed ${limit}`);
  }
  const [budgetText, budgetWhat] = raw(SETTINGS.retryBudget);
  config.retryBudget = /^(0(\.[0-9]+)?|1(\.0+)?|\.[0-9]+)$/.test(budgetText)
    ? Number(budgetText)
    : Number.NaN;
  if (Number.isNaN(config.retryBudget)) {
    throw new ConfigError(`${budgetWhat} must be a number from 0 to 1, got '${budgetText}'`);
  }
  const [sparesText, sparesWhat] = raw(SETTINGS.spares);
  if (sparesText === "auto") config.spares = config.provider === "docker" ? 1 : 0;
  else if (/^[0-9]{1,2}$/.test(sparesText) && Number(sparesText) <= 10) {
    config.spares = Number(sparesText);
  } else {
    throw new ConfigError(
      `${sparesWhat} must be 'auto' or an integer from 0 to 10, got '${sparesText}'`,
    );
  }
  const [backendsText, backendsWhat] = raw(SETTINGS.backends);
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
  const given = str(SETTINGS.names).split(",").map((name) => name.trim()).filter(Boolean);
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
    algorithm: oneOf(str(SETTINGS.ring), RING_ALGORITHMS, "--ring"),
    slotHash: oneOf(str(SETTINGS.slotHash), SLOT_HASH_NAMES, "--slot-hash"),
    probing: oneOf(str(SETTINGS.probing), ["linear", "quadratic"] as const, "--probing"),
  };
  // Options only some rings have: given to another ring, they are a mistake worth a word.
  const applies = {
    vnodes: ["spec", "ketama"],
    size: ["spec", "maglev"],
    slotHash: ["spec"],
    probing: ["spec"],
  } as const;
  const names = {
    vnodes: SETTINGS.vnodes,
    size: SETTINGS.ringSize,
    slotHash: SETTINGS.slotHash,
    probing: SETTINGS.probing,
  };
  for (const [key, spec] of [["vnodes", SETTINGS.vnodes], ["size", SETTINGS.ringSize]] as const) {
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
  const [boundText, boundWhat] = raw(SETTINGS.boundedLoad);
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

/**
 * Most replicas `ring` holds: what the ring says, within the overall limit (the spec ring's
 * own limit, its free slots ÷ K, is already small; a large one is taken as asked).
 */
function ringCapacity(ring: RingConfig): number {
  const capacity = capacityOf(ring);
  return ring.algorithm === "spec" ? capacity : Math.min(MAX_REPLICAS, capacity);
}
