import { createHash } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

/** The GUID every WebSocket server appends to the client's key (RFC 6455 §1.3). */
const guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** The Sec-WebSocket-Accept value for a client's Sec-WebSocket-Key. */
export function acceptKey(key: string): string {
  return createHash("sha1").update(key + guid).digest("base64");
}

/** True when the request asks to become a WebSocket (Upgrade: websocket). */
export function isWebSocketUpgrade(headers: IncomingHttpHeaders): boolean {
  const upgrade = headers.upgrade;
  return typeof upgrade === "string" && upgrade.toLowerCase() === "websocket";
}

/**
 * Checks an opening handshake (RFC 6455 §4.2.1): GET over HTTP/1.1, a
 * Connection: Upgrade, version 13 and a 16-byte base64 key. Returns the key,
 * or the HTTP status and reason to refuse with (426 asks for version 13).
 */
export function checkHandshake(method: string | undefined, httpVersion: string, headers: IncomingHttpHeaders): { key: string } | { status: 400 | 426; reason: string } {
  if (method !== "GET") return { status: 400, reason: `a WebSocket handshake is a GET, not ${method ?? "(none)"}` };
  if (httpVersion !== "1.1") return { status: 400, reason: "a WebSocket handshake needs HTTP/1.1" };
  const connection = String(headers.connection ?? "").toLowerCase();
  if (!connection.split(",").some((t) => t.trim() === "upgrade")) return { status: 400, reason: "Connection must include Upgrade" };
  if (headers["sec-websocket-version"] !== "13") return { status: 426, reason: "only WebSocket version 13 is supported" };
  const key = headers["sec-websocket-key"];
  if (typeof key !== "string" || !/^[A-Za-z0-9+/]{22}==$/.test(key.trim())) return { status: 400, reason: "Sec-WebSocket-Key must be 16 bytes in base64" };
  return { key: key.trim() };
}

/** True when the client lists `name` among the sub-protocols it speaks (Sec-WebSocket-Protocol). */
export function offersSubprotocol(headers: IncomingHttpHeaders, name: string): boolean {
  const value = headers["sec-websocket-protocol"];
  if (value === undefined) return false;
  return (Array.isArray(value) ? value.join(",") : value).split(",").some((p) => p.trim().toLowerCase() === name);
}

/** The 101 response that completes the handshake, speaking `protocol`, with no extension. */
export function switchingProtocols(key: string, protocol: string): string {
  return `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\nSec-WebSocket-Protocol: ${protocol}\r\n\r\n`;
}
