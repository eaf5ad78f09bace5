// The admin listener's status page in a real browser (Debian's Chromium,
// driven by playwright-core, as browser.test.ts does): the page loads, shows
// the route the test has just called, and its numbers move as the test
// calls it again; with a token, the page reads it from the address's fragment.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createConnectTransport } from "@connectrpc/connect-node";
import { chromium, type Browser, type Page } from "playwright-core";
import { ProbeService } from "../gen/probe/v1/probe_pb.js";
import { adminUrl } from "../support/admin.js";
import { client } from "../support/clients.js";
import { startGateway, type RunningGateway } from "../support/gateway.js";
import { describeWithTool, findTool } from "../support/tools.js";

const browserTool = findTool("chromium", "apt-get install -y chromium");
const chromiumFlags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const route = "probe.v1.ProbeService/Unary";

/** The numbers the page shows for `route` (undefined while it has no row). */
async function shown(page: Page): Promise<Record<string, string> | undefined> {
  const cells = await page.locator(`#routes tr[data-route="${route}"] td[data-key]`).evaluateAll((els) => els.map((el) => [el.getAttribute("data-key"), el.textContent] as const));
  if (cells.length === 0) return undefined;
  return Object.fromEntries(cells.map(([k, v]) => [k ?? "", v ?? ""]));
}

async function waitFor(page: Page, what: string, check: (row: Record<string, string>) => boolean): Promise<Record<string, string>> {
  const end = Date.now() + 15_000;
  for (;;) {
    const row = await shown(page);
    if (row !== undefined && check(row)) return row;
    if (Date.now() > end) throw new Error(`the page never showed ${what}; it shows ${JSON.stringify(row)}`);
    await page.waitForTimeout(200);
  }
}

describeWithTool(browserTool, "the status page in Chromium", {}, () => {
  let gw: RunningGateway;
  let browser: Browser;

  before(async () => {
    gw = await startGateway({ args: ["--set", "admin.port=0"], env: { SLUICE_ADMIN_TOKEN: "page-token" } });
    browser = await chromium.launch({ executablePath: browserTool.path!, headless: true, args: chromiumFlags });
  });
  after(async () => {
    await browser?.close();
    await gw?.stop();
  });

  test("loads, shows the route just called, and its numbers move", async () => {
    const probe = client(ProbeService, createConnectTransport({ baseUrl: gw.url, httpVersion: "1.1" }));
    for (let i = 0; i < 5; i++) await probe.unary({ text: `first ${i}` });
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${adminUrl(gw)}/#token=page-token`);
    await page.waitForSelector("#routes tbody tr");
    const first = await waitFor(page, "5 calls", (r) => r.calls === "5");
    assert.equal(first.errorRate, "0.0 %");

    // More calls, one of them failing: the count, the rate and the error rate move.
    for (let i = 0; i < 20; i++) await probe.unary({ text: `second ${i}` });
    await probe.unary({ fail: { code: 9, message: "no" } }).catch(() => {});
    const later = await waitFor(page, "26 calls with a rate and an error", (r) => r.calls === "26" && Number(r.callsPerSecond) > 0 && r.errorRate !== "0.0 %" && r.errorRate !== "–");
    assert.notEqual(later.p50Ms, "–");
    assert.match(await page.locator("#meta").innerText(), /1 process/);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test("without the token the page says what is wrong", async () => {
    const page = await browser.newPage();
    await page.goto(`${adminUrl(gw)}/`);
    await page.locator("#error").filter({ hasText: /SLUICE_/ }).waitFor({ timeout: 10_000 });
    assert.match(await page.locator("#error").innerText(), /SLUICE_ADMIN_UNAUTHORIZED/);
    await page.close();
  });
});
