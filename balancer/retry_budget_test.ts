import assert from "node:assert/strict";
import { RetryBudget } from "./retry_budget.ts";

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
