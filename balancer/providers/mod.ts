/**
 * What runs replicas: local processes, static backends, Docker containers.
 *
 * @module
 */

export { ProcessProvider } from "./process.ts";
export {
  type AdoptedReplica,
  HostnameConflictError,
  type Provider,
  type ReplicaExit,
  type ReplicaHandle,
  type ReplicaSpec,
  serverIdOf,
} from "./provider.ts";
export { parseBackends, type StaticBackend, StaticProvider } from "./static.ts";
