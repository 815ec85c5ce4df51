/**
 * Sends request ids through a running balancer over HTTP and counts, from the replies, which
 * replica answered each (analysis ). Loopback only: the caller starts the
 * balancer on 127.0.0.1.
 *
 * @module
 */

/** What the replies said. */
export interface ReplyCount {
  /** Answers per replica, from `"Hello from Server: <ID>"` (its `SERVER_ID`: its number). */
  counts: Record<string, number>;
  /** Requests that failed (network error, non-200, or an unexpected body). */
  failed: number;
  /** First few failure descriptions. */
  errors: string[];
  /** Wall time of the whole run, ms. */
  elapsedMs: number;
}

const REPLY = /^\{"message":"Hello from Server: (.+)","status":"successful"\}$/;

/**
 * GETs `<baseUrl>/home?id=<id>` for every id, `concurrency` at a time, and counts the replicas
 * that answered. Each request gets `timeoutMs`. `onProgress(done)` is called as they finish.
 */
export async function countReplies(
  baseUrl: string,
  ids: readonly number[],
  options: { concurrency?: number; timeoutMs?: number; onProgress?: (done: number) => void } = {},
): Promise<ReplyCount> {
  const { concurrency = 32, timeoutMs = 10_000, onProgress } = options;
  const counts: Record<string, number> = {};
  const errors: string[] = [];
  let failed = 0;
  let next = 0;
  let done = 0;
  const started = performance.now();
  const fail = (why: string) => {
    failed++;
    if (errors.length < 5) errors.push(why);
  };
  const worker = async () => {
    while (next < ids.length) {
      const id = ids[next++];
      try {
        const res = await fetch(`${baseUrl}/home?id=${id}`, {
          signal: AbortSignal.timeout(timeoutMs),
        });
        const body = await res.text();
        const match = res.status === 200 ? body.match(REPLY) : null;
        if (match) counts[match[1]] = (counts[match[1]] ?? 0) + 1;
        else fail(`id ${id}: ${res.status} ${body.slice(0, 100)}`);
      } catch (error) {
        fail(`id ${id}: ${String(error).slice(0, 100)}`);
      }
      onProgress?.(++done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, ids.length) }, worker));
  return { counts, failed, errors, elapsedMs: performance.now() - started };
}
