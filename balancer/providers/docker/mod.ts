/**
 * Replicas as Docker containers, through the Engine API over its unix socket.
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
} from "./provider.ts";
