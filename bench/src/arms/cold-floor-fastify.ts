// Cold-start floor with Sluice's host: a Fastify h2c server with one route
// that answers the cold-start scenario's first call (a Connect JSON Greet).
// The harness bundles it the way `sluice build` bundles the gateway (one
// ESM bundle, Node's compile cache warmed by a first run), so the gap
// between this arm and the built artifact is what Sluice itself costs at
// start: its own modules, protobuf-es's registries, the function files,
// the limits and the telemetry.
import module from "node:module";

// Before the bundle is loaded, as the artifact's entry point does.
// (@types/node 20 does not declare it: it came in Node 22.8.)
const { enableCompileCache } = module as { enableCompileCache?: (directory?: string) => unknown };
enableCompileCache?.(process.env.FLOOR_COMPILE_CACHE);
const { default: Fastify } = await import("fastify");
const { announce, portOf } = await import("./serve-arm.js");

const refuse = () => () => {
  throw new Error("no schemas here");
};
const app = Fastify({
  http2: true,
  logger: false,
  // As the gateway does (src/host/no-schema-compilers.ts): Ajv and fast-json-stringify stay unloaded.
  schemaController: { compilersFactory: { buildValidator: refuse, buildSerializer: refuse } },
});
app.post("/greet.v1.GreetService/Greet", (_req, reply) => {
  void reply.type("application/json").send(JSON.stringify({ greeting: "Hello, bench!" }));
});
await app.listen({ port: 0, host: "127.0.0.1" });
announce(portOf(app.server.address()), () => app.close());
