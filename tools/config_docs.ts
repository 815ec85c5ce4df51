/**
 * `deno task docs`: writes the settings table of docs/configuration.md from the balancer's
 * one list of settings (`balancer/config/config.ts`), between its `<!-- settings -->` markers,
 * and formats the file. `--check` only says whether it is current (exit 1 if not).
 *
 * @module
 */

import { settingsTable } from "../balancer/config/mod.ts";

const DOC = new URL("../docs/configuration.md", import.meta.url);
const START = "<!-- settings: written by `deno task docs` from balancer/config/config.ts -->";
const END = "<!-- /settings -->";

/** The doc with its settings table replaced by `table`. */
export function withTable(doc: string, table: string): string {
  const start = doc.indexOf(START);
  const end = doc.indexOf(END);
  if (start < 0 || end < start) throw new Error(`docs/configuration.md has no ${START} … ${END}`);
  return `${doc.slice(0, start + START.length)}\n\n${table}\n\n${doc.slice(end)}`;
}

/** A Markdown table's rows as trimmed cells, so that a formatted table compares equal. */
export function cells(table: string): string[][] {
  return table.split("\n").filter((line) => line.startsWith("|") && !/^\|[\s|:-]+\|$/.test(line))
    .map((line) => line.slice(1, -1).split(/(?<!\\)\|/).map((cell) => cell.trim()));
}

/** The settings table the doc holds now. */
export function tableIn(doc: string): string {
  const start = doc.indexOf(START);
  const end = doc.indexOf(END);
  if (start < 0 || end < start) throw new Error(`docs/configuration.md has no ${START} … ${END}`);
  return doc.slice(start + START.length, end);
}

if (import.meta.main) {
  const doc = await Deno.readTextFile(DOC);
  const current = JSON.stringify(cells(tableIn(doc))) === JSON.stringify(cells(settingsTable()));
  if (Deno.args.includes("--check")) {
    console.log(
      current
        ? "docs/configuration.md is current"
        : "docs/configuration.md is stale: run deno task docs",
    );
    Deno.exit(current ? 0 : 1);
  }
  await Deno.writeTextFile(DOC, withTable(doc, settingsTable()));
  const fmt = await new Deno.Command(Deno.execPath(), { args: ["fmt", "-q", DOC.pathname] })
    .output();
  if (!fmt.success) throw new Error("deno fmt failed on docs/configuration.md");
  console.log("docs/configuration.md: settings table written");
}
