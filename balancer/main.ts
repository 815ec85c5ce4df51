/**
 * The balancer's entry point: `deno task start [options]` (see `--help`).
 *
 * Starts the configured replicas, listens, and on SIGINT/SIGTERM stops every replica it
 * started before exiting. A second signal exits at once; the replicas then follow by
 * themselves (their stdin pipe closes).
 *
 * @module
 */

import { createBalancer } from "./balancer.ts";
import { ConfigError, HELP, parseConfig } from "./config.ts";
import { createLogger } from "./logger.ts";
import { ProcessProvider } from "./process_provider.ts";
import { errorMessage } from "./util.ts";

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseConfig(Deno.args, Deno.env.toObject());
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`balancer: ${error.message}`);
    return 2;
  }
  if (parsed.help) {
    console.log(HELP);
    return 0;
  }
  const { config } = parsed;
  const logger = createLogger({ level: config.logLevel });
  const provider = new ProcessProvider({ logger, startTimeoutMs: config.startTimeoutMs });
  const balancer = createBalancer(config, { provider, logger });

  let server: Deno.HttpServer | undefined;
  let shuttingDown = false;
  const done = Promise.withResolvers<number>();
  const shutdown = async (signal: string) => {
    if (shuttingDown) {
      logger.warn("balancer.exit_now", { signal });
      Deno.exit(130);
    }
    shuttingDown = true;
    logger.info("balancer.stopping", { signal });
    await Promise.all([server?.shutdown(), balancer.close()]);
    logger.info("balancer.stopped");
    done.resolve(0);
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => shutdown(signal));
  }

  logger.info("balancer.starting", {
    replicas: config.replicas,
    provider: provider.kind,
    ring: "spec",
    probing: config.probing,
  });
  try {
    await balancer.start();
  } catch (error) {
    // The manager replaces what failed; serve anyway so /rep shows what is happening.
    logger.error("balancer.start_degraded", { reason: errorMessage(error) });
  }
  if (shuttingDown) return done.promise;
  try {
    server = Deno.serve({
      port: config.port,
      hostname: config.host,
      onListen: ({ hostname, port }) => {
        const shown = hostname === "0.0.0.0" ? "localhost" : hostname;
        console.log(
          `balancer listening on http://${shown}:${port}/ with ${config.replicas} replicas`,
        );
        logger.info("balancer.listening", { host: hostname, port });
      },
    }, balancer.app.fetch);
  } catch (error) {
    console.error(
      `balancer: cannot listen on ${config.host}:${config.port}: ${errorMessage(error)}`,
    );
    await balancer.close();
    return 1;
  }
  return done.promise;
}

if (import.meta.main) Deno.exit(await main());
