import type { OutgoingHttpHeaders } from "node:http";
import type { ConnectError } from "@connectrpc/connect";
import type { RpcProtocol } from "./content-type.js";
import type { Metadata } from "./metadata.js";

/**
 * How one protocol puts a response on the wire. The RPC engine decides what
 * to send (a head, messages, an end with or without an error); a Wire says
 * how: which headers, how a message is framed, where the status goes.
 *
 * - gRPC: messages in envelopes; status and trailers as HTTP trailers.
 * - gRPC-Web: messages in envelopes; status and trailers in a final
 *   envelope flagged 0x80, so HTTP/1.1 and browsers can read them.
 * - Connect streaming: envelopes; a final end-of-stream envelope (0x02)
 *   holding JSON with the error and the trailers.
 * - Connect unary: the message is the body; the status is the HTTP status;
 *   trailers travel as `trailer-` headers.
 */
export interface Wire {
  readonly protocol: RpcProtocol;
  /** The response's status and trailers go in HTTP trailers (gRPC). */
  readonly httpTrailers: boolean;
  /** Connect unary: one unframed message per response, no end frame. */
  readonly unary: boolean;
  /** Header that names the message encoding of the response. */
  readonly encodingHeader: string;
  /** Header listing the encodings the server accepts. */
  readonly acceptEncodingHeader: string;
  /** Header with the client's deadline. */
  readonly timeoutHeader: string;

  /** Adds the protocol's own headers to a 200 response head. */
  head(out: OutgoingHttpHeaders, binary: boolean, encoding: string | undefined): void;
  /**
   * The end of a response whose head has gone out (or goes out with it):
   * body bytes to write last, and HTTP trailers.
   */
  end(error: ConnectError | undefined, trailer: Metadata | undefined, binary: boolean): { last?: Uint8Array; trailers?: OutgoingHttpHeaders };
}
