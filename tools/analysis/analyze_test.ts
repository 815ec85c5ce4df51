/**
 * `deno task analyze --quick` end to end, into a temporary directory: real balancers over
 * HTTP, a real chaos run, every artifact written. About 45 s on 2 cores.
 */

import assert from "node:assert/strict";
import type { HttpResults, InProcessResults } from "./results.ts";

const ANALYZE = new URL("./analyze.ts", import.meta.url).pathname;
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;

Deno.test("deno task analyze --quick writes every result, chart and the report", async () => {
  const out = await Deno.makeTempDir({ prefix: "ringlb-analyze-" });
  try {
    const run = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-q", "-P=tools", `--config=${CONFIG}`, ANALYZE, "--quick", "--out", out],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(run.stdout);
    const stderr = new TextDecoder().decode(run.stderr);
    assert.equal(run.code, 0, `analyze failed:\n${stdout}\n${stderr.slice(-3000)}`);
    assert.match(stdout, /wrote 14 charts and REPORT\.md/);
    // Progress went to stderr.
    assert.match(stderr, /A-1\/A-2 over HTTP: 100%/);

    const http: HttpResults = JSON.parse(
      await Deno.readTextFile(`${out}/docs/analysis/data/a1-a2-http.json`),
    );
    assert.equal(http.runs.length, 6 * 5, "6 rings × N = 2..6");
    assert.ok(http.runs.every((r) => r.failed === 0));
    for (const r of http.runs) {
      const answered = Object.values(r.stats.counts).reduce((a, b) => a + b, 0);
      assert.equal(answered, r.requests, `${r.ring} N=${r.n}: every request counted`);
      assert.equal(Object.keys(r.stats.counts).length, r.n);
    }
    const spec = http.runs.find((r) => r.ring === "spec" && r.n === 3)!;
    assert.ok(spec.stats.counts["Server 1"] / spec.requests > 0.7, "the spec ring's skew shows");
    const maglev = http.runs.find((r) => r.ring === "maglev" && r.n === 3)!;
    assert.ok(maglev.stats.maxOverMean < 1.25, `maglev N=3: ${maglev.stats.maxOverMean}`);

    const a4: InProcessResults = JSON.parse(
      await Deno.readTextFile(`${out}/docs/analysis/data/a4-in-process.json`),
    );
    assert.equal(a4.anatomy.reachableSlots, 87);
    const chaos = JSON.parse(await Deno.readTextFile(`${out}/docs/analysis/data/a3-chaos.json`));
    assert.ok(chaos.kills.length >= 1 && chaos.samples.length > 0);

    const report = await Deno.readTextFile(`${out}/docs/analysis/REPORT.md`);
    const charts = [...Deno.readDirSync(`${out}/docs/analysis`)]
      .map((e) => e.name).filter((n) => n.endsWith(".svg"));
    assert.equal(charts.length, 14);
    for (const name of charts) assert.ok(report.includes(`(${name})`), `${name} not in REPORT.md`);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
