import assert from "node:assert/strict";
import { Abort } from "./abort.ts";

Deno.test("abort: the hook is called once, with the reason set; later aborts change nothing", () => {
  const abort = new Abort();
  const seen: unknown[] = [];
  abort.onAbort(() => seen.push(abort.reason));
  assert.equal(abort.aborted, false);
  abort.abort("first");
  abort.abort("second");
  assert.deepEqual(seen, ["first"]);
  assert.equal(abort.aborted, true);
  assert.equal(abort.reason, "first");
  assert.throws(() => abort.throwIfAborted(), (e) => e === "first");
});

Deno.test("abort: a removed or replaced hook is not called; one set after the abort neither", () => {
  const abort = new Abort();
  const calls: string[] = [];
  abort.onAbort(() => calls.push("replaced"));
  abort.onAbort(() => calls.push("removed"));
  abort.onAbort(undefined);
  abort.abort();
  abort.onAbort(() => calls.push("late"));
  abort.abort();
  assert.deepEqual(calls, []);
  assert.ok(abort.reason instanceof DOMException && abort.reason.name === "AbortError");
  new Abort().throwIfAborted(); // not aborted: no throw
});

Deno.test("abort: toSignal and following carry the abort and its reason across", () => {
  const abort = new Abort();
  const signal = abort.toSignal();
  assert.equal(signal.aborted, false);
  abort.abort("gone");
  assert.equal(signal.aborted, true);
  assert.equal(signal.reason, "gone");
  assert.equal(abort.toSignal().reason, "gone", "a signal made after the abort is aborted");

  const controller = new AbortController();
  const following = Abort.following(controller.signal);
  assert.equal(following.aborted, false);
  controller.abort("left");
  assert.equal(following.reason, "left");
  assert.equal(Abort.following(controller.signal).aborted, true);
});
