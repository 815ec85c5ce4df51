/**
 * Replicas as Docker containers, through the Engine API over its unix socket.
 *
 * @module
 */

export { DockerClient, socketFromDockerHost } from "./client.ts";
export { containerName, DockerProvider, LABELS } from "./provider.ts";
