/**
 * Runs one backend replica: `SERVER_ID=S1 PORT=5000 deno run --allow-net --allow-env server/main.ts`.
 *
 * Prints `server "<id>" listening on http://<host>:<port>/` once it accepts connections
 * (spawners read the port from that line when `PORT=0`).
 *
 * @module
 */

import { createServerApp, type Faults } from "./app.ts";
import { ConfigError, SERVER_ENV_VARS } from "../contract/mod.ts";
import { parseServerEnv } from "./config.ts";

if (import.meta.main) {
  const env = Object.fromEntries(SERVER_ENV_VARS.map((name) => [name, Deno.env.get(name)]));
  let config;
  try {
    config = parseServerEnv(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`server: ${error.message}`);
    Deno.exit(2);
  }
  const faults: Faults = { heartbeatFail: config.heartbeatFail, delayMs: config.delayMs };
  const app = createServerApp({ id: config.id, faults });
  const server = Deno.serve({
    port: config.port,
    hostname: config.host,
    onListen: ({ hostname, port }) =>
      console.log(`server "${config.id}" listening on http://${hostname}:${port}/`),
  }, app.fetch);

  const stop = () => server.shutdown().then(() => Deno.exit(0));
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
  if (config.faultSignals) {
    Deno.addSignalListener("SIGUSR1", () => {
      faults.heartbeatFail = !faults.heartbeatFail;
      console.log(
        `server "${config.id}": heartbeat failure ${faults.heartbeatFail ? "on" : "off"}`,
      );
    });
    Deno.addSignalListener("SIGUSR2", () => {
      faults.delayMs = faults.delayMs > 0 ? 0 : 2000;
      console.log(`server "${config.id}": reply delay ${faults.delayMs} ms`);
    });
  }
  if (config.exitOnStdinEof) {
    // The spawner holds our stdin open; EOF means it is gone, even after a SIGKILL.
    (async () => {
      for await (const _ of Deno.stdin.readable) { /* discard */ }
      console.error(`server "${config.id}": spawner gone (stdin closed), exiting`);
      Deno.exit(0);
    })();
  }
}
