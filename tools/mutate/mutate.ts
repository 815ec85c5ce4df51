/**
 * `deno task mutate`: mutation testing of the safety-critical code with Stryker.
 *
 * Each target file is mutated by its own Stryker run (`@stryker-mutator/core`, run with
 * Node, command test runner), and each mutant is judged by the fast suites that exercise
 * that file (`deno test --no-check --fail-fast`): a mutant that no test notices "survives".
 * Why one run per file: the command runner cannot pick tests per mutant, and running every
 * fast suite for every mutant would take hours; these pairings keep a full run near an hour
 * on 2 cores.
 *
 * Prints the score per file and in all, and every surviving mutant; a survivor must be
 * listed in docs/testing.md (`| \`file:line\` | Mutator | …`) with the reason it is
 * equivalent or not worth a test. Exits 1 when the score is under `--min-score` or a
 * survivor is not listed. Not part of CI: it takes long and wants a quiet machine.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { type Cli, cli } from "../cli.ts";

/** A file to mutate and the suites that judge its mutants. */
interface Target {
  /** Repository-relative path of the mutated file. */
  file: string;
  /** Test files run against each of its mutants. */
  tests: string[];
}

/**
 * The safety-critical files: retries and attempts, failure kinds, health, outlier detection, the
 * replica and its manager, and the timer behind every response timeout.
 */
export const TARGETS: readonly Target[] = [
  {
    file: "balancer/proxy/proxy.ts",
    tests: [
      "balancer/proxy/proxy_test.ts",
      "balancer/edge/app_test.ts",
      "tests/websocket_test.ts", // the tunnel
    ],
  },
  {
    file: "balancer/upstream/http1_client.ts",
    tests: [
      "balancer/upstream/http1_client_test.ts",
      "balancer/proxy/proxy_test.ts",
      "tests/websocket_test.ts", // the hand-over after a 101
    ],
  },
  {
    file: "balancer/cluster/health.ts",
    tests: [
      "balancer/cluster/health_test.ts",
      "balancer/providers/static_test.ts",
    ],
  },
  {
    file: "balancer/cluster/replica_manager.ts",
    tests: [
      "balancer/cluster/replica_manager_test.ts",
      "balancer/edge/app_test.ts",
      "balancer/providers/static_test.ts",
      "balancer/edge/admin_fuzz_test.ts",
    ],
  },
  {
    file: "balancer/cluster/outlier.ts",
    tests: ["balancer/cluster/outlier_test.ts", "balancer/cluster/replica_manager_test.ts"],
  },
  {
    file: "balancer/cluster/replica.ts",
    tests: ["balancer/cluster/replica_manager_test.ts", "balancer/edge/app_test.ts"],
  },
  {
    file: "balancer/proxy/retry_budget.ts",
    tests: ["balancer/proxy/retry_budget_test.ts", "balancer/edge/app_test.ts"],
  },
  {
    file: "balancer/upstream/upstream.ts",
    tests: ["balancer/upstream/upstream_test.ts", "balancer/proxy/proxy_test.ts"],
  },
  {
    file: "balancer/support/deadlines.ts", // every try's response timeout
    tests: ["balancer/support/deadlines_test.ts", "balancer/proxy/proxy_test.ts"],
  },
];

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const HERE = fileURLToPath(new URL("./", import.meta.url));
const STRYKER = `${HERE}node_modules/@stryker-mutator/core/bin/stryker.js`;
const DOCS = `${ROOT}docs/testing.md`;

const USAGE = `deno task mutate [options]

Mutation testing of the safety-critical files with Stryker (Node), each mutant judged by
the fast suites that exercise its file. Needs node and npm (Stryker is installed into
tools/mutate/node_modules on first use, from the npm registry).

  --only a,b         only these targets (file stems: ${TARGETS.map((t) => stem(t.file)).join(", ")})
  --concurrency N    mutants tested at once (default: cores - 1, at least 1)
  --min-score P      exit 1 below this mutation score, percent (default 80)
  --from-reports     summarise the last run's reports without running anything
  --help             this text

Reports: tools/mutate/reports/<stem>.json (Stryker's JSON, mutation-testing-report-schema).`;

// Typed explicitly, so that `tool.fail()` (never returns) narrows control flow.
const tool: Cli = cli("mutate", USAGE);
const { int, parse } = tool;
const fail = (message: string): never => tool.fail(message);

/** `balancer/proxy/proxy.ts` → `proxy`. */
function stem(file: string): string {
  return file.slice(file.lastIndexOf("/") + 1).replace(/\.ts$/, "");
}

/** One mutant as Stryker's JSON report has it. */
interface Mutant {
  id: string;
  mutatorName: string;
  replacement?: string;
  status: string;
  location: {
    start: { line: number; column: number };
    end: { line: number; column: number };
  };
}

interface FileReport {
  source: string;
  mutants: Mutant[];
}

/** A mutant that no test noticed, located and shown. */
interface Survivor {
  /** `balancer/proxy/proxy.ts:123`. */
  where: string;
  mutator: string;
  original: string;
  replacement: string;
  status: string;
}

const { values } = parse({
  options: {
    only: { type: "string" },
    concurrency: { type: "string" },
    "min-score": { type: "string" },
    "from-reports": { type: "boolean" },
    help: { type: "boolean" },
  },
});

const minScore = int(values["min-score"] ?? "80", "min-score", 0, 100);
const cores = navigator.hardwareConcurrency ?? 2;
const concurrency = int(
  values.concurrency ?? String(Math.max(1, cores - 1)),
  "concurrency",
  1,
  64,
);
let targets = [...TARGETS];
if (values.only) {
  const wanted = values.only.split(",").map((s) => s.trim());
  const unknown = wanted.filter((w) => !targets.some((t) => stem(t.file) === w));
  if (unknown.length) {
    fail(`--only: no target named ${unknown.join(", ")} (see --help)`);
  }
  targets = targets.filter((t) => wanted.includes(stem(t.file)));
}
const reportDir = `${HERE}reports`;
const reportOf = (target: Target) => `${reportDir}/${stem(target.file)}.json`;

if (!values["from-reports"]) {
  await ensureStryker();
  await Deno.mkdir(reportDir, { recursive: true });
  for (const [i, target] of targets.entries()) {
    console.log(
      `\n== ${i + 1}/${targets.length} ${target.file}  (judged by ${target.tests.join(", ")})`,
    );
    await runStryker(target);
  }
}
Deno.exit(await summarise());

/** Installs Stryker into tools/mutate/node_modules when it is not there yet. */
async function ensureStryker(): Promise<void> {
  try {
    await Deno.stat(STRYKER);
    return;
  } catch {
    // not installed yet
  }
  console.log(
    "mutate: installing Stryker into tools/mutate/node_modules (npm ci) …",
  );
  let code: number;
  try {
    ({ code } = await new Deno.Command("npm", {
      args: ["ci", "--no-audit", "--no-fund"],
      cwd: HERE,
      stdout: "inherit",
      stderr: "inherit",
    }).output());
  } catch (error) {
    return tool.fail(
      `cannot run npm (${error instanceof Error ? error.message : error}): install Node.js`,
    );
  }
  if (code !== 0) {
    fail(
      `npm ci failed in tools/mutate (exit ${code}): is the npm registry reachable?`,
    );
  }
}

/** One Stryker run: `target.file` mutated, each mutant judged by `target.tests`. */
async function runStryker(target: Target): Promise<void> {
  for (const file of [target.file, ...target.tests]) {
    try {
      await Deno.stat(`${ROOT}${file}`);
    } catch {
      fail(`${file} does not exist (TARGETS in tools/mutate/mutate.ts)`);
    }
  }
  const tmp = await Deno.makeTempDir({ prefix: "ringlb-mutate-" });
  const config = {
    testRunner: "command",
    commandRunner: {
      command: `deno test -P=test --no-check --fail-fast ${target.tests.join(" ")}`,
    },
    mutate: [target.file],
    coverageAnalysis: "off",
    concurrency,
    // Each mutant's run gets its dry run's time × 1.5 + 5 s, then counts as a timeout (a
    // mutant that makes the suite hang is caught, as any that makes it fail).
    timeoutMS: 5_000,
    reporters: [
      "json",
      Deno.stdout.isTerminal() ? "progress" : "progress-append-only",
    ],
    jsonReporter: { fileName: reportOf(target) },
    plugins: ["@stryker-mutator/*", `${HERE}ignorers.mjs`],
    ignorers: ["ringlb-logging", "ringlb-error-wording"],
    // The sandbox is a copy of the repository without what no test needs.
    ignorePatterns: [
      ".deno-dir",
      "out",
      "docs",
      "tools/mutate/node_modules",
      "tools/mutate/reports",
    ],
    tempDirName: tmp,
    cleanTempDir: "always",
    disableTypeChecks: false, // deno test runs with --no-check
    logLevel: "warn",
  };
  const configFile = `${tmp}/stryker.config.json`;
  await Deno.writeTextFile(configFile, JSON.stringify(config, null, 2));
  const started = performance.now();
  const { code } = await new Deno.Command("node", {
    args: [STRYKER, "run", configFile],
    cwd: ROOT,
    env: { NO_COLOR: "1", FUZZ_RUNS: "300" },
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
  if (code !== 0) {
    fail(
      `Stryker failed on ${target.file} (exit ${code}); see its output above`,
    );
  }
  console.log(
    `   done in ${((performance.now() - started) / 60_000).toFixed(1)} min`,
  );
}

/** Prints the scores and the survivors; returns the exit code. */
async function summarise(): Promise<number> {
  const survivors: Survivor[] = [];
  const rows: string[][] = [];
  let killedAll = 0;
  let validAll = 0;
  for (const target of targets) {
    let report: { files: Record<string, FileReport> };
    try {
      report = JSON.parse(await Deno.readTextFile(reportOf(target)));
    } catch {
      return tool.fail(
        `no report for ${target.file} in tools/mutate/reports: run without --from-reports`,
      );
    }
    const counts = new Map<string, number>();
    for (const [path, file] of Object.entries(report.files)) {
      const lines = file.source.split("\n");
      for (const m of file.mutants) {
        counts.set(m.status, (counts.get(m.status) ?? 0) + 1);
        if (m.status !== "Survived" && m.status !== "NoCoverage") continue;
        const { start, end } = m.location;
        survivors.push({
          where: `${path}:${start.line}`,
          mutator: m.mutatorName,
          original: snippet(
            lines.slice(start.line - 1, end.line).join("\n"),
            start,
            end,
          ),
          replacement: oneLine(m.replacement ?? ""),
          status: m.status,
        });
      }
    }
    const n = (status: string) => counts.get(status) ?? 0;
    const killed = n("Killed") + n("Timeout");
    const valid = killed + n("Survived") + n("NoCoverage");
    killedAll += killed;
    validAll += valid;
    rows.push([
      target.file,
      pct(killed, valid),
      String(n("Killed")),
      String(n("Timeout")),
      String(n("Survived") + n("NoCoverage")),
      String(n("Ignored")),
      String(n("CompileError") + n("RuntimeError")),
    ]);
  }
  rows.push([
    "all",
    pct(killedAll, validAll),
    "",
    "",
    String(survivors.length),
    "",
    "",
  ]);
  console.log();
  printTable([
    "file",
    "score",
    "killed",
    "timeout",
    "survived",
    "ignored",
    "errors",
  ], rows);

  const listed = await listedSurvivors();
  const unlisted = survivors.filter((s) => !listed.has(key(s)));
  const live = new Set(survivors.map(key));
  // Rows of the files judged in this run only (`--only` leaves the others alone).
  const stale = [...listed.keys()].filter((k) =>
    !live.has(k) && targets.some((t) => k.startsWith(`${t.file}:`))
  );
  if (survivors.length) {
    console.log(`\nSurvivors (${survivors.length}):`);
    for (const s of survivors) {
      const mark = listed.has(key(s)) ? "  " : "+ ";
      console.log(
        `${mark}${s.where}  ${s.mutator}  ${s.original}  →  ${s.replacement}`,
      );
    }
  }
  if (unlisted.length) {
    console.log(
      `\n${unlisted.length} survivor(s) (marked +) are not in docs/testing.md. Kill each with a ` +
        `test, or add a row with the reason it is equivalent or not worth a test:`,
    );
    for (const s of unlisted) {
      console.log(
        `| \`${s.where}\` | ${s.mutator} | \`${esc(s.original)}\` → \`${esc(s.replacement)}\` |  |`,
      );
    }
  }
  if (stale.length) {
    console.log(
      `\nRows of docs/testing.md that no longer survive (remove them): ${stale.join(", ")}`,
    );
  }
  const score = validAll ? (100 * killedAll) / validAll : 100;
  console.log(
    `\nmutation score ${score.toFixed(1)} % (minimum ${minScore} %), ` +
      `${survivors.length} survivor(s), ${unlisted.length} not accounted for`,
  );
  return score >= minScore && unlisted.length === 0 ? 0 : 1;
}

/** `file:line Mutator`, the key a docs/testing.md row is matched by. */
function key(s: { where: string; mutator: string }): string {
  return `${s.where} ${s.mutator}`;
}

/** The survivors docs/testing.md accounts for: rows `| \`file:line\` | Mutator | …`. */
async function listedSurvivors(): Promise<Map<string, string>> {
  const listed = new Map<string, string>();
  let text = "";
  try {
    text = await Deno.readTextFile(DOCS);
  } catch {
    return listed;
  }
  for (const line of text.split("\n")) {
    const match = line.match(/^\|\s*`([^`]+:\d+)`\s*\|\s*(\w+)\s*\|/); // cells may be padded (deno fmt)
    if (match) listed.set(`${match[1]} ${match[2]}`, line);
  }
  return listed;
}

/** The mutated text of a mutant's range, on one line. */
function snippet(
  text: string,
  start: { column: number },
  end: { line: number; column: number },
): string {
  const lines = text.split("\n");
  lines[lines.length - 1] = lines[lines.length - 1].slice(0, end.column - 1);
  lines[0] = lines[0].slice(start.column - 1);
  return oneLine(lines.join("\n"));
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > 90 ? `${flat.slice(0, 87)}…` : flat;
}

function esc(text: string): string {
  return text.replaceAll("|", "\\|").replaceAll("`", "'");
}

function pct(part: number, whole: number): string {
  return whole ? `${((100 * part) / whole).toFixed(1)} %` : "–";
}

function printTable(head: string[], rows: string[][]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join("  ");
  console.log(line(head));
  for (const row of rows) console.log(line(row));
}
