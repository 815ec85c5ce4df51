import assert from "node:assert/strict";
import { formatLine, parseLine } from "./logger.ts";

Deno.test("parseLine reads back what formatLine writes, quoted values included", () => {
  const time = Date.parse("2026-11-25T14:00:00.000Z");
  const line = formatLine(time, "warn", "replica.stopping", {
    name: "Server 1",
    why: 'ejected: "died" (exit 137)',
    ordinal: 2,
    spare: false,
    skipped: undefined,
  });
  assert.equal(
    line,
    '2026-11-25T14:00:00.000Z warn  replica.stopping name="Server 1" why="ejected: \\"died\\" (exit 137)" ordinal=2 spare=false',
  );
  assert.deepEqual(parseLine(line), {
    time,
    level: "warn",
    event: "replica.stopping",
    fields: { name: "Server 1", why: 'ejected: "died" (exit 137)', ordinal: "2", spare: "false" },
  });
  assert.equal(parseLine('server "S1" listening on http://127.0.0.1:1/'), undefined);
});
