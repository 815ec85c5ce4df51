/**
 * Helpers for the suites that run against a real Docker engine (docker, swarm): is an engine
 * there, run a command with a deadline, a free loopback port.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { DockerClient, socketFromDockerHost } from "../balancer/providers/docker/mod.ts";
import { inCI, suiteTest } from "./helpers.ts";

/** The repository's root, where commands run. */
export const ROOT = fileURLToPath(new URL("..", import.meta.url));

/**
 * An Engine API client for the engine the `docker` CLI and the balancers use: `DOCKER_HOST`'s
 * when it names a unix socket (a rootless engine), else the default socket.
 */
export function engineClient(): DockerClient {
  return new DockerClient({ socket: socketFromDockerHost(Deno.env.get("DOCKER_HOST")) });
}

/** Why a Docker suite cannot run here, or undefined when an engine answers. */
export async function engineProblem(): Promise<string | undefined> {
  let client: DockerClient;
  try {
    client = engineClient();
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  try {
    await client.ping();
    await client.apiVersion();
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    client.close();
  }
}

/**
 * The tests of a suite that needs a Docker engine: skipped, with a line saying why, when none
 * answers; but under `CI=true`, where CI has installed one, that is a failure.
 */
export async function engineSuite(
  suite: string,
): Promise<(name: string, fn: (t: Deno.TestContext) => Promise<void>) => void> {
  const { test, ready } = suiteTest(suite, ["env", "net", "read", "run", "write"]);
  const ci = inCI();
  const problem = ready ? await engineProblem() : undefined;
  if (problem && !ci) console.log(`${suite} skipped: ${problem}`);
  return (name, fn) =>
    test({
      name,
      ignore: problem !== undefined && !ci,
      sanitizeResources: false, // the Engine API client keeps pooled unix-socket connections
      async fn(t) {
        if (problem) throw new Error(`CI=true but ${problem}`);
        await fn(t);
      },
    });
}

/**
 * Runs a command in the repository with the classic builder (there is no buildx here);
 * throws with its output's tail when it fails or outlives `timeoutMs` (it is killed then).
 */
export async function run(
  cmd: string[],
  env: Record<string, string> = {},
  timeoutMs = 180_000,
): Promise<string> {
  const child = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    cwd: ROOT,
    env: { DOCKER_BUILDKIT: "0", COMPOSE_DOCKER_CLI_BUILD: "0", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const { code, stdout, stderr } = await child.output();
  clearTimeout(timer);
  const out = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  if (code !== 0) throw new Error(`${cmd.join(" ")} exited with ${code}:\n${out.slice(-3000)}`);
  return out;
}

/** A loopback port nothing listens on right now. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}
