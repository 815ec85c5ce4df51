/**
 * The processes a benchmark runs: three backends, and the balancers under test (ringlb,
 * nginx, HAProxy), each pinned to its CPUs, each listening on loopback only, each stopped
 * by its own pid.
 *
 * @module
 */

/** A started process that serves HTTP. */
export interface Peer {
  /** Label in tables. */
  readonly name: string;
  /** Base URL, loopback. */
  readonly url: string;
  /** The process whose tree is measured (CPU, RSS). */
  readonly pid: number;
  /** Stops it (by pid) and waits for it to end. */
  stop(): Promise<void>;
}

/** Backend ports: three servers. */
export const BACKEND_PORTS = [18081, 18082, 18083];
/** Backend names (what their replies say). */
export const BACKEND_NAMES = ["a", "b", "c"];

/** Whether `command` is on PATH. */
export function installed(command: string): boolean {
  try {
    return new Deno.Command("sh", { args: ["-c", `command -v ${command}`], stdout: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/** Resolves when something accepts TCP connections on 127.0.0.1:`port`; throws after 10 s. */
async function listening(port: number, what: string, child?: Deno.ChildProcess): Promise<void> {
  const deadline = performance.now() + 10_000;
  let exited = false;
  child?.status.then(() => exited = true);
  while (performance.now() < deadline) {
    if (exited) throw new Error(`${what} exited before listening on port ${port}`);
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`${what} did not listen on port ${port} within 10 s`);
}

/** Throws when something already listens on `port`: it would be measured instead. */
function assertFree(port: number, what: string): void {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
  } catch {
    throw new Error(
      `port ${port} is in use (a process left from an earlier run?); ${what} needs it`,
    );
  }
}

/** Starts `args` pinned to `cpus`, waits for `port`, returns a peer stopped by `signal`. */
async function spawn(
  name: string,
  cpus: string,
  args: string[],
  port: number,
  signal: Deno.Signal = "SIGTERM",
  path = "",
): Promise<Peer> {
  assertFree(port, name);
  const child = new Deno.Command("taskset", {
    args: ["-c", cpus, ...args],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const errors: string[] = [];
  (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      if (errors.length < 20) errors.push(chunk);
    }
  })().catch(() => {});
  const stop = async () => {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
    await child.status;
  };
  try {
    await listening(port, name, child);
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}\n${errors.join("")}`);
  }
  return { name, url: `http://127.0.0.1:${port}${path}`, pid: child.pid, stop };
}

/** The three backends: one nginx serving three ports, or, without nginx, three Deno replicas. */
export async function startBackends(dir: string, cpus: string, root: URL): Promise<Peer[]> {
  if (installed("nginx")) {
    const servers = BACKEND_PORTS.map((port, i) =>
      `server { listen 127.0.0.1:${port}; location /heartbeat { return 200 ''; }
    location / { return 200 '{"message":"Hello from Server: ${
        BACKEND_NAMES[i]
      }","status":"successful"}'; } }`
    );
    const conf = `${dir}/backends.conf`;
    await Deno.writeTextFile(
      conf,
      `daemon off; worker_processes 1; pid ${dir}/backends.pid; error_log stderr warn;
events { worker_connections 8192; }
http { access_log off; default_type application/json; keepalive_requests 1000000;
  ${servers.join("\n  ")}
}
`,
    );
    for (const port of BACKEND_PORTS.slice(1)) assertFree(port, "the backends");
    const peer = await spawn(
      "backends (nginx)",
      cpus,
      ["nginx", "-p", dir, "-c", conf],
      18081,
      "SIGQUIT",
    );
    try {
      for (const port of BACKEND_PORTS.slice(1)) await listening(port, "backends");
    } catch (error) {
      await peer.stop();
      throw error;
    }
    return [peer];
  }
  const server = new URL("server/main.ts", root).pathname;
  const peers: Peer[] = [];
  try {
    for (const [i, port] of BACKEND_PORTS.entries()) {
      peers.push(
        await spawn(`backend ${BACKEND_NAMES[i]} (deno)`, cpus, [
          "env",
          `PORT=${port}`,
          `SERVER_ID=${BACKEND_NAMES[i]}`,
          Deno.execPath(),
          "run",
          "--allow-net",
          "--allow-env",
          `--config=${new URL("deno.json", root).pathname}`,
          server,
        ], port),
      );
    }
  } catch (error) {
    for (const peer of peers) await peer.stop();
    throw error;
  }
  return peers;
}

const BACKENDS = BACKEND_PORTS.map((port, i) => `${BACKEND_NAMES[i]}=http://127.0.0.1:${port}`);

/** ringlb with the backends as static upstreams. */
export function startRinglb(
  cpus: string,
  port: number,
  root: URL,
  ring: string,
  extra: string[] = [],
): Promise<Peer> {
  const main = new URL("balancer/main.ts", root).pathname;
  return spawn(`ringlb (${ring})`, cpus, [
    Deno.execPath(),
    "run",
    "-q",
    "-P=balancer",
    `--config=${new URL("deno.json", root).pathname}`,
    main,
    "--provider",
    "static",
    "--backends",
    BACKENDS.join(","),
    "--ring",
    ring,
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    "--log-level",
    "warn",
    "--max-in-flight",
    "100000",
    ...extra,
  ], port);
}

/** `tools/bench/<script>` run by `deno` with loopback network only, `flags` before the script. */
function startBenchScript(
  name: string,
  cpus: string,
  port: number,
  root: URL,
  script: string,
  args: string[],
  { deno = Deno.execPath(), flags = [] as string[] } = {},
): Promise<Peer> {
  const path = new URL(`tools/bench/${script}`, root).pathname;
  return spawn(
    name,
    cpus,
    [deno, "run", "-q", ...flags, "--allow-net=127.0.0.1", path, ...args],
    port,
  );
}

/**
 * The probes, floors for ringlb on Deno: `relay` (`relay_probe.ts`), the least a Deno relay
 * does; `strict` (`strict_probe.ts`), that plus ringlb's strict parsing and header rewriting.
 */
export function startProbe(
  kind: "relay" | "strict",
  cpus: string,
  port: number,
  root: URL,
): Promise<Peer> {
  const name = kind === "relay" ? "Deno relay probe (floor)" : "Deno strict probe (floor, strict)";
  return startBenchScript(name, cpus, port, root, `${kind}_probe.ts`, [
    String(port),
    ...BACKEND_PORTS.map(String),
  ]);
}

/**
 * A server of `fairness.ts`: `listen` (JavaScript socket loops) or `serve` (`Deno.serve`), run
 * by the Deno at `deno` (this one by default: another version can be compared).
 */
export function startFairnessServer(
  kind: "listen" | "serve",
  cpus: string,
  port: number,
  busyUs: number,
  root: URL,
  deno = Deno.execPath(),
): Promise<Peer> {
  const name = kind === "listen" ? "Deno.listen loop" : "Deno.serve";
  const args = ["--serve", kind, "--port", String(port), "--busy-us", String(busyUs)];
  // (Another version may not read this one's config or lockfile.)
  return startBenchScript(name, cpus, port, root, "fairness.ts", args, {
    deno,
    flags: ["--no-config"],
  });
}

/** nginx: `hash $arg_id consistent`, one worker, upstream keep-alive sized per backend. */
export async function startNginx(dir: string, cpus: string, port: number): Promise<Peer> {
  const conf = `${dir}/nginx-lb.conf`;
  await Deno.writeTextFile(
    conf,
    `daemon off; worker_processes 1; pid ${dir}/nginx-lb.pid; error_log stderr warn;
events { worker_connections 20000; }
http {
  access_log off;
  upstream backends {
    hash $arg_id consistent;
    ${BACKEND_PORTS.map((p) => `server 127.0.0.1:${p};`).join("\n    ")}
    keepalive 192;            # idle connections kept: 64 per backend
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${port};
    keepalive_requests 1000000;
    client_header_timeout 10s;  # as ringlb's --header-timeout
    location / {
      proxy_pass http://backends;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`,
  );
  return spawn("nginx", cpus, ["nginx", "-p", dir, "-c", conf], port, "SIGQUIT");
}

/** HAProxy: `balance url_param id` + `hash-type consistent`, one thread, connection reuse. */
export async function startHaproxy(dir: string, cpus: string, port: number): Promise<Peer> {
  const conf = `${dir}/haproxy.cfg`;
  await Deno.writeTextFile(
    conf,
    `global
  nbthread 1
  maxconn 9000
defaults
  mode http
  maxconn 9000
  timeout http-request 10s
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  http-reuse always
frontend fe
  bind 127.0.0.1:${port}
  default_backend be
backend be
  balance url_param id
  hash-type consistent
${
      BACKEND_PORTS.map((p, i) => `  server ${BACKEND_NAMES[i]} 127.0.0.1:${p} pool-max-conn 64`)
        .join("\n")
    }
`,
  );
  return spawn("HAProxy", cpus, ["haproxy", "-db", "-f", conf], port, "SIGUSR1");
}

/** `nginx -v`, `haproxy -v` and `wrk -v`, for the record (absent ones are left out). */
export function versions(): Record<string, string> {
  const found: Record<string, string> = { deno: Deno.version.deno };
  for (const name of ["nginx", "haproxy", "wrk"]) {
    if (!installed(name)) continue;
    const out = new Deno.Command(name, { args: ["-v"], stdout: "piped", stderr: "piped" })
      .outputSync();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    found[name] = text.split("\n")[0].trim();
  }
  return found;
}
