import type { DescService } from "@bufbuild/protobuf";
import { createClient, type Client, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";

/** Every transport a Connect-ES client can use against Sluice, by name. */
export function transports(baseUrl: string): Record<string, Transport> {
  return {
    "grpc h2": createGrpcTransport({ baseUrl }),
    "grpc-web h1.1": createGrpcWebTransport({ baseUrl, httpVersion: "1.1" }),
    "grpc-web h2": createGrpcWebTransport({ baseUrl, httpVersion: "2" }),
    "connect proto h1.1": createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true }),
    "connect json h1.1": createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false }),
    "connect proto h2": createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true }),
    "connect json h2": createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: false }),
  };
}

export function client<S extends DescService>(service: S, transport: Transport): Client<S> {
  return createClient(service, transport);
}

/** An AsyncIterable of the given items, for client streams. */
export async function* from<T>(items: Iterable<T>): AsyncIterable<T> {
  for (const i of items) yield i;
}
