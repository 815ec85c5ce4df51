/**
 * The load balancer as a library: build one from a config (`createBalancer`), or run
 * `balancer/main.ts`. The folders follow one request: `edge/` (what listens) → `proxy/`
 * (admission, key, tries) → `cluster/` (which replica, is it healthy) → `upstream/` (the hop
 * to the replica); `providers/` run the replicas, `config/` holds the settings.
 *
 * @module
 */

export { type Balancer, type BalancerDeps, createBalancer } from "./balancer.ts";
export { type BalancerConfig, ConfigError, HELP, parseConfig } from "./config/mod.ts";
export { ProcessProvider, type Provider, StaticProvider } from "./providers/mod.ts";
export { DockerProvider } from "./providers/docker/mod.ts";
export { createLogger, type Logger, silentLogger } from "./support/mod.ts";
