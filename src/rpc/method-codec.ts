import type { DescMessage, DescMethod, JsonReadOptions, JsonWriteOptions, Message, Registry } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { checkResponse } from "../functions/check-response.js";
import { EncodeError } from "../protocol/encode-error.js";
import { decodeJson } from "../protocol/json/json-decoder.js";
import { encodeJson, encodesJsonItself } from "../protocol/json/json-encoder.js";
import { decodeBinary } from "../protocol/protobuf/binary-decoder.js";
import { encodeBinary } from "../protocol/protobuf/binary-encoder.js";

/**
 * Reads a method's request messages and writes its responses, in protobuf
 * binary or JSON, within the route's size limits. Responses are checked
 * against the output schema as they are encoded: a handler that returns a
 * value of the wrong shape gets a BadResponse, never a silent coercion.
 */
export class MethodCodec {
  readonly #input: DescMessage;
  readonly #output: DescMessage;
  readonly #registry: Registry;
  readonly #json: Partial<JsonReadOptions & JsonWriteOptions>;
  /** The JSON encoder leaves this output type to toJsonString, unchecked: check it first. */
  readonly #checkBeforeJson: boolean;

  constructor(method: DescMethod, readonly writeMaxBytes: number, registry: Registry) {
    this.#input = method.input;
    this.#output = method.output;
    this.#registry = registry;
    this.#checkBeforeJson = !encodesJsonItself(method.output);
    // For the JSON of error details. (Requests' unknown JSON fields are
    // ignored, as Connect servers do, so that clients built from a newer
    // schema keep working: decodeJson reads that way.)
    this.#json = { registry, ignoreUnknownFields: true };
  }

  get jsonOptions(): Partial<JsonWriteOptions> {
    return this.#json;
  }

  /** Decodes one request message; a malformed one is the protocol's error. */
  parse(bytes: Uint8Array, binary: boolean): Message {
    if (binary) {
      try {
        return decodeBinary(this.#input, bytes);
      } catch (e) {
        throw new ConnectError(`parse binary: ${reason(e)}`, Code.Internal);
      }
    }
    try {
      return decodeJson(this.#input, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8"), this.#registry);
    } catch (e) {
      throw new ConnectError(reason(e), Code.InvalidArgument);
    }
  }

  /**
   * Encodes what a handler returned (a message of the output type, or the
   * init object of one) into a Buffer whose first `headroom` bytes are left
   * free for the envelope header. Throws BadResponse when the value does
   * not fit the schema, RESOURCE_EXHAUSTED past writeMaxBytes.
   */
  encode(value: unknown, binary: boolean, headroom: number): Buffer {
    const schema = this.#output;
    let out: Buffer;
    try {
      if (binary) {
        out = encodeBinary(schema, value, headroom);
      } else {
        if (this.#checkBeforeJson) {
          const problem = checkResponse(schema, value);
          if (problem !== undefined) throw new BadResponse(schema.typeName, problem.path, problem.problem);
        }
        out = encodeJson(schema, value, headroom, this.#registry);
      }
    } catch (e) {
      if (e instanceof BadResponse) throw e;
      if (e instanceof EncodeError) {
        // The encoder stops at the first misfit; checkResponse words it for people (did you mean…).
        const worded = checkResponse(schema, value) ?? e;
        throw new BadResponse(schema.typeName, worded.path, worded.problem);
      }
      throw new ConnectError(`serialize ${binary ? "binary" : "JSON"}: ${reason(e)}`, Code.Internal);
    }
    const size = out.byteLength - headroom;
    if (size > this.writeMaxBytes) {
      throw new ConnectError(`message size ${size} is larger than configured writeMaxBytes ${this.writeMaxBytes}`, Code.ResourceExhausted);
    }
    return out;
  }
}

/** A handler returned a value that does not fit the method's output type. */
export class BadResponse extends Error {
  override name = "BadResponse";
  /** How the handler produced it: "returned", or "yielded (message #n)". */
  verb = "returned";
  constructor(
    readonly typeName: string,
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path === "" ? "the message" : `field ${path}`}: ${problem}`);
  }
}

function reason(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
