import {
  create, fromBinary, fromJsonString, isMessage, toBinary, toJsonString,
  type DescMessage, type DescMethod, type JsonReadOptions, type JsonWriteOptions, type Message, type Registry,
} from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";

/**
 * Reads a method's request messages and writes its responses, in protobuf
 * binary or JSON, within the route's size limits.
 */
export class MethodCodec {
  readonly #input: DescMessage;
  readonly #output: DescMessage;
  readonly #json: Partial<JsonReadOptions & JsonWriteOptions>;

  constructor(method: DescMethod, readonly writeMaxBytes: number, registry: Registry) {
    this.#input = method.input;
    this.#output = method.output;
    // Unknown JSON fields are ignored, as Connect servers do, so that clients
    // built from a newer schema keep working.
    this.#json = { registry, ignoreUnknownFields: true };
  }

  get jsonOptions(): Partial<JsonWriteOptions> {
    return this.#json;
  }

  /** Decodes one request message; a malformed one is the protocol's error. */
  parse(bytes: Uint8Array, binary: boolean): Message {
    if (binary) {
      try {
        return fromBinary(this.#input, bytes);
      } catch (e) {
        throw new ConnectError(`parse binary: ${reason(e)}`, Code.Internal);
      }
    }
    try {
      return fromJsonString(this.#input, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8"), this.#json);
    } catch (e) {
      throw new ConnectError(reason(e), Code.InvalidArgument);
    }
  }

  /**
   * Encodes what a handler returned: a message of the output type, or the
   * init object of one.
   */
  serialize(value: unknown, binary: boolean): Uint8Array {
    const schema = this.#output;
    let bytes: Uint8Array;
    try {
      const message = isMessage(value, schema) ? value : create(schema, value as never);
      bytes = binary ? toBinary(schema, message) : Buffer.from(toJsonString(schema, message, this.#json), "utf8");
    } catch (e) {
      throw new ConnectError(`serialize ${binary ? "binary" : "JSON"}: ${reason(e)}`, Code.Internal);
    }
    if (bytes.byteLength > this.writeMaxBytes) {
      throw new ConnectError(`message size ${bytes.byteLength} is larger than configured writeMaxBytes ${this.writeMaxBytes}`, Code.ResourceExhausted);
    }
    return bytes;
  }
}

function reason(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
