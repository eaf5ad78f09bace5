// One port speaks HTTP/1.1 and h2c side by side; with TLS it negotiates h2
// or http/1.1 by ALPN, and every protocol works over both.
import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import tls from "node:tls";
import { after, describe, test } from "node:test";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { GreetService } from "../../proto/gen/greet/v1/greet_pb.js";
import { TickerService } from "../../proto/gen/ticker/v1/ticker_pb.js";
import { client } from "../support/clients.js";
import { root, startGateway } from "../support/gateway.js";
import { h1Request, h2Request } from "../support/raw-http.js";
import { createSelfSignedCert } from "../support/self-signed-cert.js";

const examples = `${root}/functions`;
const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
const emptySettingsFrame = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);

describe("cleartext: HTTP/1.1 and h2c on one port", async () => {
  const gw = await startGateway({ functionsDir: examples });
  after(async () => assert.equal(await gw.stop(), 0));
  const body = JSON.stringify({ name: "Port" });
  const headers = { "content-type": "application/json" };

  test("an HTTP/1.1 request and an h2c request to the same port", async () => {
    const h1 = await h1Request(gw.port, { path: "/greet.v1.GreetService/Greet", headers, body });
    const h2 = await h2Request(gw.port, { path: "/greet.v1.GreetService/Greet", headers, body });
    assert.equal(h1.status, 200);
    assert.equal(h2.status, 200);
    assert.deepEqual(JSON.parse(h1.body.toString()), JSON.parse(h2.body.toString()));
  });

  test("an h2c preface that arrives a few bytes at a time is still HTTP/2", async () => {
    const socket = net.connect(gw.port, "127.0.0.1");
    await once(socket, "connect");
    for (let i = 0; i < preface.length; i += 5) {
      socket.write(preface.subarray(i, i + 5));
      await new Promise((r) => setTimeout(r, 5));
    }
    socket.write(emptySettingsFrame);
    const [first] = (await once(socket, "data")) as [Buffer];
    socket.destroy();
    assert.equal(first[3], 0x4, "the server answered with an HTTP/2 SETTINGS frame");
  });

  test("a connection that sends garbage gets an HTTP/1.1 error, not a hang", async () => {
    const socket = net.connect(gw.port, "127.0.0.1");
    await once(socket, "connect");
    socket.write("NONSENSE\r\n\r\n");
    const [answer] = (await once(socket, "data")) as [Buffer];
    socket.destroy();
    assert.match(answer.toString(), /^HTTP\/1\.1 400/);
  });
});

describe("TLS: ALPN picks h2 or http/1.1 on the same port", async () => {
  const cert = createSelfSignedCert();
  const gw = await startGateway({ functionsDir: examples, args: ["--tls-cert", cert.certPath, "--tls-key", cert.keyPath, "--host", "127.0.0.1"] });
  after(async () => assert.equal(await gw.stop(), 0));
  const url = `https://localhost:${gw.port}`;
  const nodeOptions = { ca: cert.cert };

  test("the listening line says https", () => {
    assert.match(gw.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  });

  for (const alpn of ["h2", "http/1.1"]) {
    test(`ALPN ${alpn} is negotiated`, async () => {
      const socket = tls.connect({ port: gw.port, host: "127.0.0.1", servername: "localhost", ca: cert.cert, ALPNProtocols: [alpn] });
      await once(socket, "secureConnect");
      assert.equal(socket.alpnProtocol, alpn);
      socket.destroy();
    });
  }

  test("gRPC over h2 with TLS", async () => {
    const res = await client(GreetService, createGrpcTransport({ baseUrl: url, nodeOptions })).greet({ name: "Tess", locale: "es" });
    assert.equal(res.greeting, "¡Hola, Tess!");
  });

  test("gRPC-Web and Connect over HTTP/1.1 with TLS, including a server stream", async () => {
    const grpcWeb = createGrpcWebTransport({ baseUrl: url, httpVersion: "1.1", nodeOptions });
    assert.equal((await client(GreetService, grpcWeb).greet({ name: "Ty" })).greeting, "Hello, Ty!");
    const connect = createConnectTransport({ baseUrl: url, httpVersion: "1.1", nodeOptions });
    const ticks: bigint[] = [];
    for await (const t of client(TickerService, connect).subscribe({ symbols: ["ACME"], intervalMs: 10 }, { timeoutMs: 2000 })) {
      ticks.push(t.sequence);
      if (ticks.length === 3) break;
    }
    assert.deepEqual(ticks, [1n, 2n, 3n]);
  });

  test("a plaintext client on the TLS port is refused, not served", async () => {
    await assert.rejects(h1Request(gw.port, { path: "/healthz", method: "GET" }));
  });
});
