// A real browser: Debian's Chromium, driven headless by playwright-core,
// loads a page that calls the example functions with @connectrpc/connect-web
// (gRPC-Web and Connect transports). Once from Sluice itself (same origin),
// once from a second origin that cors.origins allows, once from an origin it
// does not. The assertions are on the text the page shows.
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import { once } from "node:events";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { build } from "esbuild";
import { chromium, type BrowserContext } from "playwright-core";
import { root, startGateway, type RunningGateway } from "../support/gateway.js";
import { describeWithTool, findTool } from "../support/tools.js";

const browser = findTool("chromium", "apt-get install -y chromium");

const pageSource = path.join(root, "test/browser/page");
const pageDir = path.join(root, "test/.tmp/browser-page");

/** The flags .ci/run's Chromium runs with: no sandbox (containers), no GPU, no traffic of its own. */
const chromiumFlags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

/** Bundles the page's script with esbuild, as an app would ship it. */
async function buildPage(): Promise<void> {
  rmSync(pageDir, { recursive: true, force: true });
  mkdirSync(pageDir, { recursive: true });
  await build({
    entryPoints: [path.join(pageSource, "main.ts")],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "chrome120",
    outfile: path.join(pageDir, "main.js"),
    logLevel: "silent",
  });
  copyFileSync(path.join(pageSource, "index.html"), path.join(pageDir, "index.html"));
}

/** A tiny static server for the page, standing in for an app hosted elsewhere. */
async function servePage(): Promise<{ origin: string; close(): Promise<void> }> {
  const types: Record<string, string> = { "index.html": "text/html; charset=utf-8", "main.js": "text/javascript; charset=utf-8" };
  const server = http.createServer((req, res) => {
    const file = new URL(req.url ?? "/", "http://x").pathname.slice(1) || "index.html";
    const type = types[file];
    if (!type) return res.writeHead(404).end();
    res.writeHead(200, { "content-type": type }).end(readFileSync(path.join(pageDir, file)));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  return {
    origin: `http://127.0.0.1:${port}`,
    close: async () => {
      const closed = once(server, "close");
      server.close();
      server.closeAllConnections();
      await closed;
    },
  };
}

describeWithTool(browser, "Chromium with connect-web", {}, () => {
  let gw: RunningGateway | undefined;
  let context: BrowserContext | undefined;
  let profile: string | undefined;
  const pageServers: Awaited<ReturnType<typeof servePage>>[] = [];
  let allowed = "";
  let refused = "";

  before(async () => {
    await buildPage();
    pageServers.push(await servePage(), await servePage());
    [allowed, refused] = pageServers.map((s) => s.origin) as [string, string];
    gw = await startGateway({
      functionsDir: path.join(root, "functions"),
      args: ["--set", `staticDir=${pageDir}`, "--set", `cors.origins=${allowed}`],
    });
    profile = mkdtempSync(path.join(root, "test/.tmp/chromium-profile-"));
    context = await chromium.launchPersistentContext(profile, { executablePath: browser.path!, headless: true, args: chromiumFlags });
  });

  after(async () => {
    await context?.close();
    await Promise.all(pageServers.map((s) => s.close()));
    const code = await gw?.stop();
    if (profile) rmSync(profile, { recursive: true, force: true });
    if (gw) assert.equal(code, 0, gw.output());
  });

  /** Opens `url` in a new tab and returns what the page shows, line by line, keyed by check name. */
  async function load(url: string): Promise<{ lines: Record<string, string>; requests: string[]; logs: string[] }> {
    const page = await context!.newPage();
    const logs: string[] = [];
    const requests: string[] = [];
    page.on("console", (m) => logs.push(`${m.type()}: ${m.text()}`));
    page.on("pageerror", (e) => logs.push(`pageerror: ${e.message}`));
    page.on("request", (r) => requests.push(`${r.method()} ${r.url()}`));
    try {
      await page.goto(url);
      await page.waitForSelector("body[data-done]", { timeout: 20_000 }).catch((e: Error) => {
        throw new Error(`${e.message}\npage console:\n${logs.join("\n")}`);
      });
      const items = await page.locator("#results li").evaluateAll((els) => els.map((el) => [el.getAttribute("data-check"), el.textContent] as const));
      const lines: Record<string, string> = {};
      for (const [name, text] of items) lines[name!] = text!.slice(name!.length + 2);
      return { lines, requests, logs };
    } finally {
      await page.close();
    }
  }

  const greetingError = "InvalidArgument: invalid GreetRequest: name is required | BadRequest: name REQUIRED";
  const expectedLines: Record<string, string> = {
    "grpc-web unary": "Hallo, Ada! (de)",
    "grpc-web server streaming": "ACME#1 GLOBEX#2 ACME#3 GLOBEX#4",
    "grpc-web error": greetingError,
    "connect unary": "Hallo, Ada! (de)",
    "connect server streaming": "ACME#1 GLOBEX#2 ACME#3 GLOBEX#4",
    "connect error": greetingError,
    "grpc-web status": "grpc-status 0, x-request-id readable",
    "fetch grpc-web": "HTTP 200, trailer frame flags 0x80, grpc-status 3, grpc-message invalid GreetRequest: name is required, x-request-id readable",
  };

  test("same origin: the page Sluice serves calls it over both transports", async () => {
    const { lines, requests } = await load(`${gw!.url}/`);
    assert.deepEqual(lines, expectedLines);
    // Connect unary calls to a NO_SIDE_EFFECTS method go out as GET.
    assert.ok(requests.some((r) => r.startsWith(`GET ${gw!.url}/greet.v1.GreetService/Greet?`) && r.includes("connect=v1")), requests.join("\n"));
  });

  test("second origin in cors.origins: both transports get through, and the status is readable", async () => {
    const { lines } = await load(`${allowed}/?api=${encodeURIComponent(gw!.url)}`);
    assert.deepEqual(lines, expectedLines);
  });

  test("origin not in cors.origins: the browser blocks every call", async () => {
    const { lines, logs } = await load(`${refused}/?api=${encodeURIComponent(gw!.url)}`);
    assert.deepEqual(Object.keys(lines), Object.keys(expectedLines));
    for (const [name, text] of Object.entries(lines)) {
      // connect-web turns fetch's TypeError into an UNKNOWN ConnectError.
      assert.match(text, /^(unexpected )?Unknown: Failed to fetch$/, `${name}: ${text}`);
    }
    assert.ok(logs.some((m) => m.includes(`from origin '${refused}' has been blocked by CORS policy`)), logs.join("\n"));
  });
});
