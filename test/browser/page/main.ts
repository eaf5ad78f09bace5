// The page test/browser/browser.test.ts loads in Chromium: it calls the
// example functions the way a web app would, with @connectrpc/connect-web
// over gRPC-Web and over Connect (unary via HTTP GET), and with a bare
// fetch, and shows each outcome as one line of text. The test reads the
// lines; `body[data-done]` says they are all there.
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { BadRequestSchema } from "../../../proto/gen/google/rpc/error_details_pb.js";
import { GreetService } from "../../../proto/gen/greet/v1/greet_pb.js";
import { TickerService } from "../../../proto/gen/ticker/v1/ticker_pb.js";

const api = new URL(location.href).searchParams.get("api") ?? location.origin;
const list = document.getElementById("results")!;

const transports: Record<string, Transport> = {
  "grpc-web": createGrpcWebTransport({ baseUrl: api }),
  // Greet has no side effects, so this transport calls it with GET.
  connect: createConnectTransport({ baseUrl: api, useHttpGet: true }),
};

/** Runs one call and shows `name: outcome`; an unexpected error is the outcome too. */
async function show(name: string, call: () => Promise<string>): Promise<void> {
  let text: string;
  try {
    text = await call();
  } catch (e) {
    text = `unexpected ${describeError(e)}`;
  }
  const item = document.createElement("li");
  item.dataset.check = name;
  item.textContent = `${name}: ${text}`;
  list.append(item);
}

function describeError(e: unknown): string {
  const err = ConnectError.from(e);
  const violations = err.findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations.map((v) => `${v.field} ${v.reason}`));
  return `${Code[err.code]}: ${err.rawMessage}${violations.length > 0 ? ` | BadRequest: ${violations.join(", ")}` : ""}`;
}

async function expectError(call: Promise<unknown>): Promise<string> {
  return call.then(
    () => "no error",
    (e: unknown) => describeError(e),
  );
}

for (const [name, transport] of Object.entries(transports)) {
  const greeter = createClient(GreetService, transport);
  const ticker = createClient(TickerService, transport);

  await show(`${name} unary`, async () => {
    const res = await greeter.greet({ name: "Ada", locale: "de" });
    return `${res.greeting} (${res.locale})`;
  });

  await show(`${name} server streaming`, async () => {
    const seen: string[] = [];
    // Leaving the loop alone would keep the response body open; aborting cancels it.
    const abort = new AbortController();
    for await (const tick of ticker.subscribe({ symbols: ["ACME", "GLOBEX"], intervalMs: 10 }, { signal: abort.signal })) {
      seen.push(`${tick.symbol}#${tick.sequence}`);
      if (seen.length === 4) break;
    }
    abort.abort();
    return seen.join(" ");
  });

  await show(`${name} error`, () => expectError(greeter.greet({ name: "" })));
}

await show("grpc-web status", async () => {
  let status: string | null = null;
  let requestId: string | null = null;
  await createClient(GreetService, transports["grpc-web"]!).greet(
    { name: "Ada" },
    { onHeader: (h) => (requestId = h.get("x-request-id")), onTrailer: (t) => (status = t.get("grpc-status")) },
  );
  return `grpc-status ${status}, x-request-id ${requestId ? "readable" : "hidden"}`;
});

// Without a client library: the status of a failed gRPC-Web call, as a page
// reads it from the response (Sluice sends gRPC-Web errors in the body's
// trailer frame, which a cross-origin page can always read).
await show("fetch grpc-web", async () => {
  const res = await fetch(`${api}/greet.v1.GreetService/Greet`, {
    method: "POST",
    headers: { "content-type": "application/grpc-web+proto", "x-grpc-web": "1" },
    body: new Uint8Array(5), // one envelope holding an empty GreetRequest
  });
  const body = new Uint8Array(await res.arrayBuffer());
  const trailer = new TextDecoder().decode(body.subarray(5)); // a trailers-only body: one trailer frame
  const field = (key: string) => new RegExp(`^${key}: ?(.*?)\\r?$`, "m").exec(trailer)?.[1];
  return [
    `HTTP ${res.status}`,
    `trailer frame flags 0x${body[0]?.toString(16)}`,
    `grpc-status ${field("grpc-status")}`,
    `grpc-message ${decodeURIComponent(field("grpc-message") ?? "")}`,
    `x-request-id ${res.headers.get("x-request-id") ? "readable" : "hidden"}`,
  ].join(", ");
});

document.body.dataset.done = "true";
