import { Code, ConnectError, createContextValues } from "@connectrpc/connect";
import { codeFromHttpStatus } from "@connectrpc/connect/protocol-connect";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { rpcError } from "../errors.js";
import { writeRpcError } from "../protocol/write-rpc-error.js";
import { createCallRequest } from "./call-request.js";
import type { CorsPolicy } from "./cors-policy.js";
import type { InFlight } from "./in-flight.js";
import type { RouteTable } from "./route-table.js";
import { rpcContextKey, type RpcContext } from "./rpc-context.js";
import { sendResponse } from "./send-response.js";

export interface RpcRouteDeps {
  table: RouteTable;
  /** Serve GET requests for non-RPC paths from this folder (config staticDir). */
  staticDir?: string;
  inFlight: InFlight;
  cors: CorsPolicy;
  /** Aborted when shutdown begins. */
  draining: AbortSignal;
}

/**
 * The request path of every RPC, in one place:
 *
 *   socket → Listener → Fastify (onRequest hooks: CORS, request id)
 *     → this route: look the path up in the RouteTable, apply the deadline
 *       policy, run the Connect handler (all three protocols), write the
 *       response to the raw Node response
 *
 * One catch-all route serves every RPC path because Fastify's route table
 * is frozen after `ready` and functions come and go at run time.
 */
export function registerRpcRoute(app: FastifyInstance, deps: RpcRouteDeps): void {
  app.register(async (scope) => {
    if (deps.staticDir) await scope.register(fastifyStatic, { root: deps.staticDir, serve: false });
    // Connect reads request bodies itself; Fastify must not parse or limit them.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", (_req, _payload, done) => done(null, undefined));
    scope.route({
      // RPCs are GET and POST; other methods reach the handler too, so that an
      // RPC path answers them as the protocol does (405) rather than Fastify (404).
      method: ["GET", "POST", "PUT", "DELETE", "PATCH"],
      url: "/*",
      handler: (req, reply) => serveRpc(req, reply, deps),
    });
  });
}

async function serveRpc(req: FastifyRequest, reply: FastifyReply, deps: RpcRouteDeps): Promise<void> {
  const raw = req.raw;
  const res = reply.raw;
  const url = raw.url ?? "/";
  const q = url.indexOf("?");
  const path = q === -1 ? url : url.slice(0, q);
  const route = deps.table.get(path);
  if (!route && req.method === "GET" && !looksLikeRpcPath(path)) {
    // Not an RPC: a static file, if there is a folder for them.
    reply.header("x-request-id", String(req.id));
    if (deps.staticDir) return reply.sendFile(path.endsWith("/") ? `${path}index.html` : path);
    return reply.code(404).type("text/plain").send("404 not found\n");
  }
  reply.hijack();
  const started = performance.now();
  const headers = responseHeaders(reply, req);
  if (!route) {
    writeRpcError(raw, res, rpcError("SLUICE_RPC_UNIMPLEMENTED", Code.Unimplemented, { path }), headers);
    logCall(req, path, Code.Unimplemented, started);
    return;
  }
  if (deps.draining.aborted) {
    writeRpcError(raw, res, rpcError("SLUICE_RPC_DRAINING", Code.Unavailable), { ...headers, connection: "close" });
    logCall(req, path, Code.Unavailable, started);
    return;
  }
  const rpc: RpcContext = { requestId: String(req.id), log: req.log, draining: deps.draining };
  deps.inFlight.begin();
  let call: ReturnType<typeof createCallRequest> | undefined;
  try {
    call = createCallRequest(raw, res, route.deadline, createContextValues().set(rpcContextKey, rpc));
    const uRes = await route.handler(call.request);
    if (uRes.header) {
      for (const [k, v] of Object.entries(headers)) uRes.header.set(k, String(v));
      deps.cors.exposeResponseHeaders(req, uRes.header);
    }
    await sendResponse(uRes, res);
    logCall(req, path, rpc.code ?? statusOf(uRes), started);
  } catch (e) {
    if (call === undefined) {
      // The request itself is unusable (e.g. HTTP/1.0 without a Host header).
      const reason = e instanceof ConnectError ? e.rawMessage : e instanceof Error ? e.message : String(e);
      writeRpcError(raw, res, new ConnectError(`malformed request: ${reason}`, Code.InvalidArgument), headers);
      logCall(req, path, Code.InvalidArgument, started);
    } else {
      // Writing failed: the client went away mid-response. Nothing to answer.
      req.log.debug({ err: e, rpc: path }, "rpc response not delivered");
      logCall(req, path, rpc.code ?? Code.Canceled, started);
    }
  } finally {
    call?.release();
    deps.inFlight.end();
  }
}

/** Headers Fastify hooks set on the reply (CORS) plus the request id. */
function responseHeaders(reply: FastifyReply, req: FastifyRequest): Record<string, string | string[] | number> {
  const out: Record<string, string | string[] | number> = { "x-request-id": String(req.id) };
  for (const [k, v] of Object.entries(reply.getHeaders())) if (v !== undefined) out[k] = v;
  return out;
}

function looksLikeRpcPath(path: string): boolean {
  return /^\/[A-Za-z_][\w.]*\/[A-Za-z_]\w*$/.test(path);
}

/** The status of a finished response: gRPC trailers, else the Connect HTTP status. */
function statusOf(uRes: { status: number; trailer?: Headers; header?: Headers }): number {
  const grpc = uRes.trailer?.get("grpc-status") ?? uRes.header?.get("grpc-status");
  if (grpc != null) return Number(grpc);
  return uRes.status === 200 ? 0 : codeFromHttpStatus(uRes.status);
}

function logCall(req: FastifyRequest, path: string, code: number, started: number): void {
  req.log.info({ rpc: path, code: code === 0 ? "OK" : (Code[code as Code] ?? code), ms: Math.round((performance.now() - started) * 10) / 10 }, "rpc");
}
