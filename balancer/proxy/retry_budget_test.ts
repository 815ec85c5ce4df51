import assert from "node:assert/strict";
import fc from "fast-check";
import { RetryBudget } from "./retry_budget.ts";
import { waitFor } from "../testing/mod.ts";

Deno.test("retry budget: at most ratio × requests over the window, with a floor", () => {
  const budget = new RetryBudget({ ratio: 0.2, minRetries: 2, windowMs: 1_000, now: () => 0 });
  // A quiet balancer still gets the floor.
  assert.equal(budget.tryRetry(), true);
  assert.equal(budget.tryRetry(), true);
  assert.equal(budget.tryRetry(), false);
  // 100 requests allow 20 retries in all (2 already taken).
  for (let i = 0; i < 100; i++) budget.request();
  let granted = 0;
  while (budget.tryRetry()) granted++;
  assert.equal(granted, 18);
});

Deno.test("retry budget: the window slides, old requests and retries expire", () => {
  let now = 0;
  const budget = new RetryBudget({ ratio: 0.5, minRetries: 0, windowMs: 1_000, now: () => now });
  for (let i = 0; i < 10; i++) budget.request();
  for (let i = 0; i < 5; i++) assert.equal(budget.tryRetry(), true);
  assert.equal(budget.tryRetry(), false);
  now = 1_100; // everything above fell out of the window
  assert.equal(budget.tryRetry(), false, "no requests in the window, no floor");
  budget.request();
  budget.request();
  assert.equal(budget.tryRetry(), true);
  assert.equal(budget.tryRetry(), false);
});

Deno.test("retry budget: agrees with a reference model over random timelines (fast-check)", () => {
  // The reference keeps every event with its time; an event counts while its 100 ms bucket is
  // one of the last ten (the window is 1 s in ten buckets).
  const step = fc.oneof(
    fc.record({ kind: fc.constant("wait" as const), ms: fc.integer({ min: 0, max: 700 }) }),
    fc.record({ kind: fc.constant("request" as const), n: fc.integer({ min: 1, max: 20 }) }),
    fc.record({ kind: fc.constant("retry" as const) }),
  );
  fc.assert(
    fc.property(
      fc.array(step, { maxLength: 60 }),
      fc.constantFrom(0, 0.2, 0.5),
      fc.integer({ min: 0, max: 3 }),
      (steps, ratio, minRetries) => {
        let now = 0;
        const budget = new RetryBudget({ ratio, minRetries, windowMs: 1_000, now: () => now });
        const requests: number[] = [];
        const retries: number[] = [];
        const inWindow = (times: number[]) =>
          times.filter((t) => Math.floor(t / 100) > Math.floor(now / 100) - 10).length;
        for (const s of steps) {
          if (s.kind === "wait") now += s.ms;
          else if (s.kind === "request") {
            for (let i = 0; i < s.n; i++) budget.request();
            for (let i = 0; i < s.n; i++) requests.push(now);
          } else {
            const allowed =
              inWindow(retries) < Math.max(minRetries, Math.floor(ratio * inWindow(requests)));
            assert.equal(budget.tryRetry(), allowed, `at ${now} ms`);
            if (allowed) retries.push(now);
          }
        }
      },
    ),
    { numRuns: 500, seed: 20261130 },
  );
});

Deno.test("retry budget: the window is 10 s unless told otherwise", () => {
  let now = 0;
  const budget = new RetryBudget({ ratio: 1, minRetries: 0, now: () => now });
  budget.request();
  now = 9_950;
  assert.equal(budget.tryRetry(), true, "a request 9.95 s ago still counts");
  assert.equal(budget.tryRetry(), false);
  now = 10_050; // the window moves in whole seconds: it now starts at 1 s
  assert.equal(budget.tryRetry(), false, "the request at 0 s fell out; the retry did not");
  now = 19_050;
  budget.request();
  assert.equal(budget.tryRetry(), true, "the retry at 9.95 s fell out too");
  now = 30_000;
  assert.equal(budget.tryRetry(), false, "and so did every request");
});

Deno.test("retry budget: by default the window slides on the real clock", async () => {
  const budget = new RetryBudget({ ratio: 0, minRetries: 1, windowMs: 100 });
  assert.equal(budget.tryRetry(), true);
  assert.equal(budget.tryRetry(), false);
  const started = performance.now();
  await waitFor(() => performance.now() - started > 120, "the window has passed", 5_000, 10);
  assert.equal(budget.tryRetry(), true, "the retry fell out of the window");
});
