import assert from "node:assert/strict";
import { HELP, settingsTable } from "../balancer/config/mod.ts";
import { cells, tableIn } from "./config_docs.ts";

Deno.test("docs/configuration.md lists the settings as the flag table has them (deno task docs)", async () => {
  const doc = await Deno.readTextFile(new URL("../docs/configuration.md", import.meta.url));
  assert.deepEqual(cells(tableIn(doc)), cells(settingsTable()));
});

Deno.test("--help and the docs come from the same settings: every flag and variable in both", () => {
  const rows = cells(settingsTable()).slice(1);
  assert.ok(rows.length >= 38);
  for (const [flag, env] of rows) {
    assert.ok(HELP.includes(`${flag.slice(1, -1)} `), flag);
    assert.ok(HELP.includes(`[${env.slice(1, -1)}]`), env);
  }
});
