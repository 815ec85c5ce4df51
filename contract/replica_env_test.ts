import assert from "node:assert/strict";
import { SERVER_ENV_VARS } from "./mod.ts";

Deno.test("deno.json's replica permission set grants exactly the variables the replica reads", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  assert.deepEqual([...config.permissions.replica.env].sort(), [...SERVER_ENV_VARS].sort());
});
