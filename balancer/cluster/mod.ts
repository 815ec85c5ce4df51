/**
 * The replicas: each one a long-lived {@linkcode Replica} the proxy routes to, its heartbeats,
 * outlier detection fed by the proxy's typed try outcomes, and the manager that keeps the
 * desired number serving (spawn, respawn, spares, drain).
 *
 * @module
 */

export { type HealthConfig, HealthMonitor } from "./health.ts";
export {
  type OutlierConfig,
  OutlierDetector,
  type OutlierHost,
  OutlierState,
  type TryOutcome,
} from "./outlier.ts";
export { Replica, type ReplicaState, type RouteTarget } from "./replica.ts";
export {
  BALANCE_POLICIES,
  type BalancePolicy,
  costOf,
  EWMA_DECAY_MS,
  PeakEwma,
  pickTwo,
  slowStartShare,
} from "./balance.ts";
export { type Member, type MembershipUpdate, MirroredCluster } from "./mirror.ts";
export {
  type ReplicaCounts,
  type ReplicaIdentity,
  ReplicaManager,
  type ReplicaManagerOptions,
  ReplicaRequestError,
  type ReplicaSetConfig,
  type ReplicaSnapshot,
  ReplicaStartError,
} from "./replica_manager.ts";
