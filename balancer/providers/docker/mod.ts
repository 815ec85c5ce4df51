/**
 * Replicas as Docker containers or swarm services, through the Engine API over its unix
 * socket.
 *
 * @module
 */

export { DockerClient, socketFromDockerHost } from "./client.ts";
export {
  containerName,
  type DockerConfig,
  DockerProvider,
  type DockerReach,
  LABELS,
  serverIdInEnv,
} from "./provider.ts";
export { type EndpointMode, serviceName, type SwarmConfig, SwarmProvider } from "./swarm.ts";
