// Stock @connectrpc/connect-fastify on Fastify with HTTP/2 (h2c).
import { fastifyConnectPlugin } from "@connectrpc/connect-fastify";
import { fastify } from "fastify";
import { connectEcho, EchoService } from "./connect-echo.js";
import { announce, portOf } from "./serve-arm.js";

const app = fastify({ http2: true, logger: false });
await app.register(fastifyConnectPlugin, { routes: (router) => router.service(EchoService, connectEcho) });
await app.listen({ host: "127.0.0.1", port: 0 });
announce(portOf(app.server.address()), () => app.close());
