// How a test reads the end of a call made with a Connect-ES client: the
// error it must end with, the retry delay that error carries, and every
// message of a stream.
import assert from "node:assert/strict";
import { ConnectError } from "@connectrpc/connect";
import { RetryInfoSchema } from "../../proto/gen/google/rpc/error_details_pb.js";

/** The error a call ends with; the test fails if it succeeds. Takes the call's promise, or a function that makes the call. */
export async function failure(call: Promise<unknown> | (() => Promise<unknown>)): Promise<ConnectError> {
  try {
    await (typeof call === "function" ? call() : call);
  } catch (e) {
    return ConnectError.from(e);
  }
  assert.fail("the call succeeded; it should have failed");
}

/** The google.rpc.RetryInfo delay of an error, in ms (undefined when it has none). */
export function retryDelayMs(e: ConnectError): number | undefined {
  const info = e.findDetails(RetryInfoSchema)[0];
  if (info?.retryDelay === undefined) return undefined;
  return Number(info.retryDelay.seconds) * 1000 + Math.round(info.retryDelay.nanos / 1e6);
}

/** Every message of a stream, once it has ended. */
export async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const m of stream) out.push(m);
  return out;
}
