import { create, toBinary, toJsonString } from "@bufbuild/protobuf";
import { EchoRequestSchema, StreamRequestSchema, type EchoRequest } from "../gen/bench/v1/echo_pb.js";

export type PayloadName = "small" | "10KiB";

/** One request every arm receives, in each encoding the load generators send. */
export interface EchoPayload {
  name: PayloadName;
  message: EchoRequest;
  /** The bare protobuf message (Connect unary with application/proto). */
  binary: Uint8Array;
  /** 5-byte prefix + message (gRPC and gRPC-Web). */
  frame: Buffer;
  /** Connect unary with application/json. */
  json: string;
}

/** A fixed pseudo-random byte pattern: the same bytes on every run, and not compressible. */
function patternBytes(length: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = 0x2545f491;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

function payload(name: PayloadName, payloadBytes: number): EchoPayload {
  // Strings, numbers and a repeated field: about 80 bytes encoded.
  const message = create(EchoRequestSchema, {
    id: "req-0000042",
    text: "hello from the sluice benchmark",
    timestampMs: 1_700_000_000_000n,
    score: 0.75,
    tags: ["alpha", "beta", "gamma"],
    payload: patternBytes(payloadBytes),
  });
  const binary = toBinary(EchoRequestSchema, message);
  return { name, message, binary, frame: grpcFrame(binary), json: toJsonString(EchoRequestSchema, message) };
}

export const payloads: Record<PayloadName, EchoPayload> = {
  small: payload("small", 0),
  "10KiB": payload("10KiB", 10 * 1024),
};

/** An EchoStream request for `count` copies of the small message, gRPC-framed. */
export function streamRequestFrame(count: number): Buffer {
  return grpcFrame(toBinary(StreamRequestSchema, create(StreamRequestSchema, { count, message: payloads.small.message })));
}

/**
 * The EchoStream request the bench function answers with its own counter
 * instead of echoes: how many messages its stream handlers have produced.
 * The stalled-consumer arm reads it to tell whether a handler was paused.
 */
export const statsRequestId = "bench.stats";
