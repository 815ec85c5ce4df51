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
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from "../support/mod.ts";
import { parseBackends, type StaticBackend } from "../providers/mod.ts";
import type { DockerConfig, EndpointMode } from "../providers/docker/mod.ts";
import {
  BALANCE_POLICIES,
  type HealthConfig,
  type OutlierConfig,
  type ReplicaSetConfig,
} from "../cluster/mod.ts";
import type { ProxyConfig } from "../proxy/mod.ts";
import type { AdminConfig } from "../edge/mod.ts";

export { ConfigError };

/** What listens for clients: `main.ts`. */
export interface ListenConfig {
  /** Port clients connect to. */
  port: number;
  /** Interface to listen on. */
  host: string;
  /** Who reads client connections: the balancer itself (`socket`) or `Deno.serve` (`serve`). */
  front: "socket" | "serve";
  /** Socket front: a whole request head must arrive within this, ms (then 408). */
  headerTimeoutMs: number;
  /** Socket front: an idle kept-alive connection is closed after this, ms. */
  keepAliveTimeoutMs: number;
  /** Socket front: most client connections at once (more are answered 503 and closed). */
  maxConnections: number;
  /** PEM certificate (chain) file: serve HTTPS; "" for plain HTTP. Goes with `tlsKey`. */
  tlsCert: string;
  /** PEM private key file of `tlsCert`. */
  tlsKey: string;
  /** Processes serving the port together (`reusePort`); more than 1 needs static backends. */
  workers: number;
}

/** The replica set: the replica manager's settings, and what the balancer starts with. */
export interface ClusterConfig extends Required<ReplicaSetConfig> {
  /** Replicas to start with. */
  replicas: number;
  /** Their hostnames; missing ones are `Server <i>`. */
  names: string[];
  /** Leave replicas running on shutdown, for the next balancer to adopt (Docker). */
  keepReplicas: boolean;
}

/** What runs replicas, and its own settings. */
export interface ProviderConfig {
  /** Which provider (`static`: servers that already run, see `backends`). */
  kind: "process" | "docker" | "swarm" | "static";
  /** `--provider static`: the servers to route to; they are the replicas. */
  backends: StaticBackend[];
  /** `--provider docker` and `swarm`: image, network, owner label and how replicas are reached. */
  docker: DockerConfig;
  /** `--provider swarm`: how service names resolve (`--swarm-endpoint-mode`). */
  endpointMode: EndpointMode;
}

/**
 * Everything the balancer can be told, grouped by the component that gets it: each group is
 * that component's own settings type, handed over whole (`new HealthMonitor({...health})`).
 */
export interface BalancerConfig {
  /** The listening socket (`--port`, `--host`, `--workers`). */
  listen: ListenConfig;
  /** The replica manager (`--replicas`, `--max-replicas`, `--spares`, timeouts). */
  cluster: ClusterConfig;
  /** Heartbeats (`--heartbeat-*`, `--fail-threshold`). */
  health: HealthConfig;
  /** Outlier detection (`--outlier-*`, `--max-ejection-percent`). */
  outliers: OutlierConfig;
  /** The proxy (timeouts, limits, retries, the routing key). */
  proxy: ProxyConfig;
  /** The admin API (`--max-admin-body`). */
  admin: AdminConfig;
  /** The ring: algorithm, its options, bounded loads. */
  ring: RingConfig;
  /** What runs replicas. */
  provider: ProviderConfig;
  /** Lowest log level printed. */
  logLevel: LogLevel;
  /** How log lines are written. */
  logFormat: LogFormat;
  /** Whether each proxied request is logged (an `access` line at info). */
  accessLog: boolean;
}

/** Most replicas of any ring (the spec ring holds fewer: 56 with its defaults). */
const MAX_REPLICAS = 1000;

/**
 * One setting: the component that gets it, its flag, its environment variable, its default
 * and what it means.
 */
interface Setting {
  /** The group of {@linkcode BalancerConfig} it lands in: which component gets it. */
  to: keyof BalancerConfig;
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
    to: "listen",
    flag: "port",
    env: "LB_PORT",
    fallback: "5000",
    arg: "N",
    help: "port clients connect to",
  },
  host: {
    to: "listen",
    flag: "host",
    env: "LB_HOST",
    fallback: "0.0.0.0",
    arg: "ADDR",
    help: "interface to listen on",
  },
  front: {
    to: "listen",
    flag: "front",
    env: "LB_FRONT",
    fallback: "socket",
    arg: "socket|serve",
    help:
      "who reads client connections: the balancer itself, strictly (socket), or Deno.serve (serve: HTTP/2 from clients)",
  },
  headerTimeoutMs: {
    to: "listen",
    flag: "header-timeout",
    env: "LB_HEADER_TIMEOUT_MS",
    fallback: "10000",
    arg: "MS",
    help: "socket front: a client must send a whole request head within this (then 408, closed)",
    min: 100,
    max: 3_600_000,
    unit: "ms",
  },
  keepAliveTimeoutMs: {
    to: "listen",
    flag: "keepalive-timeout",
    env: "LB_KEEPALIVE_TIMEOUT_MS",
    fallback: "75000",
    arg: "MS",
    help: "socket front: an idle kept-alive client connection is closed after this",
    min: 100,
    max: 3_600_000,
    unit: "ms",
  },
  maxConnections: {
    to: "listen",
    flag: "max-connections",
    env: "LB_MAX_CONNECTIONS",
    fallback: "20000",
    arg: "N",
    help: "socket front: client connections at once; more are answered 503 and closed",
    min: 1,
    max: 1_000_000,
  },
  tlsCert: {
    to: "listen",
    flag: "tls-cert",
    env: "LB_TLS_CERT",
    fallback: "",
    arg: "FILE",
    help: "PEM certificate (chain): clients connect with HTTPS (either front); needs --tls-key",
  },
  tlsKey: {
    to: "listen",
    flag: "tls-key",
    env: "LB_TLS_KEY",
    fallback: "",
    arg: "FILE",
    help: "PEM private key of --tls-cert",
  },
  replicas: {
    to: "cluster",
    flag: "replicas",
    env: "LB_REPLICAS",
    fallback: "3",
    arg: "N",
    help: "replicas to start with",
    min: 0,
    max: MAX_REPLICAS,
  },
  names: {
    to: "cluster",
    flag: "names",
    env: "LB_NAMES",
    fallback: "",
    arg: '"A,B,…"',
    help: "their hostnames, comma-separated",
    shown: '"Server 1", "Server 2", …',
  },
  maxReplicas: {
    to: "cluster",
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
    to: "health",
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
    to: "health",
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
    to: "health",
    flag: "fail-threshold",
    env: "LB_FAIL_THRESHOLD",
    fallback: "2",
    arg: "N",
    help: "failed heartbeats in a row that eject a replica",
    min: 1,
    max: 100,
  },
  startTimeoutMs: {
    to: "cluster",
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
    to: "proxy",
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
    to: "proxy",
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
    to: "admin",
    flag: "max-admin-body",
    env: "LB_MAX_ADMIN_BODY_BYTES",
    fallback: "65536",
    arg: "B",
    help: "largest /add or /rm body (then 413)",
    min: 64,
    max: 64 * 1024 * 1024,
    unit: "bytes",
  },
  adminToken: {
    to: "admin",
    flag: "admin-token",
    env: "LB_ADMIN_TOKEN",
    fallback: "",
    arg: "TOKEN",
    help:
      "when set, /add, /rm, /metrics and /dashboard need Authorization: Bearer TOKEN (else 401); /rep stays open (16 to 256 visible characters)",
    shown: "none",
  },
  adminListen: {
    to: "admin",
    flag: "admin-listen",
    env: "LB_ADMIN_LISTEN",
    fallback: "",
    arg: "HOST:PORT",
    help:
      "serve the admin paths (/rep, /add, /rm, /metrics, /dashboard) on this address instead of the proxy port (where they are then proxied)",
    shown: "the proxy port",
  },
  adminRateLimit: {
    to: "admin",
    flag: "admin-rate-limit",
    env: "LB_ADMIN_RATE_LIMIT",
    fallback: "10",
    arg: "N",
    help: "/add and /rm requests per second at most, bursts of N (then 429)",
    min: 1,
    max: 10_000,
  },
  maxInFlight: {
    to: "proxy",
    flag: "max-in-flight",
    env: "LB_MAX_IN_FLIGHT",
    fallback: "10000",
    arg: "N",
    help: "requests answered at once; more get a 503 with Retry-After",
    min: 1,
    max: 1_000_000,
  },
  requestDeadlineMs: {
    to: "proxy",
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
    to: "proxy",
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
    to: "outliers",
    flag: "outlier-errors",
    env: "LB_OUTLIER_ERRORS",
    fallback: "5",
    arg: "N",
    help: "failed tries in a row that eject a replica for a while; 0: off",
    min: 0,
    max: 1000,
  },
  outlierCoolDownMs: {
    to: "outliers",
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
    to: "outliers",
    flag: "max-ejection-percent",
    env: "LB_MAX_EJECTION_PERCENT",
    fallback: "50",
    arg: "P",
    help: "most serving replicas out as outliers at once, percent",
    min: 0,
    max: 100,
  },
  retryBudget: {
    to: "proxy",
    flag: "retry-budget",
    env: "LB_RETRY_BUDGET",
    fallback: "0.2",
    arg: "R",
    help: "retries per request over a 10 s window (at least 10 per window), 0 to 1; 1: no cap",
  },
  drainTimeoutMs: {
    to: "cluster",
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
    to: "proxy",
    flag: "key-param",
    env: "LB_KEY_PARAM",
    fallback: "id",
    arg: "NAME",
    help: "query parameter with the routing key",
  },
  keyHeader: {
    to: "proxy",
    flag: "key-header",
    env: "LB_KEY_HEADER",
    fallback: "x-request-id",
    arg: "NAME",
    help: "header with the routing key",
  },
  ring: {
    to: "ring",
    flag: "ring",
    env: "LB_RING",
    fallback: "spec",
    arg: "spec|ketama|maglev|rendezvous",
    help: "the consistent-hash ring",
  },
  slotHash: {
    to: "ring",
    flag: "slot-hash",
    env: "LB_SLOT_HASH",
    fallback: "spec",
    arg: "spec|fnv|xxhash",
    help: "spec ring: the H/Φ pair",
  },
  probing: {
    to: "ring",
    flag: "probing",
    env: "LB_PROBING",
    fallback: "linear",
    arg: "linear|quadratic",
    help: "spec ring: how slot collisions are resolved",
  },
  vnodes: {
    to: "ring",
    flag: "vnodes",
    env: "LB_VNODES",
    fallback: "auto",
    arg: "N|auto",
    help:
      "spec ring: virtual nodes per replica (auto: 9); ketama: points per unit of weight (auto: 1000)",
  },
  ringSize: {
    to: "ring",
    flag: "ring-size",
    env: "LB_RING_SIZE",
    fallback: "auto",
    arg: "N|auto",
    help: "spec ring: slots (auto: 512); maglev: table size, a prime (auto: 65537)",
  },
  balance: {
    to: "cluster",
    flag: "balance",
    env: "LB_BALANCE",
    fallback: "hash",
    arg: "hash|p2c-ewma|least-request",
    help:
      "hash: by the key's ring (affinity); p2c-ewma / least-request: the less loaded of two replicas drawn at random (no affinity)",
  },
  slowStartMs: {
    to: "cluster",
    flag: "slow-start",
    env: "LB_SLOW_START_MS",
    fallback: "0",
    arg: "MS",
    help:
      "a replica that begins serving takes 10 % of its share, rising to all of it over this time (with --balance p2c-ewma|least-request, or --bounded-load); 0: off",
    min: 0,
    max: 600_000,
    unit: "ms",
  },
  boundedLoad: {
    to: "ring",
    flag: "bounded-load",
    env: "LB_BOUNDED_LOAD",
    fallback: "off",
    arg: "E|on|off",
    help: "no replica above (1+E) × the average requests in flight (E up to 100; on: 0.25)",
  },
  provider: {
    to: "provider",
    flag: "provider",
    env: "LB_PROVIDER",
    fallback: "process",
    arg: "process|docker|swarm|static",
    help:
      "what runs replicas (swarm: services on a swarm manager; static: servers you run, see --backends)",
  },
  backends: {
    to: "provider",
    flag: "backends",
    env: "LB_BACKENDS",
    fallback: "",
    arg: '"URL,name=URL;weight=W,…"',
    help:
      "with --provider static: the servers to route to, health-checked, never started or stopped (;weight=W: share on a weighted ring)",
  },
  workers: {
    to: "listen",
    flag: "workers",
    env: "LB_WORKERS",
    fallback: "1",
    arg: "N",
    help:
      "processes sharing the port (reusePort, Linux): the first runs the replicas and health checks, the others route by the membership it sends them",
    min: 1,
    max: 64,
  },
  spares: {
    to: "cluster",
    flag: "spares",
    env: "LB_SPARES",
    fallback: "auto",
    arg: "N|auto",
    help: "warm spares, 0 to 10, promoted when a replica fails",
    shown: "auto: 1 with docker, 0 with process",
  },
  replicaId: {
    to: "cluster",
    flag: "replica-id",
    env: "LB_REPLICA_ID",
    fallback: "number",
    arg: "number|name",
    help:
      "what a started replica answers /home as (its SERVER_ID): its server number, `Hello from Server: 1` as the seed, or its hostname",
  },
  dockerImage: {
    to: "provider",
    flag: "docker-image",
    env: "LB_DOCKER_IMAGE",
    fallback: "ringlb:latest",
    arg: "IMAGE",
    help: "image replicas run",
  },
  dockerNetwork: {
    to: "provider",
    flag: "docker-network",
    env: "LB_DOCKER_NETWORK",
    fallback: "net1",
    arg: "NAME",
    help: "network replicas join, created if absent (swarm: an attachable overlay network)",
  },
  dockerOwner: {
    to: "provider",
    flag: "docker-owner",
    env: "LB_DOCKER_OWNER",
    fallback: "ringlb",
    arg: "NAME",
    help:
      "owner label of this balancer's containers (swarm: balancers with one owner share the replicas)",
  },
  dockerReach: {
    to: "provider",
    flag: "docker-reach",
    env: "LB_DOCKER_REACH",
    fallback: "auto",
    arg: "auto|name|address",
    help:
      "reach replicas by container name (balancer on their network) or address (balancer on the host); auto asks the engine (swarm: always by name, auto checks the balancer is on the network)",
  },
  dockerShared: {
    to: "provider",
    flag: "docker-shared",
    env: "LB_DOCKER_SHARED",
    fallback: "false",
    arg: "true|false",
    help:
      "with --provider docker: several balancers with one --docker-owner share its replicas; one at a time (the lease holder) replaces failed ones",
  },
  swarmEndpointMode: {
    to: "provider",
    flag: "swarm-endpoint-mode",
    env: "LB_SWARM_ENDPOINT_MODE",
    fallback: "dnsrr",
    arg: "dnsrr|vip",
    help:
      "with --provider swarm: a service name resolves to its task (dnsrr) or a virtual IP (vip)",
  },
  keepReplicas: {
    to: "cluster",
    flag: "keep-replicas",
    env: "LB_KEEP_REPLICAS",
    fallback: "auto",
    arg: "true|false|auto",
    help:
      "leave replicas running on exit, for the next balancer to adopt (docker, swarm); auto: true when other balancers share them (swarm, --docker-shared)",
  },
  logLevel: {
    to: "logLevel",
    flag: "log-level",
    env: "LB_LOG_LEVEL",
    fallback: "info",
    arg: "debug|info|warn|error",
    help: "lowest level logged (debug adds every replica's output and failed heartbeat)",
  },
  logFormat: {
    to: "logFormat",
    flag: "log-format",
    env: "LB_LOG_FORMAT",
    fallback: "text",
    arg: "text|json",
    help: "log lines as `time level event key=value …` (text) or one JSON object each (json)",
  },
  accessLog: {
    to: "accessLog",
    flag: "access-log",
    env: "LB_ACCESS_LOG",
    fallback: "false",
    arg: "true|false",
    help: "one `access` line per proxied request: method, path, key, replica, status, tries, ms",
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
 * The settings as a Markdown table (flag, variable, default, the `BalancerConfig` group it
 * goes to, meaning): the part of docs/configuration.md that `deno task docs` writes.
 */
export function settingsTable(): string {
  const cell = (text: string) => text.replaceAll("|", "\\|");
  const rows = Object.values(SETTINGS).map((s: Setting) => {
    const fallback = shownDefault(s);
    const shown = fallback ? `\`${cell(fallback)}\`` : "";
    return `| \`--${s.flag}\` | \`${s.env}\` | ${shown} | \`${s.to}\` | ${cell(s.help)} |`;
  });
  return [
    "| flag | environment | default | goes to | meaning |",
    "| --- | --- | --- | --- | --- |",
    ...rows,
  ].join("\n");
}

/** An admin token: none (""), or 16 to 256 visible ASCII characters. */
function parseToken(text: string, what: string): string {
  if (text === "" || /^[\x21-\x7e]{16,256}$/.test(text)) return text;
  throw new ConfigError(
    `${what} must be 16 to 256 visible ASCII characters (no spaces), got ${text.length} characters`,
  );
}

/** `HOST:PORT` (an IPv6 host in brackets), or none for "". */
function parseAddress(text: string, what: string): { host: string; port: number } | undefined {
  if (text === "") return undefined;
  const match = /^(\[[0-9a-fA-F:.]+\]|[a-zA-Z0-9.-]+):([0-9]{1,5})$/.exec(text);
  if (!match) {
    throw new ConfigError(`${what} must be HOST:PORT, e.g. 127.0.0.1:5001, got '${text}'`);
  }
  return { host: match[1].replace(/^\[|\]$/g, ""), port: parsePort(match[2], what) };
}

/**
 * Why the admin API is open to anyone who reaches it, or undefined when it is not: it listens
 * on an address other than loopback and no token is set. (Logged once at start.)
 */
export function adminExposure(config: BalancerConfig): string | undefined {
  if (config.admin.token) return undefined;
  const host = config.admin.listen?.host ?? config.listen.host;
  if (isLoopback(host)) return undefined;
  return `the admin API (/add, /rm, /metrics, /dashboard) listens on ${host} with no --admin-token: anyone who ` +
    `reaches it can add or remove replicas (set --admin-token, or --admin-listen 127.0.0.1:PORT)`;
}

/** Whether `host` is a loopback address or name. */
function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
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
    listen: {
      port: parsePort(portText, portWhat),
      host: str(SETTINGS.host),
      workers: int(SETTINGS.workers),
      front: oneOf(str(SETTINGS.front), ["socket", "serve"], "--front"),
      headerTimeoutMs: int(SETTINGS.headerTimeoutMs),
      keepAliveTimeoutMs: int(SETTINGS.keepAliveTimeoutMs),
      maxConnections: int(SETTINGS.maxConnections),
      tlsCert: str(SETTINGS.tlsCert),
      tlsKey: str(SETTINGS.tlsKey),
    },
    cluster: {
      replicas: int(SETTINGS.replicas),
      names: [],
      maxReplicas: int(SETTINGS.maxReplicas),
      startTimeoutMs: int(SETTINGS.startTimeoutMs),
      drainTimeoutMs: int(SETTINGS.drainTimeoutMs),
      spares: 0,
      replicaId: oneOf(str(SETTINGS.replicaId), ["number", "name"], "--replica-id"),
      balance: oneOf(str(SETTINGS.balance), BALANCE_POLICIES, "--balance"),
      slowStartMs: int(SETTINGS.slowStartMs),
      keepReplicas: false, // below: auto depends on the provider
    },
    health: {
      intervalMs: int(SETTINGS.heartbeatIntervalMs),
      timeoutMs: int(SETTINGS.heartbeatTimeoutMs),
      failThreshold: int(SETTINGS.failThreshold),
    },
    outliers: {
      errors: int(SETTINGS.outlierErrors),
      coolDownMs: int(SETTINGS.outlierCoolDownMs),
      maxEjectionPercent: int(SETTINGS.maxEjectionPercent),
    },
    proxy: {
      responseTimeoutMs: int(SETTINGS.responseTimeoutMs),
      retryBodyBytes: int(SETTINGS.retryBodyBytes),
      maxInFlight: int(SETTINGS.maxInFlight),
      requestDeadlineMs: int(SETTINGS.requestDeadlineMs),
      bodyTimeoutMs: int(SETTINGS.bodyTimeoutMs),
      retryBudget: 0,
      keyParam: str(SETTINGS.keyParam),
      keyHeader: str(SETTINGS.keyHeader).toLowerCase(),
    },
    admin: {
      maxBodyBytes: int(SETTINGS.maxAdminBodyBytes),
      token: parseToken(...raw(SETTINGS.adminToken)),
      listen: parseAddress(...raw(SETTINGS.adminListen)),
      ratePerSecond: int(SETTINGS.adminRateLimit),
    },
    ring: parseRing(raw),
    provider: {
      kind: oneOf(str(SETTINGS.provider), ["process", "docker", "swarm", "static"], "--provider"),
      backends: [],
      docker: {
        image: str(SETTINGS.dockerImage),
        network: str(SETTINGS.dockerNetwork),
        owner: str(SETTINGS.dockerOwner),
        reach: oneOf(str(SETTINGS.dockerReach), ["auto", "name", "address"], "--docker-reach"),
        shared: /true|1/.test(
          oneOf(str(SETTINGS.dockerShared), ["true", "false", "1", "0"], "--docker-shared"),
        ),
      },
      endpointMode: oneOf(
        str(SETTINGS.swarmEndpointMode),
        ["dnsrr", "vip"],
        "--swarm-endpoint-mode",
      ),
    },
    logLevel: oneOf(str(SETTINGS.logLevel), LOG_LEVELS, "--log-level"),
    logFormat: oneOf(str(SETTINGS.logFormat), LOG_FORMATS, "--log-format"),
    accessLog: oneOf(str(SETTINGS.accessLog), ["true", "false", "1", "0"], "--access-log")
      .match(/true|1/) !== null,
  };
  const { listen, cluster, proxy, provider } = config;
  const { docker } = provider;
  if (cluster.balance !== "hash" && config.ring.boundedLoad !== undefined) {
    throw new ConfigError(
      `--bounded-load goes with --balance hash: --balance ${cluster.balance} spreads by load already`,
    );
  }
  if (
    cluster.slowStartMs > 0 && cluster.balance === "hash" && config.ring.boundedLoad === undefined
  ) {
    throw new ConfigError(
      `--slow-start needs a way to hold a new replica back: --balance p2c-ewma or ` +
        `least-request, or --bounded-load (a plain hash ring gives a replica its keys at once)`,
    );
  }
  if (!listen.host) throw new ConfigError(`--host must not be empty`);
  if (Boolean(listen.tlsCert) !== Boolean(listen.tlsKey)) {
    throw new ConfigError(`--tls-cert and --tls-key go together: give both or neither`);
  }
  for (
    const [what, value] of [["--docker-network", docker.network], [
      "--docker-owner",
      docker.owner,
    ]]
  ) {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(value)) {
      throw new ConfigError(`${what} must be letters, digits, '_', '.' or '-', got '${value}'`);
    }
  }
  if (!docker.image) throw new ConfigError(`--docker-image must not be empty`);
  if (!proxy.keyParam || !/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(proxy.keyHeader)) {
    throw new ConfigError(`--key-param and --key-header must be non-empty names`);
  }
  const capacity = ringCapacity(config.ring);
  const [, maxWhat] = raw({ ...SETTINGS.maxReplicas, fallback: "" });
  const maxGiven = values["max-replicas"] !== undefined || Boolean(env.LB_MAX_REPLICAS);
  if (cluster.maxReplicas > capacity) {
    if (maxGiven) {
      throw new ConfigError(
        `${maxWhat} (${cluster.maxReplicas}) must not exceed what --ring ${config.ring.algorithm} ` +
          `holds (${capacity})`,
      );
    }
    cluster.maxReplicas = capacity;
  }
  if (cluster.replicas > cluster.maxReplicas) {
    const [, replicasWhat] = raw({ ...SETTINGS.replicas, fallback: "" });
    const limit = maxGiven
      ? `${maxWhat} (${cluster.maxReplicas})`
      : `what --ring ${config.ring.algorithm} holds (${cluster.maxReplicas})`;
    throw new ConfigError(`${replicasWhat} (${cluster.replicas}) must not exceed ${limit}`);
  }
  const [budgetText, budgetWhat] = raw(SETTINGS.retryBudget);
  proxy.retryBudget = /^(0(\.[0-9]+)?|1(\.0+)?|\.[0-9]+)$/.test(budgetText)
    ? Number(budgetText)
    : Number.NaN;
  if (Number.isNaN(proxy.retryBudget)) {
    throw new ConfigError(`${budgetWhat} must be a number from 0 to 1, got '${budgetText}'`);
  }
  const keep = oneOf(
    str(SETTINGS.keepReplicas),
    ["true", "false", "1", "0", "auto"],
    "--keep-replicas",
  );
  // Replicas other balancers share outlive each balancer.
  const shared = provider.kind === "swarm" || (provider.kind === "docker" && docker.shared);
  cluster.keepReplicas = keep === "auto" ? shared : /true|1/.test(keep);
  if (docker.shared && provider.kind !== "docker") {
    throw new ConfigError(
      `--docker-shared needs --provider docker (swarm services are always shared)`,
    );
  }
  if (provider.kind === "swarm" && docker.reach === "address") {
    throw new ConfigError(
      `--docker-reach address does not go with --provider swarm: replicas are reached by ` +
        `service name on the overlay network`,
    );
  }
  const [sparesText, sparesWhat] = raw(SETTINGS.spares);
  if (provider.kind === "swarm" && sparesText !== "auto" && sparesText !== "0") {
    throw new ConfigError(
      `--spares does not go with --provider swarm: the swarm restarts a failed task itself`,
    );
  }
  if (sparesText === "auto") cluster.spares = provider.kind === "docker" ? 1 : 0;
  else if (/^[0-9]{1,2}$/.test(sparesText) && Number(sparesText) <= 10) {
    cluster.spares = Number(sparesText);
  } else {
    throw new ConfigError(
      `${sparesWhat} must be 'auto' or an integer from 0 to 10, got '${sparesText}'`,
    );
  }
  const [backendsText, backendsWhat] = raw(SETTINGS.backends);
  if (provider.kind === "static") {
    try {
      provider.backends = parseBackends(backendsText);
    } catch (error) {
      throw new ConfigError(`${backendsWhat}: ${(error as Error).message}`);
    }
    if (provider.backends.length === 0) {
      throw new ConfigError(`--provider static needs --backends (e.g. http://127.0.0.1:8081)`);
    }
    for (const [flag, envName] of [["replicas", "LB_REPLICAS"], ["names", "LB_NAMES"]]) {
      if (values[flag] !== undefined || env[envName]) {
        throw new ConfigError(
          `--${flag} does not go with --provider static: the backends are the replicas`,
        );
      }
    }
    if (cluster.spares > 0 && sparesText !== "auto") {
      throw new ConfigError(`--spares does not go with --provider static`);
    }
    cluster.replicas = provider.backends.length;
    cluster.names = provider.backends.map((b) => b.name);
    if (provider.backends.some((b) => (b.weight ?? 1) !== 1) && config.ring.algorithm === "spec") {
      throw new ConfigError(
        `${backendsWhat}: weights need --ring ketama, maglev or rendezvous ` +
          `(the spec ring places every server alike)`,
      );
    }
    const capacity = ringCapacity(config.ring);
    if (cluster.replicas > capacity) {
      throw new ConfigError(
        `--backends lists ${cluster.replicas} servers; --ring ${config.ring.algorithm} holds ` +
          `${capacity}`,
      );
    }
    cluster.maxReplicas = Math.max(cluster.maxReplicas, cluster.replicas);
    return { help: false, config };
  }
  if (backendsText) {
    throw new ConfigError(`${backendsWhat} needs --provider static`);
  }
  const given = str(SETTINGS.names).split(",").map((name) => name.trim()).filter(Boolean);
  if (given.length > cluster.replicas) {
    throw new ConfigError(
      `--names lists ${given.length} hostnames for ${cluster.replicas} replicas`,
    );
  }
  if (new Set(given).size !== given.length) {
    throw new ConfigError(`--names lists a hostname twice`);
  }
  const names = [...given];
  for (let i = 1; names.length < cluster.replicas; i++) {
    if (!names.includes(`Server ${i}`)) names.push(`Server ${i}`);
  }
  cluster.names = names;
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
