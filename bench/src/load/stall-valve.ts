import net from "node:net";

/**
 * A TCP relay between a client and a server that can stop reading from the
 * server on command. To the server this is a client whose socket has stopped
 * reading: TCP buffers fill and its writes stop completing, whatever HTTP/2
 * flow-control window the client granted.
 */
export class StallValve {
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  readonly #upstreams = new Set<net.Socket>();
  #stalled = false;

  private constructor(server: net.Server) {
    this.#server = server;
  }

  static open(targetPort: number): Promise<StallValve> {
    const server = net.createServer();
    const valve = new StallValve(server);
    server.on("connection", (client) => valve.#relay(client, targetPort));
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve(valve));
    });
  }

  get url(): string {
    const address = this.#server.address() as net.AddressInfo;
    return `http://127.0.0.1:${address.port}`;
  }

  /** Stops reading what the server sends, on every relayed connection. */
  stall(): void {
    this.#stalled = true;
    for (const upstream of this.#upstreams) upstream.pause();
  }

  close(): void {
    for (const socket of this.#sockets) socket.destroy();
    this.#server.close();
  }

  #relay(client: net.Socket, targetPort: number): void {
    const upstream = net.connect(targetPort, "127.0.0.1");
    for (const s of [client, upstream]) {
      this.#sockets.add(s);
      s.on("error", () => {});
      s.once("close", () => {
        this.#sockets.delete(s);
        this.#upstreams.delete(upstream);
        client.destroy();
        upstream.destroy();
      });
    }
    this.#upstreams.add(upstream);
    // Requests are small: the client side needs no backpressure.
    client.on("data", (chunk: Buffer) => upstream.write(chunk));
    upstream.on("data", (chunk: Buffer) => {
      if (client.write(chunk)) return;
      upstream.pause();
      client.once("drain", () => {
        if (!this.#stalled) upstream.resume();
      });
    });
    if (this.#stalled) upstream.pause();
  }
}
