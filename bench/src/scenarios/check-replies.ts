import { fromBinary, fromJsonString } from "@bufbuild/protobuf";
import { createClient, ConnectError, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { EchoResponseSchema, EchoService, type EchoResponse } from "../../gen/bench/v1/echo_pb.js";
import { echoPath, type UnaryArm, type UnaryProtocol } from "../arms/arm-catalog.js";
import type { EchoPayload, PayloadName } from "../echo-messages.js";
import { exchange } from "../load/http2-exchange.js";
import { unaryRequest } from "../load/unary-wire.js";

export interface ReplyCheck {
  arm: string;
  payload: PayloadName | "stream" | "bidi";
  ok: boolean;
  /** What failed, or what was verified. */
  detail: string;
  /** Response body bytes of one h2load request: a run whose average differs was not all echoes. */
  replyBytes?: number;
}

function transportFor(protocol: UnaryProtocol, baseUrl: string, sessionManager: Http2SessionManager): Transport {
  const common = { baseUrl, httpVersion: "2" as const, sessionManager };
  switch (protocol) {
    case "grpc":
      return createGrpcTransport({ baseUrl, sessionManager });
    case "grpc-web":
      return createGrpcWebTransport({ ...common, useBinaryFormat: true });
    case "connect-proto":
      return createConnectTransport({ ...common, useBinaryFormat: true });
    case "connect-json":
      return createConnectTransport({ ...common, useBinaryFormat: false });
  }
}

/** Which fields of an echo differ from the request; empty when it is a faithful echo. */
export function echoMismatch(sent: EchoPayload["message"], got: EchoResponse): string[] {
  const bad: string[] = [];
  if (got.id !== sent.id) bad.push("id");
  if (got.text !== sent.text) bad.push("text");
  if (got.timestampMs !== sent.timestampMs) bad.push("timestamp_ms");
  if (got.score !== sent.score) bad.push("score");
  if (got.tags.join("\u0000") !== sent.tags.join("\u0000")) bad.push("tags");
  if (Buffer.compare(Buffer.from(got.payload), Buffer.from(sent.payload)) !== 0) bad.push("payload");
  return bad;
}

/**
 * Checks one unary arm twice before it is timed: with a real client of its
 * protocol (Connect-ES, which reads the status from trailers or headers and
 * decodes the message), and with the exact bytes and headers h2load will
 * send, so that the load run is known to be answered with echoes.
 */
export async function checkUnary(arm: UnaryArm, baseUrl: string, payload: EchoPayload): Promise<ReplyCheck> {
  const base = { arm: arm.id, payload: payload.name };
  const sessions = new Http2SessionManager(baseUrl);
  try {
    const client = createClient(EchoService, transportFor(arm.protocol, baseUrl, sessions));
    const res = await client.echo(payload.message, { timeoutMs: 10_000 });
    const bad = echoMismatch(payload.message, res);
    if (bad.length > 0) return { ...base, ok: false, detail: `real client: fields not echoed: ${bad.join(", ")}` };
  } catch (e) {
    const code = e instanceof ConnectError ? `status ${e.code}` : "error";
    return { ...base, ok: false, detail: `real client: ${code}: ${e instanceof Error ? e.message : String(e)}` };
  } finally {
    sessions.abort();
  }
  const wire = await checkWire(arm.protocol, baseUrl, payload).catch((e: Error) => ({ ok: false, detail: e.message, replyBytes: undefined }));
  if (!wire.ok) return { ...base, ok: false, detail: `h2load's request: ${wire.detail}` };
  return { ...base, ok: true, detail: "status 0, every field echoed (real client and h2load's request)", ...(wire.replyBytes !== undefined ? { replyBytes: wire.replyBytes } : {}) };
}

async function checkWire(protocol: UnaryProtocol, baseUrl: string, payload: EchoPayload): Promise<{ ok: boolean; detail: string; replyBytes?: number }> {
  const res = await exchange(baseUrl, echoPath, unaryRequest(protocol, payload));
  const replyBytes = res.body.length;
  if (res.status !== 200) return { ok: false, detail: `HTTP ${res.status}` };
  let message: Uint8Array;
  switch (protocol) {
    case "grpc": {
      const status = res.trailers["grpc-status"] ?? res.headers["grpc-status"];
      if (status !== "0") return { ok: false, detail: `grpc-status ${String(status)}` };
      message = res.body.subarray(5, 5 + res.body.readUInt32BE(1));
      break;
    }
    case "grpc-web": {
      // The message frame, then the trailers in a frame with flag 0x80.
      const end = 5 + res.body.readUInt32BE(1);
      message = res.body.subarray(5, end);
      const trailer = res.body.subarray(end);
      if (trailer[0] !== 0x80 || !/grpc-status:\s*0\r\n/i.test(trailer.subarray(5).toString())) return { ok: false, detail: "no grpc-status 0 in the trailer frame" };
      break;
    }
    case "connect-proto":
      message = res.body;
      break;
    case "connect-json": {
      const bad = echoMismatch(payload.message, fromJsonString(EchoResponseSchema, res.body.toString()));
      if (bad.length > 0) return { ok: false, detail: `fields not echoed: ${bad.join(", ")}` };
      return { ok: true, detail: "ok", replyBytes };
    }
  }
  // Compared decoded: encoders may differ in bytes (grpc-js writes empty bytes fields).
  const bad = echoMismatch(payload.message, fromBinary(EchoResponseSchema, message));
  if (bad.length > 0) return { ok: false, detail: `fields not echoed: ${bad.join(", ")}` };
  return { ok: true, detail: "ok", replyBytes };
}

/** EchoStream (3 copies) and EchoBidi (3 round trips) with a real gRPC client. */
export async function checkStreaming(serverId: string, baseUrl: string, message: EchoPayload["message"]): Promise<ReplyCheck[]> {
  const sessions = new Http2SessionManager(baseUrl);
  const client = createClient(EchoService, createGrpcTransport({ baseUrl, sessionManager: sessions }));
  const out: ReplyCheck[] = [];
  try {
    out.push(await outcome(serverId, "stream", async () => {
      let n = 0;
      for await (const res of client.echoStream({ count: 3, message }, { timeoutMs: 10_000 })) {
        const bad = echoMismatch(message, res);
        if (bad.length > 0) return `message ${n}: fields not echoed: ${bad.join(", ")}`;
        n++;
      }
      return n === 3 ? undefined : `${n} messages instead of 3`;
    }));
    out.push(await outcome(serverId, "bidi", async () => {
      async function* three() {
        for (let i = 0; i < 3; i++) yield { ...message, id: `bidi-${i}` };
      }
      let n = 0;
      for await (const res of client.echoBidi(three(), { timeoutMs: 10_000 })) {
        if (res.id !== `bidi-${n}` || echoMismatch({ ...message, id: res.id }, res).length > 0) return `round trip ${n} was not echoed`;
        n++;
      }
      return n === 3 ? undefined : `${n} replies instead of 3`;
    }));
  } finally {
    sessions.abort();
  }
  return out;
}

async function outcome(arm: string, payload: "stream" | "bidi", run: () => Promise<string | undefined>): Promise<ReplyCheck> {
  try {
    const problem = await run();
    if (problem) return { arm, payload, ok: false, detail: problem };
    return { arm, payload, ok: true, detail: payload === "stream" ? "3 echoes, status 0" : "3 round trips echoed, status 0" };
  } catch (e) {
    const code = e instanceof ConnectError ? `status ${e.code}: ` : "";
    return { arm, payload, ok: false, detail: `${code}${e instanceof Error ? e.message : String(e)}` };
  }
}
