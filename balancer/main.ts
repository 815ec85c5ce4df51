/**
 * The balancer's entry point: `deno task start [options]` (see `--help`).
 *
 * Starts the configured replicas, listens, and on SIGINT/SIGTERM stops every replica it
 * started before exiting (unless `--keep-replicas`). A second signal exits at once: process
 * replicas then follow by themselves (their stdin pipe closes); containers stay, for the
 * next balancer with the same owner to adopt.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { describeRing } from "../ring/mod.ts";
import { type Balancer, createBalancer, createWorkerBalancer, HOT_KEYS_SENT } from "./balancer.ts";
import type { HotKey } from "./insight/mod.ts";
import { followMembership, MembershipBroadcaster, OutcomeBatcher } from "./workers.ts";
import { failureResponse } from "../contract/mod.ts";
import {
  adminExposure,
  type BalancerConfig,
  ConfigError,
  HELP,
  parseConfig,
} from "./config/mod.ts";
import {
  DockerClient,
  DockerProvider,
  socketFromDockerHost,
  SwarmProvider,
} from "./providers/docker/mod.ts";
import { createLogger, delay, errorMessage, type Logger } from "./support/mod.ts";
import { otelRequested, type ProxySnapshot } from "./metrics/mod.ts";
import { ProcessProvider, type Provider, StaticProvider } from "./providers/mod.ts";

/** The configured provider. Replicas get the balancer's `FAULT_*` variables (test hooks). */
function createProvider(
  config: BalancerConfig,
  logger: Logger,
  env: Record<string, string>,
): Provider {
  const { provider } = config;
  if (provider.kind === "process") {
    return new ProcessProvider({ logger, startTimeoutMs: config.cluster.startTimeoutMs });
  }
  if (provider.kind === "static") return new StaticProvider(provider.backends);
  const faults = Object.fromEntries(
    Object.entries(env).filter(([name]) => name.startsWith("FAULT_")),
  );
  const client = new DockerClient({ socket: socketFromDockerHost(env.DOCKER_HOST) });
  if (provider.kind === "swarm") {
    const { image, network, owner, reach } = provider.docker;
    return new SwarmProvider({
      client,
      logger,
      image,
      network,
      owner,
      reach: reach === "name" ? "name" : "auto",
      endpointMode: provider.endpointMode,
      env: faults,
    });
  }
  return new DockerProvider({ client, logger, ...provider.docker, env: faults });
}

/** Set in the environment of the extra worker processes `--workers` starts. */
const WORKER_ENV = "RINGLB_WORKER";
/** The control plane's internal admin URL (loopback), for a worker to relay admin requests to. */
const ADMIN_URL_ENV = "RINGLB_ADMIN_URL";

/**
 * Starts `count` more processes of this balancer on `port` (`reusePort`: the kernel spreads
 * connections over them). They hold a pipe from this one on stdin and exit when it closes,
 * like replicas do, so none outlives it.
 */
function startWorkers(
  count: number,
  port: number,
  adminUrl: string,
  logger: Logger,
  stopping: () => boolean,
): Deno.ChildProcess[] {
  const config = fileURLToPath(new URL("../deno.json", import.meta.url));
  return Array.from({ length: count }, (_, i) => {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net",
        "--allow-env",
        "--allow-read",
        `--config=${config}`,
        fileURLToPath(import.meta.url),
        ...Deno.args,
        "--port",
        String(port),
      ],
      env: { [WORKER_ENV]: String(i + 2), [ADMIN_URL_ENV]: adminUrl },
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    logger.info("worker.started", { worker: i + 2, pid: child.pid });
    child.status.then((status) => {
      if (!stopping()) {
        logger.error("worker.exited", { worker: i + 2, pid: child.pid, code: status.code });
      }
    });
    return child;
  });
}

/**
 * A worker (processes 2…N of `--workers N`): routes by the membership its control plane sends
 * on stdin, and exits when that pipe closes (the control plane is gone).
 */
async function runWorker(
  config: BalancerConfig,
  logger: Logger,
  env: Record<string, string>,
  tls: { cert: string; key: string } | undefined,
): Promise<number> {
  const adminUrl = env[ADMIN_URL_ENV] ?? "";
  const encoder = new TextEncoder();
  const out = Deno.stdout.writable.getWriter();
  let writing = Promise.resolve();
  const write = (line: string) => {
    writing = writing.then(() => out.write(encoder.encode(line))).catch(() => {});
  };
  const outcomes = new OutcomeBatcher(write);
  const worker = createWorkerBalancer(config, {
    logger,
    report: (name, outcome) => outcomes.push(name, outcome),
    relayAdmin: async (request) => {
      const url = new URL(request.url);
      try {
        return await fetch(`${adminUrl}${url.pathname}${url.search}`, {
          method: request.method,
          headers: request.headers,
          body: request.body,
          redirect: "manual",
          signal: request.signal,
        });
      } catch (error) {
        return failureResponse(502, `The control plane did not answer: ${errorMessage(error)}`);
      }
    },
  });
  // Listen once the first membership is in: a connection the kernel hands over earlier would
  // find no replica (the control plane sends it at once).
  const first = Promise.withResolvers<void>();
  const following = followMembership(
    Deno.stdin.readable,
    worker.mirror,
    write,
    logger,
    first.resolve,
  );
  await Promise.race([first.promise, following]);
  const { listen } = config;
  let server: { shutdown(): Promise<void> };
  if (listen.front === "serve") {
    const served = Deno.serve({
      port: listen.port,
      hostname: listen.host,
      reusePort: true,
      onListen: () => {},
      ...tls,
    }, worker.handler);
    server = served;
  } else {
    const options = { port: listen.port, hostname: listen.host, reusePort: true };
    const listener = tls ? Deno.listenTls({ ...options, ...tls }) : Deno.listen(options);
    const front = worker.socketFront(listener, tls !== undefined);
    const serving = front.serve();
    server = { shutdown: () => front.shutdown().then(() => serving) };
  }
  // What this worker counted goes to the control plane every second (its /metrics shows the
  // sum), and so do its hottest keys (its /explain?top=N counts them).
  const reporting = setInterval(() => {
    write(JSON.stringify({ metrics: worker.metrics.snapshot() }) + "\n");
    write(JSON.stringify({ hot: worker.hot.top(HOT_KEYS_SENT, performance.now()) }) + "\n");
  }, 1000);
  const stop = async () => {
    await Promise.race([server.shutdown(), delay(config.cluster.drainTimeoutMs)]);
    clearInterval(reporting);
    outcomes.flush();
    await writing; // (the last outcomes reach the control plane before the exit)
    worker.close();
    Deno.exit(0);
  };
  // Ctrl-C reaches the whole process group: the control plane drains first, then stops us.
  Deno.addSignalListener("SIGINT", () => {});
  Deno.addSignalListener("SIGTERM", stop);
  await following;
  Deno.exit(0); // the control plane is gone
}

async function main(): Promise<number> {
  const env = Deno.env.toObject();
  let parsed;
  try {
    parsed = parseConfig(Deno.args, env);
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
  const { listen } = config;
  const worker = env[WORKER_ENV];
  const logger = createLogger({ level: config.logLevel, format: config.logFormat });
  let tls: { cert: string; key: string } | undefined;
  try {
    if (listen.tlsCert) {
      tls = {
        cert: await Deno.readTextFile(listen.tlsCert),
        key: await Deno.readTextFile(listen.tlsKey),
      };
    }
  } catch (error) {
    console.error(`balancer: cannot read --tls-cert or --tls-key: ${errorMessage(error)}`);
    return 1;
  }
  if (worker) return await runWorker(config, logger, env, tls);
  let workers: Deno.ChildProcess[] = [];
  let provider: Provider;
  try {
    provider = createProvider(config, logger, env);
    await provider.init?.();
  } catch (error) {
    console.error(`balancer: ${errorMessage(error)}`);
    return 1;
  }
  // With workers, this process is their control plane: every change of the ring goes to them,
  // and /add and /rm answer once they all have it.
  const broadcaster = listen.workers > 1 ? new MembershipBroadcaster(logger) : undefined;
  /** What each worker's proxy counted, as it last sent it. */
  const counted = new Map<number, ProxySnapshot>();
  /** Each running worker's hottest keys, as it last sent them. */
  const hotByWorker = new Map<number, HotKey[]>();
  const balancer: Balancer = createBalancer(config, {
    provider,
    logger,
    otel: otelRequested(env),
    onRingChange: broadcaster && (() => broadcaster.publish(balancer.manager.members())),
    onReplicaEnded: broadcaster && ((name) => broadcaster.ended(name)),
    workersSynced: broadcaster && (() => broadcaster.synced()),
    workerMetrics: broadcaster && (() => [...counted.values()]),
    workerHotKeys: broadcaster && (() => [...hotByWorker.values()]),
  });

  /** What listens: `Deno.serve`'s server or the socket front; both drain on shutdown. */
  let server: { shutdown(): Promise<void> } | undefined;
  /** The admin API's own listener (`--admin-listen`), in the first process only. */
  let adminServer: Deno.HttpServer | undefined;
  /** The loopback listener workers relay admin requests to. */
  let internalAdmin: Deno.HttpServer | undefined;
  let shuttingDown = false;
  const done = Promise.withResolvers<number>();
  const shutdown = async (signal: string) => {
    if (shuttingDown) {
      logger.warn("balancer.exit_now", { signal });
      Deno.exit(130);
    }
    shuttingDown = true;
    logger.info("balancer.stopping", { signal });
    balancer.closeStreams();
    try {
      // First the clients' requests in flight finish (within the drain timeout), then the
      // replicas are stopped: the other order would cut those requests off.
      // The workers drain their own clients at the same time (SIGTERM); the listener they relay
      // admin requests to closes after they have.
      for (const child of workers) {
        try {
          child.kill("SIGTERM");
        } catch {
          // already gone
        }
      }
      const drained = new AbortController();
      await Promise.race([
        Promise.all([
          server?.shutdown(),
          adminServer?.shutdown(),
          Promise.all(workers.map((child) => child.status)),
        ]),
        delay(config.cluster.drainTimeoutMs, drained.signal),
      ]);
      drained.abort();
      await Promise.all(workers.map((child) => child.status));
      await internalAdmin?.shutdown();
      await balancer.close();
      logger.info("balancer.stopped");
      done.resolve(0);
    } catch (error) {
      logger.error("balancer.stop_failed", { reason: errorMessage(error) });
      done.resolve(1);
    }
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    // A worker stops on its parent's SIGTERM only: Ctrl-C reaches the whole process group,
    // and the parent drains first, then stops its workers.
    if (worker && signal === "SIGINT") Deno.addSignalListener(signal, () => {});
    else Deno.addSignalListener(signal, () => shutdown(signal));
  }

  logger.info("balancer.starting", {
    replicas: config.cluster.replicas,
    provider: provider.kind,
    spares: config.cluster.spares,
    ring: describeRing(config.ring),
  });
  try {
    await balancer.start();
  } catch (error) {
    // The manager replaces what failed; serve anyway so /rep shows what is happening.
    logger.error("balancer.start_degraded", { reason: errorMessage(error) });
  }
  if (shuttingDown) return done.promise;
  const scheme = tls ? "https" : "http";
  const onListen = ({ hostname, port }: { hostname: string; port: number }) => {
    if (worker) return;
    const shown = hostname === "0.0.0.0" ? "localhost" : hostname;
    const also = listen.workers > 1 ? ` and ${listen.workers} workers` : "";
    console.log(
      `balancer listening on ${scheme}://${shown}:${port}/ with ${config.cluster.replicas} replicas${also}`,
    );
    logger.info("balancer.listening", { host: hostname, port, front: listen.front });
  };
  try {
    let port: number;
    if (listen.front === "serve") {
      const served = Deno.serve({
        port: listen.port,
        hostname: listen.host,
        reusePort: listen.workers > 1,
        onListen,
        ...tls,
      }, balancer.handler);
      server = { shutdown: () => served.shutdown() };
      port = served.addr.port;
    } else {
      const options = { port: listen.port, hostname: listen.host, reusePort: listen.workers > 1 };
      const listener = tls ? Deno.listenTls({ ...options, ...tls }) : Deno.listen(options);
      const front = balancer.socketFront(listener, tls !== undefined);
      const serving = front.serve();
      server = { shutdown: () => front.shutdown().then(() => serving) };
      port = listener.addr.port;
      onListen({ hostname: listener.addr.hostname, port });
    }
    if (broadcaster) {
      // The workers relay admin requests here: loopback only, the same admin app (and token);
      // not needed when the admin API has its own listener (workers then proxy those paths).
      let adminUrl = "";
      if (!config.admin.listen) {
        const internal = Deno.serve(
          { hostname: "127.0.0.1", port: 0, onListen: () => {} },
          balancer.adminApp.fetch,
        );
        internalAdmin = internal;
        adminUrl = `http://127.0.0.1:${internal.addr.port}`;
      }
      workers = startWorkers(listen.workers - 1, port, adminUrl, logger, () => shuttingDown);
      const encoder = new TextEncoder();
      for (const child of workers) {
        const input = child.stdin.getWriter();
        let writing = Promise.resolve();
        const write = (line: string) => {
          writing = writing.then(() => input.write(encoder.encode(line))).catch(() => {});
        };
        broadcaster.attach(
          write,
          child.stdout,
          (name, outcome) => balancer.manager.report(name, outcome),
          // A worker that exits keeps its counts in the sum (counters do not go down); only
          // its in-flight gauge leaves.
          (snapshot) => {
            const last = snapshot ?? counted.get(child.pid);
            if (last) counted.set(child.pid, snapshot ?? { ...last, inFlight: 0 });
          },
          (hot) => hot ? hotByWorker.set(child.pid, hot) : hotByWorker.delete(child.pid),
        ).catch(() => {});
      }
    }
  } catch (error) {
    console.error(
      `balancer: cannot listen on ${listen.host}:${listen.port}: ${errorMessage(error)}`,
    );
    await balancer.close();
    return 1;
  }
  const { admin } = config;
  if (admin.listen && !worker) {
    try {
      adminServer = Deno.serve({
        hostname: admin.listen.host,
        port: admin.listen.port,
        onListen: ({ hostname, port }) => {
          console.log(
            `admin API (/rep, /add, /rm, /metrics, /dashboard) on http://${hostname}:${port}/`,
          );
          logger.info("admin.listening", { host: hostname, port });
        },
      }, balancer.adminApp.fetch);
    } catch (error) {
      console.error(
        `balancer: cannot listen on --admin-listen ${admin.listen.host}:${admin.listen.port}: ${
          errorMessage(error)
        }`,
      );
      await server?.shutdown();
      await balancer.close();
      return 1;
    }
  }
  const exposed = worker ? undefined : adminExposure(config);
  if (exposed) logger.warn("admin.unprotected", { reason: exposed });
  return done.promise;
}

if (import.meta.main) Deno.exit(await main());
