// Stock @connectrpc/connect-node on node:http2 (h2c), no framework.
import http2 from "node:http2";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { connectEcho, EchoService } from "./connect-echo.js";
import { announce, portOf } from "./serve-arm.js";

const server = http2.createServer(connectNodeAdapter({ routes: (router) => router.service(EchoService, connectEcho) }));
server.listen(0, "127.0.0.1", () => announce(portOf(server.address()), () => new Promise((resolve) => server.close(() => resolve()))));
