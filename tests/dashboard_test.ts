/**
 * The dashboard in a real browser (headless Chromium, driven by playwright-core): it opens with
 * the admin token once (then a cookie), shows the replicas live, shows a replica killed and its
 * replacement, and answers the key box. It saves a screenshot to out/dashboard.png (and to
 * docs/dashboard.png, which the README shows, when UPDATE_SCREENSHOT=1).
 */

import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { killQuietly, startBalancer, suiteTest } from "./helpers.ts";

const { test } = suiteTest("dashboard suite", ["env", "net", "read", "run", "write", "sys"]);

const TOKEN = "dashboard-suite-token-0";
const CHROMIUM = "/usr/bin/chromium";

test("dashboard in Chromium: live replicas, a killed one replaced, the key box, a screenshot", async () => {
  try {
    Deno.statSync(CHROMIUM);
  } catch {
    throw new Error(`${CHROMIUM} is needed (apt-get install chromium)`);
  }
  await using lb = await startBalancer([
    "--admin-token",
    TOKEN,
    "--heartbeat-interval",
    "200",
    "--heartbeat-timeout",
    "150",
  ]);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--no-first-run",
    ],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 720 } });
    // Without the token: refused.
    const refused = await page.goto(`${lb.url}/dashboard`);
    assert.equal(refused?.status(), 401);
    // Once with ?token=: a cookie, and the URL loses the token.
    await page.goto(`${lb.url}/dashboard?token=${TOKEN}`);
    assert.equal(new URL(page.url()).search, "", "the token left the address bar");
    const cookies = await page.context().cookies();
    const cookie = cookies.find((c) => c.name === "ringlb_admin");
    assert.ok(cookie?.httpOnly && cookie.sameSite === "Strict", JSON.stringify(cookies));

    // (Run in the page: strings, as this file is checked without the DOM's types.)
    const UP = `[...document.querySelectorAll("#replicas tr")]
      .filter((r) => r.children[1]?.textContent === "up").map((r) => r.dataset.replica)`;
    const upRows = async () => (await page.evaluate(UP)) as string[];
    await page.waitForFunction(`${UP}.length === 3`, undefined, { timeout: 15_000 });
    const before = await upRows();
    assert.deepEqual(before.sort(), ["Server 1", "Server 2", "Server 3"]);
    assert.equal(await page.textContent("#n"), "3");

    // Kill one replica's process: the page shows it going, and a replacement coming up.
    const victim = [...lb.replicas()].find(([, id]) => id === "2");
    assert.ok(victim, "Server 2's process");
    killQuietly(victim[0], "SIGKILL");
    await page.waitForFunction(
      `[...document.querySelectorAll("#events li")].some((li) =>
        li.textContent.includes("Server 2") && li.textContent.includes("stopping"))`,
      undefined,
      { timeout: 15_000 },
    );
    await page.waitForFunction(
      `(() => { const up = ${UP}; return up.length === 3 && !up.includes("Server 2"); })()`,
      undefined,
      { timeout: 20_000 },
    );
    const after = await upRows();
    const replacement = after.find((name) => !before.includes(name))!;
    assert.match(replacement, /^replica-/);
    assert.ok(
      await page.$(`#events li:has-text("${replacement}")`),
      "the replacement's start is an event",
    );

    // The key box: the owner the ring gives, then the fail-overs.
    await page.fill("#key", "123456");
    await page.click("#keyform button");
    await page.waitForFunction(
      `document.querySelector("#keyresult").textContent.includes("owner")`,
    );
    const owner = await page.getAttribute("#keyresult", "data-owner");
    assert.ok(after.includes(owner!), `owner ${owner} is a serving replica`);

    await Deno.mkdir("out", { recursive: true });
    await page.screenshot({ path: "out/dashboard.png" });
    if (Deno.env.get("UPDATE_SCREENSHOT") === "1") {
      await Deno.copyFile("out/dashboard.png", "docs/dashboard.png");
    }
  } finally {
    await browser.close();
  }
});
