/**
 * The replicas: heartbeats, outlier detection, and the manager that keeps the desired number serving (spawn, respawn, spares, drain).
 *
 * @module
 */

export { HealthMonitor } from "./health.ts";
export {
  ReplicaManager,
  ReplicaRequestError,
  type ReplicaSnapshot,
  ReplicaStartError,
  type RouteTarget,
} from "./replica_manager.ts";
