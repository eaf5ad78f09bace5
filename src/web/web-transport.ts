// The browser module published as "sluice/web-transport". Runs in browsers:
// no Node APIs here.
import type { BinaryReadOptions, BinaryWriteOptions, JsonReadOptions, JsonWriteOptions } from "@bufbuild/protobuf";
import type { Interceptor, Transport } from "@connectrpc/connect";
import { createTransport } from "@connectrpc/connect/protocol-grpc-web";
import type { WebSocketConstructor } from "./message-channel.js";
import { createWebSocketClient } from "./websocket-client.js";

export type { WebSocketConstructor, WebSocketLike } from "./message-channel.js";

/** Options of createWebSocketTransport. */
export interface WebSocketTransportOptions {
  /** The gateway's base URL, http(s)://host[:port][/prefix]; calls go to ws(s):// at the same place. */
  baseUrl: string;
  /** Protobuf binary (default) or JSON messages. */
  useBinaryFormat?: boolean;
  interceptors?: Interceptor[];
  jsonOptions?: Partial<JsonReadOptions & JsonWriteOptions>;
  binaryOptions?: Partial<BinaryReadOptions & BinaryWriteOptions>;
  /** Deadline of calls that set none, in milliseconds (sent as grpc-timeout). */
  defaultTimeoutMs?: number;
  /** Largest response message accepted, in bytes. Default: 4 MiB. */
  readMaxBytes?: number;
  /** Largest request message sent, in bytes. Default: 4 MiB. */
  writeMaxBytes?: number;
  /**
   * Plain WebSocket only: sending a request message waits while more than
   * this many bytes are buffered on the socket (WebSocket.bufferedAmount).
   * Default: 64 KiB. With WebSocketStream (Chromium) each message waits
   * for the last one to be taken.
   */
  sendBufferBytes?: number;
  /**
   * Plain WebSocket only: responses that arrived but were not read yet are
   * held up to this many bytes; past it the call fails with
   * RESOURCE_EXHAUSTED (a plain WebSocket cannot stop the server sending).
   * Default: 16 MiB. With WebSocketStream, a page that stops reading stops
   * the socket instead, and the server sees a slow consumer.
   */
  receiveBufferBytes?: number;
  /**
   * A WebSocket class to use instead of the browser's, e.g. Node's `ws`
   * package (`import WebSocket from "ws"`). Setting it uses the plain
   * WebSocket path even where WebSocketStream exists.
   */
  webSocket?: WebSocketConstructor;
}

/**
 * A Connect-ES Transport that carries every call on its own WebSocket to a
 * Sluice gateway (gRPC-Web framing, sub-protocol grpc-websockets), so
 * generated Connect clients in a browser can use all four stream kinds:
 * unary, server streaming, and the client and bidi streaming that fetch
 * cannot do.
 *
 * ```ts
 * import { createClient } from "@connectrpc/connect";
 * import { createWebSocketTransport } from "sluice/web-transport";
 * const chat = createClient(ChatService, createWebSocketTransport({ baseUrl: location.origin }));
 * for await (const event of chat.chat(outgoing())) render(event);
 * ```
 *
 * Deadlines, cancellation (the call's signal closes its WebSocket),
 * headers, trailers and errors with details work as with Connect-ES's own
 * gRPC-Web transport. The page's origin must be the gateway's own or in its
 * cors.origins.
 */
export function createWebSocketTransport(options: WebSocketTransportOptions): Transport {
  const mib4 = 4 * 1024 * 1024;
  return createTransport({
    httpClient: createWebSocketClient({
      sendBufferBytes: options.sendBufferBytes ?? 64 * 1024,
      receiveBufferBytes: options.receiveBufferBytes ?? 16 * 1024 * 1024,
      ...(options.webSocket ? { webSocket: options.webSocket } : {}),
    }),
    baseUrl: options.baseUrl,
    useBinaryFormat: options.useBinaryFormat ?? true,
    interceptors: options.interceptors ?? [],
    acceptCompression: [],
    sendCompression: null,
    compressMinBytes: 0,
    readMaxBytes: options.readMaxBytes ?? mib4,
    writeMaxBytes: options.writeMaxBytes ?? mib4,
    ...(options.jsonOptions ? { jsonOptions: options.jsonOptions } : {}),
    ...(options.binaryOptions ? { binaryOptions: options.binaryOptions } : {}),
    ...(options.defaultTimeoutMs !== undefined ? { defaultTimeoutMs: options.defaultTimeoutMs } : {}),
  });
}
