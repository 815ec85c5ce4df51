import assert from "node:assert/strict";
import { createLogger, formatJsonLine, formatLine, parseLine } from "./logger.ts";

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

Deno.test("json lines: time, level and event first, the fields after; parseLine reads them back", () => {
  const time = Date.parse("2026-11-25T14:00:00.000Z");
  const line = formatJsonLine(time, "info", "access", {
    replica: "Server 1",
    status: 200,
    spare: false,
    event: "not this one", // (a field may not hide the event's name)
    skipped: undefined,
  });
  assert.equal(
    line,
    '{"time":"2026-11-25T14:00:00.000Z","level":"info","event":"access","replica":"Server 1","status":200,"spare":false}',
  );
  assert.deepEqual(parseLine(line), {
    time,
    level: "info",
    event: "access",
    fields: { replica: "Server 1", status: "200", spare: "false" },
  });
  assert.equal(parseLine('{"level":"info"}'), undefined);
  assert.equal(parseLine("{not json"), undefined);
  const lines: string[] = [];
  createLogger({ format: "json", write: (l) => lines.push(l), now: () => time }).warn("x", {
    a: 1,
  });
  assert.deepEqual(lines, ['{"time":"2026-11-25T14:00:00.000Z","level":"warn","event":"x","a":1}']);
});
