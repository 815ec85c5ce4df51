import assert from "node:assert/strict";
import fc from "fast-check";
import {
  MembershipBroadcaster,
  OutcomeBatcher,
  parseEnded,
  parseMembership,
  parseWorkerMessage,
} from "./workers.ts";
import { recordingLogger, waitFor } from "./testing/mod.ts";
import { ProxyMetrics } from "./metrics/mod.ts";

Deno.test("worker messages are parsed strictly: an ack, or outcomes of known kinds; nothing else", () => {
  assert.deepEqual(parseWorkerMessage('{"ack":3}'), { ack: 3 });
  assert.deepEqual(parseWorkerMessage('{"outcomes":[["S1","reset"],["S2","success"]]}'), {
    outcomes: [["S1", "reset"], ["S2", "success"]],
  });
  for (
    const bad of [
      "",
      "ack 3",
      "[]",
      "null",
      '{"ack":-1}',
      '{"ack":1.5}',
      '{"ack":"3"}',
      '{"ack":3,"x":1}',
      '{"outcomes":[["S1","exploded"]]}',
      '{"outcomes":[["S1"]]}',
      '{"outcomes":{"S1":"reset"}}',
      '{"metrics":{}}',
      '{"metrics":{"answers":[["S1",[1,2]]]}}',
    ]
  ) assert.equal(parseWorkerMessage(bad), undefined, bad);
  const counted = new ProxyMetrics();
  counted.answered("S1", "GET", 200, 0.001);
  const snapshot = JSON.parse(JSON.stringify(counted.snapshot()));
  assert.deepEqual(parseWorkerMessage(JSON.stringify({ metrics: snapshot })), {
    metrics: snapshot,
  });
  snapshot.retries = -1;
  assert.equal(parseWorkerMessage(JSON.stringify({ metrics: snapshot })), undefined, "negative");
  // Whatever a worker prints, the parser answers a message or undefined, never throws.
  fc.assert(fc.property(fc.string(), (line) => {
    parseWorkerMessage(line);
  }));
});

Deno.test("a worker's hot keys are parsed strictly: four fields, counts not negative, 256 at most", () => {
  const hot = [{ key: "777", count: 80, error: 0, perSecond: 1.33 }];
  assert.deepEqual(parseWorkerMessage(JSON.stringify({ hot })), { hot });
  assert.deepEqual(parseWorkerMessage('{"hot":[]}'), { hot: [] });
  const entry = { key: "k", count: 8, error: 0, perSecond: 1 };
  for (
    const bad of [
      [{ ...entry, count: -8 }],
      [{ ...entry, key: 7 }],
      [{ ...entry, extra: 1 }],
      [{ key: "k", count: 8, error: 0 }],
      [{ ...entry, perSecond: "1" }],
      [{ ...entry, key: "k".repeat(8193) }],
      Array.from({ length: 257 }, (_, i) => ({ ...entry, key: `k${i}` })),
      "777",
    ]
  ) {
    assert.equal(parseWorkerMessage(JSON.stringify({ hot: bad })), undefined, JSON.stringify(bad));
  }
  assert.equal(parseWorkerMessage(JSON.stringify({ hot, ack: 1 })), undefined, "two messages");
});

Deno.test("end lines are parsed strictly", () => {
  assert.equal(parseEnded('{"ended":"S1"}'), "S1");
  for (const bad of ['{"ended":1}', '{"ended":"S1","x":1}', "ended S1", '{"version":1}']) {
    assert.equal(parseEnded(bad), undefined, bad);
  }
});

Deno.test("membership lines are parsed strictly", () => {
  const update = { version: 2, members: [{ name: "S1", ordinal: 1, url: "http://127.0.0.1:1" }] };
  assert.deepEqual(parseMembership(JSON.stringify(update)), update);
  for (
    const bad of [
      "{",
      '{"version":2}',
      '{"version":"2","members":[]}',
      '{"version":2,"members":[{"name":"S1","ordinal":1}]}',
      '{"version":2,"members":[{"name":"S1","ordinal":1,"url":"ftp://x"}]}',
      '{"version":2,"members":[{"name":1,"ordinal":1,"url":"http://x"}]}',
    ]
  ) assert.equal(parseMembership(bad), undefined, bad);
  fc.assert(fc.property(fc.string(), (line) => {
    parseMembership(line);
  }));
});

/** A worker on the other end of a pipe: what it was sent, and a stream to answer on. */
function fakeWorker() {
  const sent: string[] = [];
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const writer = writable.getWriter();
  return {
    sent,
    write: (line: string) => void sent.push(line),
    output: readable,
    say: (line: string) => writer.write(new TextEncoder().encode(line + "\n")),
    exit: () => writer.close(),
  };
}

Deno.test("broadcaster: a worker gets the current membership at once; synced() waits for every ack", async () => {
  const { logger } = recordingLogger();
  const broadcaster = new MembershipBroadcaster(logger);
  const member = { name: "S1", ordinal: 1, url: "http://127.0.0.1:1" };
  broadcaster.publish([member]);
  const one = fakeWorker();
  const two = fakeWorker();
  const reported: string[] = [];
  const attached = [one, two].map((w) =>
    broadcaster.attach(w.write, w.output, (name, outcome) => reported.push(`${name} ${outcome}`))
  );
  assert.deepEqual(JSON.parse(one.sent[0]), { version: 1, members: [member] });
  broadcaster.publish([]);
  let synced = false;
  const waiting = broadcaster.synced(5_000).then(() => synced = true);
  await one.say('{"ack":2}');
  await two.say('{"outcomes":[["S1","timeout"]]}');
  await waitFor(() => reported.length === 1, "the outcome");
  assert.equal(synced, false, "one worker has not acknowledged version 2 yet");
  await two.say('{"ack":2}');
  await waiting;
  assert.deepEqual(reported, ["S1 timeout"]);
  for (const w of [one, two]) await w.exit();
  await Promise.all(attached);
});

Deno.test("broadcaster: a worker that never acknowledges does not hold synced() past its timeout", async () => {
  const { logger, records } = recordingLogger();
  const broadcaster = new MembershipBroadcaster(logger);
  const silent = fakeWorker();
  const attached = broadcaster.attach(silent.write, silent.output, () => {});
  broadcaster.publish([]);
  await broadcaster.synced(50);
  assert.ok(records.some((r) => r.event === "workers.not_synced"));
  await silent.exit();
  await attached;
});

Deno.test("outcome batcher: one line per interval, nothing when there is nothing", async () => {
  const lines: string[] = [];
  const batcher = new OutcomeBatcher((line) => lines.push(line), 20);
  batcher.push("S1", "success");
  batcher.push("S2", "reset");
  await waitFor(() => lines.length === 1, "the batch");
  assert.deepEqual(JSON.parse(lines[0]), { outcomes: [["S1", "success"], ["S2", "reset"]] });
  batcher.flush();
  assert.equal(lines.length, 1);
});

Deno.test("membership: a member's weight is passed on when not 1, and checked", () => {
  const base = '{"version":1,"members":[{"name":"a","ordinal":1,"url":"http://127.0.0.1:1"';
  assert.deepEqual(parseMembership(`${base},"weight":2.5}]}`)?.members, [
    { name: "a", ordinal: 1, url: "http://127.0.0.1:1", weight: 2.5 },
  ]);
  for (const weight of ["0", "-1", '"2"', "null"]) {
    assert.equal(parseMembership(`${base},"weight":${weight}}]}`), undefined, weight);
  }
});
