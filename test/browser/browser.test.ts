// A real browser: Debian's Chromium, driven headless by playwright-core,
// loads pages that call the example functions: with @connectrpc/connect-web
// (gRPC-Web and Connect transports), with the official grpc-web client in
// its text and binary modes, and with generated Connect clients on
// sluice/web-transport (gRPC-Web over WebSocket: all four stream kinds, a
// chat between two pages, a page that stops reading). From Sluice itself
// (same origin), from a second origin that cors.origins allows, and from an
// origin it does not. The assertions are on the text the pages show, and on
// the gateway's log for what only the server sees (a cancelled call).
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import { once } from "node:events";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { build } from "esbuild";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { floodRoom } from "../support/chat-flood.js";
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
    // sluice/web-transport resolves through package.json "exports", as in an app.
    entryPoints: ["main.ts", "grpc-web.ts", "streams.ts", "improbable.ts"].map((f) => path.join(pageSource, f)),
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "chrome120",
    outdir: pageDir,
    logLevel: "silent",
  });
  for (const html of ["index.html", "grpc-web.html", "streams.html", "improbable.html"]) copyFileSync(path.join(pageSource, html), path.join(pageDir, html));
}

/** A tiny static server for the page, standing in for an app hosted elsewhere. */
async function servePage(): Promise<{ origin: string; close(): Promise<void> }> {
  const types: Record<string, string> = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8" };
  const server = http.createServer((req, res) => {
    const file = new URL(req.url ?? "/", "http://x").pathname.slice(1) || "index.html";
    const type = /^[\w-]+(\.html|\.js)$/.test(file) ? types[path.extname(file)] : undefined;
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

describeWithTool(browser, "Chromium", {}, () => {
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

  /** Opens `url` in a new tab, recording its console and requests. */
  async function open(url: string): Promise<{ page: Page; requests: string[]; logs: string[] }> {
    const page = await context!.newPage();
    const logs: string[] = [];
    const requests: string[] = [];
    page.on("console", (m) => logs.push(`${m.type()}: ${m.text()}`));
    page.on("pageerror", (e) => logs.push(`pageerror: ${e.message}`));
    page.on("request", (r) => requests.push(`${r.method()} ${r.url()}`));
    await page.goto(url);
    return { page, requests, logs };
  }

  /** What the page shows, line by line, keyed by check name, once it says it is done. */
  async function linesOf(page: Page, logs: string[], timeout = 20_000): Promise<Record<string, string>> {
    await page.waitForSelector("body[data-done]", { timeout }).catch((e: Error) => {
      throw new Error(`${e.message}\npage console:\n${logs.join("\n")}`);
    });
    const items = await page.locator("#results li").evaluateAll((els) => els.map((el) => [el.getAttribute("data-check"), el.textContent] as const));
    const lines: Record<string, string> = {};
    for (const [name, text] of items) lines[name!] = text!.slice(name!.length + 2);
    return lines;
  }

  /** Opens `url` in a new tab and returns what the page shows, line by line, keyed by check name. */
  async function load(url: string): Promise<{ lines: Record<string, string>; requests: string[]; logs: string[] }> {
    const { page, requests, logs } = await open(url);
    try {
      return { lines: await linesOf(page, logs), requests, logs };
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
  /** The official client's lines; a cancelled stream names its request id, whose call the gateway logged as CANCELLED. */
  async function checkGrpcWebPage(url: string): Promise<void> {
    const { page, logs } = await open(url);
    // The content types on the wire show which mode each call used.
    const types = new Set<string>();
    page.on("response", (r) => {
      if (r.request().method() === "POST") types.add(`${r.request().headers()["content-type"]} -> ${r.headers()["content-type"]}`);
    });
    let lines: Record<string, string>;
    try {
      lines = await linesOf(page, logs);
    } finally {
      await page.close();
    }
    assert.deepEqual([...types].sort(), ["application/grpc-web+proto -> application/grpc-web+proto", "application/grpc-web-text -> application/grpc-web-text+proto"]);
    const { "text server streaming": textStream, "binary cancel": binaryCancel, ...rest } = lines;
    assert.deepEqual(rest, {
      "text unary": "Hallo, Ada! (de)",
      "text error": greetingError,
      "binary unary": "Hallo, Ada! (de)",
      "binary error": greetingError,
      // Binary mode reads the body when it is complete: the ticks, then the deadline.
      "binary server streaming": "ACME#1 GLOBEX#2 ACME#3 GLOBEX#4 …, then DeadlineExceeded: the operation timed out",
    });
    // Text mode streams: four ticks as they came, then the page cancelled.
    const text = /^ACME#1 GLOBEX#2 ACME#3 GLOBEX#4, cancelled (grpc-web-text-cancel-\w+)$/.exec(textStream ?? "");
    assert.ok(text, textStream);
    const binary = /^cancelled (grpc-web-binary-cancel-\w+)$/.exec(binaryCancel ?? "");
    assert.ok(binary, binaryCancel);
    for (const id of [text[1]!, binary[1]!]) {
      await gw!.waitForOutput(new RegExp(`"reqId":"${id}","rpc":"/ticker\\.v1\\.TickerService/Subscribe","code":"Canceled"`));
    }
  }

  test("grpc-web (official client), text and binary modes, from the page Sluice serves", async () => {
    await checkGrpcWebPage(`${gw!.url}/grpc-web.html`);
  });

  test("grpc-web (official client), text and binary modes, from an origin in cors.origins", async () => {
    await checkGrpcWebPage(`${allowed}/grpc-web.html?api=${encodeURIComponent(gw!.url)}`);
  });

  const wsLines = {
    "ws unary": "Hallo, Ada! (de)",
    "ws server streaming": "ACME#1 GLOBEX#2 ACME#3 GLOBEX#4",
    "ws client streaming": "3 records, LEVEL_ERROR=1 LEVEL_INFO=2",
    "ws error": greetingError,
    "ws deadline": "DeadlineExceeded after some ticks",
  };

  test("sluice/web-transport: every stream kind over WebSocket, same origin and an allowed one", async () => {
    assert.deepEqual((await load(`${gw!.url}/streams.html`)).lines, wsLines);
    assert.deepEqual((await load(`${allowed}/streams.html?api=${encodeURIComponent(gw!.url)}`)).lines, wsLines);
  });

  test("sluice/web-transport from an origin not in cors.origins: the upgrade is refused", async () => {
    const { lines } = await load(`${refused}/streams.html?api=${encodeURIComponent(gw!.url)}`);
    assert.deepEqual(Object.keys(lines), Object.keys(wsLines));
    for (const [name, text] of Object.entries(lines)) {
      assert.match(text, /^(unexpected )?Unavailable: could not open a WebSocket to ws:\/\/127\.0\.0\.1:\d+\/[\w.]+\/\w+: /, `${name}: ${text}`);
    }
    await gw!.waitForOutput(new RegExp(`"code":"SLUICE_WEBSOCKET_ORIGIN_REFUSED".*"origin":"${refused}"`));
  });

  test("improbable-eng's grpc-web client with its own WebsocketTransport works unchanged", async () => {
    const { lines } = await load(`${gw!.url}/improbable.html`);
    assert.deepEqual(lines, {
      "improbable client streaming": "3 records, LEVEL_ERROR=1 LEVEL_INFO=2, status 0",
      "improbable bidi": "imp joined, imp: hi over improbable's websocket, status 0",
      "improbable server streaming": "ACME#1 GLOBEX#2 ACME#3 GLOBEX#4, closed by the client",
      "improbable error": "code 3: invalid GreetRequest: name is required",
    });
  });

  test("bidi chat: two pages in the same room each see the other's message", async () => {
    const room = `room-${Date.now()}`;
    const [ada, bob] = await Promise.all([open(`${gw!.url}/streams.html?chat=${room}&name=ada`), open(`${allowed}/streams.html?api=${encodeURIComponent(gw!.url)}&chat=${room}&name=bob`)]);
    try {
      assert.deepEqual(await linesOf(ada.page, ada.logs), { "chat ada": "heard bob: hello from bob", "chat ada end": "left the room" });
      assert.deepEqual(await linesOf(bob.page, bob.logs), { "chat bob": "heard ada: hello from ada", "chat bob end": "left the room" });
    } finally {
      await Promise.all([ada.page.close(), bob.page.close()]);
    }
  });

  test("a page that stops reading its chat falls behind and is cut off with RESOURCE_EXHAUSTED (the outbox bound)", async () => {
    const room = `slow-${Date.now()}`;
    const { page, logs } = await open(`${gw!.url}/streams.html?slow=${room}`);
    try {
      await page.waitForSelector('[data-check="slow joined"]', { timeout: 20_000 });
      // 6,000 messages of 2,000 characters: far more than the buffers
      // between the gateway and a page that is not reading hold.
      const flood = floodRoom(gw!.url, room, 6_000);
      const slowLeft = flood.left("slow");
      await flood.done;
      await page.click("#resume");
      const lines = await linesOf(page, logs, 60_000);
      assert.deepEqual(lines, {
        "slow joined": "slow joined, 1 member(s)",
        "slow outcome": "more than 256 more events, then ResourceExhausted: you fell more than 256 events behind the room; reconnect",
      });
      await slowLeft;
    } finally {
      await page.close();
    }
  });
});
