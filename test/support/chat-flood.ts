import { createClient } from "@connectrpc/connect";
import { ChatEvent_Kind, ChatService } from "../../proto/gen/chat/v1/chat_pb.js";
import { createWebSocketTransport } from "../../src/web/web-transport.js";
import { NodeWebSocket } from "./grpc-websocket.js";

/** A chat member that floods a room, and then waits in it to see who leaves. */
export interface Flood {
  /** Resolves once all `total` messages went round the room (their echoes came back). */
  done: Promise<void>;
  /** Resolves when `name` leaves the room; then the flooder leaves too. */
  left(name: string): Promise<void>;
}

/**
 * Joins `room` (as "flood", over the WebSocket transport on Node's `ws`)
 * and says `total` messages of 2,000 characters, at most 32 ahead of their
 * echoes so that the flooder itself keeps up with the room: traffic for a
 * member that stops reading, far more than the network buffers between the
 * gateway and that member hold.
 */
export function floodRoom(baseUrl: string, room: string, total: number): Flood {
  const chat = createClient(ChatService, createWebSocketTransport({ baseUrl, webSocket: NodeWebSocket }));
  const text = "x".repeat(2000);
  let sent = 0;
  let echoed = 0;
  let wake: (() => void) | undefined;
  const leavers = new Map<string, () => void>();
  let finished = false;
  async function* say() {
    yield { action: { case: "join" as const, value: { room, name: "flood" } } };
    for (; sent < total; sent++) {
      while (sent - echoed >= 32) await new Promise<void>((r) => (wake = r));
      yield { action: { case: "say" as const, value: { text } } };
    }
    while (!finished) await new Promise<void>((r) => (wake = r));
  }
  let allEchoed!: () => void;
  const done = new Promise<void>((r) => (allEchoed = r));
  void (async () => {
    for await (const e of chat.chat(say())) {
      if (e.kind === ChatEvent_Kind.MESSAGE && e.from === "flood" && ++echoed === total) allEchoed();
      if (e.kind === ChatEvent_Kind.LEFT) {
        const resolve = leavers.get(e.from);
        if (resolve) {
          finished = true;
          resolve();
        }
      }
      wake?.();
    }
  })().catch(() => {});
  return {
    done,
    left: (name) => new Promise<void>((resolve) => leavers.set(name, resolve)),
  };
}
