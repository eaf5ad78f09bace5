import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import type { Route } from "../host/route-table.js";

/**
 * The routes table printed at start: one line per RPC with its service,
 * method, stream kind, the protocols that can call it and where it lives.
 */
export function formatRoutesTable(routes: Route[], websocket = true): string {
  const rows = routes
    .slice()
    // Code-point order, not localeCompare: paths are ASCII, and the first
    // localeCompare of a process loads ICU's collator (several ms of start-up).
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((r) => [r.method.parent.typeName, r.method.name, r.method.methodKind.replace("_", "-"), protocolsOf(r, websocket), r.source]);
  const header = ["SERVICE", "METHOD", "KIND", "PROTOCOLS", "SOURCE"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ");
  return [line(header), ...rows.map(line)].join("\n");
}

/** Bidi needs both directions at once: HTTP/2, or a WebSocket (gRPC-Web) from HTTP/1.1 clients such as browsers. */
function protocolsOf(r: Route, websocket: boolean): string {
  const getAllowed = r.method.methodKind === "unary" && r.method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS;
  const list = `connect${getAllowed ? "(+GET)" : ""} grpc grpc-web`;
  if (r.method.methodKind !== "bidi_streaming") return list;
  return `${list} (${websocket ? "HTTP/2 or WebSocket" : "HTTP/2 only"})`;
}
