/**
 * Model-based fuzz of the admin API (fast-check `commands`): sequences of `/add` and `/rm`
 * calls, valid ones (built against the replicas of the moment) as often as invalid ones
 * (names in use or unknown, counts too large, and arbitrary bodies and methods). After every
 * step: the answer is right for the call, a rejected call changed nothing, and `/rep`'s
 * membership equals both the ring's members and the replicas actually running.
 * `FUZZ_RUNS` sets the number of calls, about (default 2,000; `deno task fuzz` runs 10,000).
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { createBalancer } from "../balancer.ts";
import { parseConfig } from "../config/mod.ts";
import { silentLogger } from "../support/mod.ts";
import { FakeCluster } from "../testing/mod.ts";

const CALLS = Number(Deno.env.get("FUZZ_RUNS") ?? 2_000);
/** Longest sequence; fast-check's sequences average about half of it. */
const STEPS = 20;
const MAX = 12;

/**
 * What the test believes: each replica's server number (its ordinal: slot i holds the
 * replica numbered i + 1, or nothing). `/rep` lists them by number, and a new replica takes
 * the lowest free number.
 */
interface Model {
  slots: (string | undefined)[];
}

/** The replicas of the model as `/rep` lists them. */
function names(model: Readonly<Model>): string[] {
  return model.slots.filter((name): name is string => name !== undefined);
}

/** The system under test, and the tally of calls. */
interface Real {
  request(path: string, init?: RequestInit): Promise<Response>;
  rep(): Promise<string>;
  members(): string[];
  running(): string[];
  fresh(): string;
}

const tally = { calls: 0, accepted: 0 };

/** Sends a call and checks the answer's shape; returns its status and parsed body. */
async function call(real: Real, method: string, path: string, body?: string) {
  tally.calls++;
  const res = await real.request(path, { method, body });
  const text = await res.text();
  const reply = JSON.parse(text);
  assert.deepEqual(Object.keys(reply), ["message", "status"], text);
  assert.ok(res.status < 500, `${res.status} ${text}`);
  assert.equal(reply.status, res.status < 400 ? "successful" : "failure", text);
  if (res.status >= 400) assert.match(reply.message, /^<Error> /);
  else tally.accepted++;
  return { status: res.status, text, reply };
}

/** After every step: /rep, the ring and the running replicas agree, and match the model. */
async function agree(model: Model, real: Real): Promise<void> {
  const rep = JSON.parse(await real.rep()).message;
  assert.equal(rep.N, rep.replicas.length);
  assert.deepEqual(rep.replicas, names(model), "/rep is what the model expects");
  const listed = [...rep.replicas].sort();
  assert.deepEqual(real.members().sort(), listed, "the ring's members are /rep's replicas");
  assert.deepEqual(real.running().sort(), listed, "the running replicas are /rep's replicas");
}

/** A rejected call: 400, and nothing changed. */
async function rejected(model: Model, real: Real, method: string, path: string, body: unknown) {
  const before = await real.rep();
  const { status, text } = await call(real, method, path, JSON.stringify(body));
  assert.equal(status, 400, text);
  assert.equal(await real.rep(), before, "a rejected call changed /rep");
  await agree(model, real);
}

/** Picks `count` distinct names of `names` by the given seeds. */
function pick(names: readonly string[], seeds: readonly number[], count: number): string[] {
  const left = [...names];
  return seeds.slice(0, count).map((seed) => left.splice(seed % left.length, 1)[0])
    .filter((name) => name !== undefined);
}

type Command = fc.AsyncCommand<Model, Real, false>;

/** `/add` of n new replicas, `named` of them with fresh names: accepted. */
class AddNew implements Command {
  constructor(readonly n: number, readonly named: number) {}
  check = (m: Readonly<Model>) => names(m).length + this.n <= MAX;
  async run(model: Model, real: Real) {
    const hostnames = Array.from({ length: Math.min(this.named, this.n) }, () => real.fresh());
    const { status, text, reply } = await call(
      real,
      "POST",
      "/add",
      JSON.stringify({ n: this.n, hostnames }),
    );
    assert.equal(status, 200, text);
    assert.equal(text, await real.rep(), "the answer is the new /rep");
    // The named ones, then the random ones, each into the lowest free number.
    const random = "?";
    for (const name of [...hostnames, ...Array(this.n - hostnames.length).fill(random)]) {
      const free = model.slots.indexOf(undefined);
      model.slots[free < 0 ? model.slots.length : free] = name;
    }
    const expected = names(model);
    const got: string[] = reply.message.replicas;
    assert.equal(got.length, expected.length, text);
    got.forEach((name, i) => {
      if (expected[i] !== random) return assert.equal(name, expected[i], text);
      assert.match(name, /^replica-[0-9a-z]{6}(-\d+)?$/, text);
      model.slots[model.slots.indexOf(random)] = name;
    });
    await agree(model, real);
  }
  toString = () => `add(${this.n}, ${this.named} named)`;
}

/** `/rm` of n replicas, up to n of them named (picked among those running): accepted. */
class RemoveSome implements Command {
  constructor(readonly n: number, readonly seeds: number[]) {}
  check = (m: Readonly<Model>) => names(m).length > 0;
  async run(model: Model, real: Real) {
    const n = Math.min(this.n, names(model).length);
    const hostnames = pick(names(model), this.seeds, n);
    const { status, text, reply } = await call(
      real,
      "DELETE",
      "/rm",
      JSON.stringify({ n, hostnames }),
    );
    assert.equal(status, 200, text);
    assert.equal(text, await real.rep(), "the answer is the new /rep");
    const left: string[] = reply.message.replicas;
    assert.equal(left.length, names(model).length - n);
    for (const name of hostnames) assert.ok(!left.includes(name), `${name} was removed`);
    assert.deepEqual(left, names(model).filter((name) => left.includes(name)), "order kept");
    model.slots = model.slots.map((name) =>
      name !== undefined && left.includes(name) ? name : undefined
    );
    await agree(model, real);
  }
  toString = () => `rm(${this.n}, ${this.seeds.length} named)`;
}

/** `/add` of a name in use, as written or differing in case: rejected. */
class AddInUse implements Command {
  constructor(readonly seed: number, readonly upper: boolean) {}
  check = (m: Readonly<Model>) => names(m).length > 0 && names(m).length < MAX;
  run = (model: Model, real: Real) => {
    const all = names(model);
    const name = all[this.seed % all.length].replace(/ /g, "-");
    const hostname = this.upper ? name.toUpperCase() : name;
    return rejected(model, real, "POST", "/add", { n: 1, hostnames: [hostname] });
  };
  toString = () => `addInUse(${this.seed})`;
}

/** `/rm` naming a replica that does not exist: rejected. */
class RemoveUnknown implements Command {
  check = (m: Readonly<Model>) => names(m).length > 0;
  run = (model: Model, real: Real) =>
    rejected(model, real, "DELETE", "/rm", { n: 1, hostnames: ["no-such-replica"] });
  toString = () => "rmUnknown";
}

/** `/rm` or `/add` of more than there are, or than fit: rejected. */
class TooMany implements Command {
  constructor(readonly add: boolean, readonly extra: number) {}
  check = () => true;
  run = (model: Model, real: Real) => {
    const count = names(model).length;
    const n = this.add ? MAX - count + this.extra : count + this.extra;
    return rejected(model, real, this.add ? "POST" : "DELETE", this.add ? "/add" : "/rm", { n });
  };
  toString = () => `tooMany(${this.add ? "add" : "rm"}, +${this.extra})`;
}

/** Any method, path and body: never a 5xx; a 4xx changes nothing; a 2xx is the new /rep. */
class Arbitrary implements Command {
  constructor(readonly method: string, readonly path: string, readonly body: string) {}
  check = () => true;
  async run(model: Model, real: Real) {
    const before = await real.rep();
    const hasBody = this.method !== "GET" && this.method !== "HEAD";
    const { status, text, reply } = await call(
      real,
      this.method,
      this.path,
      hasBody ? this.body : undefined,
    );
    if (status >= 400) assert.equal(await real.rep(), before, "a rejected call changed /rep");
    else {
      // A call that happens to be valid: follow it (its numbers are checked by /rep's order).
      assert.equal(text, await real.rep());
      const now: string[] = reply.message.replicas;
      if (this.method === "GET") assert.equal(text, before, "GET /rep changes nothing");
      model.slots = model.slots.map((name) =>
        name !== undefined && now.includes(name) ? name : undefined
      );
      for (const name of now.filter((name) => !names(model).includes(name))) {
        const free = model.slots.indexOf(undefined);
        model.slots[free < 0 ? model.slots.length : free] = name;
      }
    }
    await agree(model, real);
  }
  toString = () => `${this.method} ${this.path} ${this.body.slice(0, 40)}`;
}

const hostname = fc.oneof(
  fc.constantFrom("S5", "s5", "Server 1", "Server-1", "", "-x", "a".repeat(64), "balancer"),
  fc.stringMatching(/^[A-Za-z0-9-]{1,8}$/),
  fc.string(),
);
const anyN = fc.oneof(
  fc.integer({ min: -3, max: 8 }),
  fc.constantFrom(0, 1.5, 1e9, Number.MAX_SAFE_INTEGER, "2", null, true, [], {}),
);
const anyBody = fc.oneof(
  fc.record({ n: anyN, hostnames: fc.array(hostname, { maxLength: 5 }) }, { requiredKeys: [] }),
  fc.record({ n: anyN, hostnames: fc.oneof(hostname, fc.array(fc.anything(), { maxLength: 3 })) }),
  fc.record({ n: anyN, hostnames: fc.array(hostname, { maxLength: 3 }), extra: fc.anything() }),
  fc.jsonValue(),
).map((value) => JSON.stringify(value) ?? "null");
const anyText = fc.oneof(anyBody, fc.string(), fc.constantFrom("", "{", "[1,", "\u0000", "{}{}"));

const valid = fc.oneof(
  fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 3 }))
    .map(([n, named]) => new AddNew(n, named)),
  fc.tuple(fc.integer({ min: 1, max: 3 }), fc.array(fc.nat(), { maxLength: 3 }))
    .map(([n, seeds]) => new RemoveSome(n, seeds)),
);
const invalid = fc.oneof(
  fc.tuple(fc.nat(), fc.boolean()).map(([seed, upper]) => new AddInUse(seed, upper)),
  fc.constant(new RemoveUnknown()),
  fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 3 })).map(([add, extra]) =>
    new TooMany(add, extra)
  ),
  fc.record({
    method: fc.constantFrom("POST", "DELETE", "GET", "PUT", "PATCH"),
    path: fc.constantFrom("/add", "/rm", "/rep"),
    body: anyText,
  }).map(({ method, path, body }) => new Arbitrary(method, path, body)),
  anyText.map((body) => new Arbitrary("POST", "/add", body)),
  anyText.map((body) => new Arbitrary("DELETE", "/rm", body)),
);

Deno.test(`admin API fuzz: ~${CALLS} calls in sequences, valid as often as not; /rep, ring and replicas agree after each`, async () => {
  const parsed = parseConfig([
    "--heartbeat-interval",
    "60000",
    "--max-replicas",
    String(MAX),
    "--admin-rate-limit",
    "10000",
  ], {});
  if (parsed.help) throw new Error("unreachable");
  const config = parsed.config;
  await fc.assert(
    fc.asyncProperty(
      fc.commands([valid, invalid], { size: "max", maxCommands: STEPS }),
      async (commands) => {
        const cluster = new FakeCluster();
        cluster.foreignNames.add("balancer");
        const balancer = createBalancer(config, {
          provider: cluster,
          logger: silentLogger,
          fetch: cluster.fetch,
        });
        await balancer.start();
        let fresh = 0;
        const real: Real = {
          request: async (path, init) => await balancer.app.request(path, init),
          rep: async () => await (await balancer.app.request("/rep")).text(),
          members: () => balancer.ring.nodes().map((node) => node.name),
          running: () => cluster.alive(),
          fresh: () => `h${++fresh}`,
        };
        try {
          const model: Model = { slots: ["Server 1", "Server 2", "Server 3"] };
          await agree(model, real);
          await fc.asyncModelRun(() => ({ model, real }), commands);
        } finally {
          await balancer.close();
        }
      },
    ),
    { numRuns: Math.max(1, Math.round((2 * CALLS) / STEPS)), seed: 20261130 },
  );
  // The fuzz reaches state: a good share of the calls were accepted and changed it.
  assert.ok(tally.calls >= CALLS / 2, `only ${tally.calls} calls`);
  assert.ok(tally.accepted >= 0.35 * tally.calls, `${tally.accepted} of ${tally.calls} accepted`);
});
