// A handler that returns or yields a value that does not match its output
// schema gets INTERNAL SLUICE_RPC_BAD_RESPONSE in every protocol, through
// `start` and `dev`: the client sees the request id and nothing else, the log
// has the field path, the function file and a stack. Nothing is coerced.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { Code, ConnectError, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { ProbeService } from "../gen/probe/v1/probe_pb.js";
import { client } from "../support/clients.js";
import { root, startGateway, type RunningGateway } from "../support/gateway.js";
import { grpc, grpcJsClient } from "../support/grpc-js-client.js";
import { TempFunctions } from "../support/temp-functions.js";
import { failure } from "../support/call-outcome.js";

// Values from JSON or `any` are how these reach a handler in real code; the
// casts keep the file type-correct so that dev's type check lets it load.
const badFunction = `import { defineFunction } from "sluice";
import { ProbeService } from "${root}/test/gen/probe/v1/probe_pb.js";

const bad: Record<string, unknown> = { object: { text: {} }, number: { text: 5 }, unknown: { txt: "x" }, nested: { headers: { a: 1 } } };

export default defineFunction({
  service: ProbeService,
  implementation: {
    unary(req) {
      return (bad[req.text] ?? { text: "fine" }) as any;
    },
    async *serverStream(req) {
      yield { text: "first" };
      yield (bad[req.text] ?? { text: "second" }) as any;
    },
    async clientStream(requests) {
      for await (const r of requests) void r;
      return { count: "1" } as any;
    },
  },
});
`;

const fns = new TempFunctions("bad-response");
const file = fns.write("bad.ts", badFunction);
const shownFile = file.slice(root.length + 1);
after(() => fns.cleanup());

/** The client's view: INTERNAL, the code and the request id, no field names or values. */
function assertClientError(e: ConnectError): string {
  assert.equal(e.code, Code.Internal);
  const m = /^SLUICE_RPC_BAD_RESPONSE: internal error: the function returned a response that does not match its schema; the server log has the details under request id (\S+)$/.exec(e.rawMessage);
  assert.ok(m, `unexpected message: ${e.rawMessage}`);
  assert.doesNotMatch(e.rawMessage, /text|cannot use field|expected/);
  return m[1]!;
}

/** The log line for one request id, parsed. */
async function logLine(gw: RunningGateway, requestId: string): Promise<Record<string, any>> {
  await gw.waitForOutput(new RegExp(`"reqId":"${requestId}".*"code":"SLUICE_RPC_BAD_RESPONSE"`));
  const line = gw.output().split("\n").find((l) => l.includes(`"reqId":"${requestId}"`) && l.includes("SLUICE_RPC_BAD_RESPONSE"));
  return JSON.parse(line!) as Record<string, any>;
}

for (const command of ["start", "dev"] as const) {
  describe(`sluice ${command}`, () => {
    let gw: RunningGateway;
    let transports: Record<string, Transport>;
    test("starts", async () => {
      gw = await startGateway({ command, functionsDir: fns.dir, ...(command === "dev" ? { env: { SLUICE_LOG_FORMAT: "json" } } : {}) });
      transports = {
        "Connect (JSON, HTTP/1.1)": createConnectTransport({ baseUrl: gw.url, httpVersion: "1.1" }),
        "Connect (binary, HTTP/2)": createConnectTransport({ baseUrl: gw.url, httpVersion: "2", useBinaryFormat: true }),
        gRPC: createGrpcTransport({ baseUrl: gw.url }),
      };
    });
    after(async () => assert.equal(await gw?.stop(), 0));

    test("a string field given {} or 5, an unknown field, a bad map value: INTERNAL with the path in the log", async () => {
      const cases = [
        ["object", "text", "expected a string, got an empty object {}"],
        ["number", "text", "expected a string, got the number 5"],
        ["unknown", "txt", "probe.v1.ProbeResponse has no field \"txt\"; did you mean \"text\"?"],
        ["nested", "headers[\"a\"]", "expected a string, got the number 1"],
      ] as const;
      for (const [name, transport] of Object.entries(transports)) {
        for (const [text, field, problem] of cases) {
          const e = await failure(client(ProbeService, transport).unary({ text }));
          const id = assertClientError(e);
          const log = await logLine(gw, id);
          assert.equal(log.field, field, name);
          assert.equal(log.file, shownFile);
          assert.equal(log.method, "probe.v1.ProbeService.Unary");
          assert.equal(log.msg, `${shownFile}: probe.v1.ProbeService.Unary returned a bad response: field ${field}: ${problem}`);
          assert.ok(log.err.stack, "the log line has a stack");
        }
      }
      // A good answer from the same function still works.
      assert.equal((await client(ProbeService, transports.gRPC!).unary({ text: "ok" })).text, "fine");
    });

    test("a stream delivers the good messages, then ends with INTERNAL at the bad one", async () => {
      for (const transport of Object.values(transports)) {
        const got: string[] = [];
        const e = await failure((async () => {
          for await (const r of client(ProbeService, transport).serverStream({ text: "number" })) got.push(r.text);
        })());
        assert.deepEqual(got, ["first"]);
        const log = await logLine(gw, assertClientError(e));
        assert.equal(log.msg, `${shownFile}: probe.v1.ProbeService.ServerStream yielded (message #2) a bad response: field text: expected a string, got the number 5`);
      }
    });

    test("a client stream's answer is checked too: a string for a uint64", async () => {
      const e = await failure(client(ProbeService, transports.gRPC!).clientStream((async function* () { yield { text: "a" }; })()));
      const log = await logLine(gw, assertClientError(e));
      assert.equal(log.field, "count");
      assert.match(log.msg, /expected uint64 \(a bigint, or a safe integer number\), got the string "1"/);
    });

    test("grpc-js: the same INTERNAL, never a silently coerced OK", async () => {
      const c = grpcJsClient("probe/v1/probe.proto", "probe.v1.ProbeService", `127.0.0.1:${gw.port}`);
      try {
        const err = await new Promise<grpc.ServiceError>((resolve, reject) => {
          c.unary({ text: "number" }, (e: grpc.ServiceError | null, res: unknown) => (e ? resolve(e) : reject(new Error(`answered ${JSON.stringify(res)}`))));
        });
        assert.equal(err.code, grpc.status.INTERNAL);
        assert.match(err.details, /^SLUICE_RPC_BAD_RESPONSE: internal error: .* request id \S+$/);
      } finally {
        c.close();
      }
    });
  });
}
