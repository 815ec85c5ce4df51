/**
 * Replicas as local child processes: `deno run server/main.ts` on a free loopback port.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { LISTENING_LINE, SERVER_ENV_VARS } from "../../contract/mod.ts";
import {
  delay,
  errorMessage,
  type Logger,
  readLines,
  type Timer,
  withDefaults,
} from "../support/mod.ts";
import {
  type Provider,
  type ReplicaExit,
  type ReplicaHandle,
  type ReplicaSpec,
  serverIdOf,
} from "./provider.ts";

/** Options of a {@linkcode ProcessProvider}. */
export interface ProcessProviderOptions {
  /** Logger for the replicas' own output (at debug level) and their exits. */
  logger: Logger;
  /** Interface replicas listen on. Default `127.0.0.1`. */
  host?: string;
  /** Extra environment for every replica (fault hooks in tests). */
  env?: Readonly<Record<string, string>>;
  /** How long a replica may take to print its listening line. Default 10 000 ms. */
  startTimeoutMs?: number;
  /** How long `stop()` waits after SIGTERM before SIGKILL. Default 5 000 ms. */
  stopGraceMs?: number;
  /** The Deno executable. Default: the one running the balancer. */
  denoPath?: string;
  /** The replica entry point. Default: this repository's `server/main.ts`. */
  entry?: string;
  /** The deno.json for the replica's imports. Default: this repository's. */
  configPath?: string;
}

/** Thrown when a replica process cannot be started; the message says why, in one line. */
export class ProviderError extends Error {
  /** @param message What failed, with the replica's last words when there are any. */
  constructor(message: string) {
    super(message);
    this.name = "ProviderError";
  }
}

/**
 * Starts each replica as a child process of the balancer. The child's standard input stays
 * open for its whole life: when the balancer dies, even by SIGKILL, the pipe closes and the
 * child exits by itself (`EXIT_ON_STDIN_EOF`), so no replica outlives its balancer.
 */
export class ProcessProvider implements Provider {
  /** Provider name for logs and config. */
  readonly kind = "process";
  readonly #options: Required<Omit<ProcessProviderOptions, "env">> & {
    env: Readonly<Record<string, string>>;
  };

  /** @param options Where the replica code lives and how long to wait for it. */
  constructor(options: ProcessProviderOptions) {
    this.#options = withDefaults({
      host: "127.0.0.1",
      env: {},
      startTimeoutMs: 10_000,
      stopGraceMs: 5_000,
      denoPath: Deno.execPath(),
      entry: fileURLToPath(import.meta.resolve("../../server/main.ts")),
      configPath: fileURLToPath(import.meta.resolve("../../deno.json")),
    }, options);
  }

  /** Spawns the replica and resolves with its URL once it prints its listening line. */
  async start(spec: ReplicaSpec): Promise<ReplicaHandle> {
    const { host, logger, startTimeoutMs } = this.#options;
    const command = new Deno.Command(this.#options.denoPath, {
      args: [
        "run",
        "--no-prompt",
        `--config=${this.#options.configPath}`,
        `--allow-net=${host}`,
        `--allow-env=${SERVER_ENV_VARS.join(",")}`,
        this.#options.entry,
      ],
      env: {
        ...this.#options.env,
        PORT: "0",
        HOST: host,
        SERVER_ID: serverIdOf(spec),
        EXIT_ON_STDIN_EOF: "1",
      },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    });
    let child: Deno.ChildProcess;
    try {
      child = command.spawn();
    } catch (error) {
      throw new ProviderError(`cannot run ${this.#options.denoPath}: ${errorMessage(error)}`);
    }
    const pid = child.pid;
    const exited: Promise<ReplicaExit> = child.status.then(describeExit);
    const recent: string[] = [];
    const remember = (line: string) => {
      recent.push(line);
      if (recent.length > 5) recent.shift();
      logger.debug("replica.output", { name: spec.name, pid, line });
    };
    pipeLines(child.stderr, remember);

    let timer: Timer | undefined;
    const listening = new Promise<number>((resolve, reject) => {
      pipeLines(child.stdout, (line) => {
        remember(line);
        const port = line.match(LISTENING_LINE)?.[1];
        if (port) resolve(Number(port));
      }).then(() => reject(new ProviderError("closed its output before listening")));
      exited.then((exit) => reject(new ProviderError(`${exit.description} before listening`)));
      timer = setTimeout(
        () => reject(new ProviderError(`did not listen within ${startTimeoutMs} ms`)),
        startTimeoutMs,
      );
    });

    const handle = new ProcessHandle(spec.name, host, child, exited, this.#options.stopGraceMs);
    try {
      handle.port = await listening;
    } catch (error) {
      await handle.stop();
      const lastWords = recent.length ? `: ${recent.join(" | ")}` : "";
      throw new ProviderError(
        `replica '${spec.name}' (pid ${pid}) ${errorMessage(error)}${lastWords}`,
      );
    } finally {
      clearTimeout(timer);
    }
    return handle;
  }
}

class ProcessHandle implements ReplicaHandle {
  port = 0;
  #stopping?: Promise<void>;

  constructor(
    readonly name: string,
    readonly host: string,
    readonly child: Deno.ChildProcess,
    readonly exited: Promise<ReplicaExit>,
    readonly graceMs: number,
  ) {}

  get url(): string {
    const host = this.host.includes(":") ? `[${this.host}]` : this.host;
    return `http://${host}:${this.port}`;
  }

  get describe(): Record<string, string | number> {
    return { pid: this.child.pid, port: this.port };
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    let done = false;
    const exited = this.exited.then(() => {
      done = true;
    });
    signal(this.child, "SIGTERM");
    const grace = new AbortController();
    await Promise.race([exited, delay(this.graceMs, grace.signal)]);
    grace.abort();
    if (!done) signal(this.child, "SIGKILL");
    await exited;
    // Closing stdin after exit releases the pipe; a failed close means it already was.
    await this.child.stdin.close().catch(() => {});
  }
}

function signal(child: Deno.ChildProcess, name: Deno.Signal): void {
  try {
    child.kill(name);
  } catch {
    // Already exited: nothing to signal.
  }
}

function describeExit(status: Deno.CommandStatus): ReplicaExit {
  if (status.signal) {
    return { code: status.code, signal: status.signal, description: `killed by ${status.signal}` };
  }
  return { code: status.code, description: `exited with code ${status.code}` };
}

/** Calls `onLine` for each line of `stream`; resolves at its end. Never rejects. */
async function pipeLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  try {
    for await (const line of readLines(stream)) onLine(line);
  } catch {
    // The pipe broke because the child died; its exit is reported through `exited`.
  }
}
