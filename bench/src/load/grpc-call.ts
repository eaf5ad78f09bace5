import http2 from "node:http2";

/** HTTP/2 client settings for the lean clients: windows large enough that flow control never throttles a run. */
export function connectLean(url: string): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url, { settings: { initialWindowSize: 4 * 1024 * 1024 } });
    session.once("error", reject);
    session.once("connect", () => {
      session.off("error", reject);
      session.on("error", () => {});
      session.setLocalWindowSize(32 * 1024 * 1024);
      resolve(session);
    });
  });
}

/** Opens a gRPC call; `status` resolves with grpc-status once the stream has closed. */
export function openGrpcCall(session: http2.ClientHttp2Session, path: string): { stream: http2.ClientHttp2Stream; status: Promise<string> } {
  const stream = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers" }, { endStream: false });
  let status = "no grpc-status";
  stream.on("response", (h) => {
    if (h["grpc-status"] !== undefined) status = String(h["grpc-status"]);
    else if (h[":status"] !== 200) status = `HTTP ${String(h[":status"])}`;
  });
  stream.on("trailers", (t) => {
    if (t["grpc-status"] !== undefined) status = String(t["grpc-status"]);
  });
  stream.on("error", (e: Error) => (status = e.message));
  return { stream, status: new Promise((resolve) => stream.once("close", () => resolve(status))) };
}
