import net from "node:net";

/**
 * A TCP load balancer for tests, in front of gateway processes on loopback,
 * as a Kubernetes Service (kube-proxy) is in front of pods: each new
 * connection goes to the next backend in turn, and to the one after it when
 * that one refuses (a process that stopped listening to drain). Bytes pass
 * through untouched, so HTTP/2, GOAWAY and all, is between client and gateway.
 */
export class TcpBalancer {
  readonly #server = net.createServer((socket) => this.#accept(socket));
  readonly #sockets = new Set<net.Socket>();
  #backends: number[];
  #next = 0;
  /** Connections handed to each backend port. */
  readonly connections = new Map<number, number>();

  private constructor(backends: number[]) {
    this.#backends = [...backends];
  }

  static async start(backends: number[]): Promise<TcpBalancer> {
    const b = new TcpBalancer(backends);
    await new Promise<void>((resolve) => b.#server.listen(0, "127.0.0.1", resolve));
    return b;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as net.AddressInfo).port}`;
  }

  /** Replaces the backends new connections go to (connections already made stay). */
  setBackends(ports: number[]): void {
    this.#backends = [...ports];
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: net.Socket): void {
    this.#track(client);
    client.pause();
    const candidates = this.#backends.length;
    const attempt = (tries: number) => {
      if (tries >= candidates || client.destroyed) {
        client.destroy();
        return;
      }
      const port = this.#backends[this.#next++ % this.#backends.length]!;
      const upstream = net.connect(port, "127.0.0.1");
      let connected = false;
      upstream.once("error", () => {
        upstream.destroy();
        if (!connected) attempt(tries + 1);
        else client.destroy();
      });
      upstream.once("connect", () => {
        connected = true;
        this.connections.set(port, (this.connections.get(port) ?? 0) + 1);
        this.#track(upstream);
        upstream.on("error", () => client.destroy());
        client.on("error", () => upstream.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
        client.on("close", () => upstream.destroy());
        upstream.on("close", () => client.destroy());
      });
    };
    attempt(0);
  }

  #track(s: net.Socket): void {
    this.#sockets.add(s);
    s.on("close", () => this.#sockets.delete(s));
  }
}
