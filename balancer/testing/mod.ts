/**
 * Test doubles: an in-memory cluster, crafted replicas on raw sockets, a recording logger, `waitFor`.
 *
 * @module
 */

export {
  type CraftedAction,
  CraftedReplica,
  FakeCluster,
  recordingLogger,
  waitFor,
} from "./fakes.ts";
