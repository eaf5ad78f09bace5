// Bidi streaming: chat rooms.
//
// A member's first message joins a room; every message a member says is
// delivered to every member of that room, the sender included. Closing the
// stream (or cancelling it) leaves the room, and the others are told.
//
// When the server starts to shut down, every member is disconnected with
// UNAVAILABLE so that clients rejoin on another instance.
//
// Each member has a bounded outbox. A member that reads too slowly to keep
// up is disconnected with RESOURCE_EXHAUSTED instead of making the room
// buffer without limit: one slow reader cannot hurt the others.
import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, defineFunction, rpcContextKey } from "sluice";
import { type ChatEvent, ChatEvent_Kind, ChatEventSchema, type ChatRequest, ChatService } from "../proto/gen/chat/v1/chat_pb.js";

/** Events waiting for a member before it counts as too slow. */
const outboxLimit = 256;

class Member {
  #queue: ChatEvent[] = [];
  #wake: (() => void) | undefined;
  #error: ConnectError | undefined;
  #closed = false;

  constructor(readonly name: string) {}

  deliver(event: ChatEvent): void {
    if (this.#closed) return;
    if (this.#queue.length >= outboxLimit) {
      this.close(new ConnectError(`you fell more than ${outboxLimit} events behind the room; reconnect`, Code.ResourceExhausted));
      return;
    }
    this.#queue.push(event);
    this.#wake?.();
  }

  close(error?: ConnectError): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#error = error;
    this.#wake?.();
  }

  /** Yields delivered events until the member is closed. */
  async *events(): AsyncGenerator<ChatEvent> {
    for (;;) {
      const next = this.#queue.shift();
      if (next !== undefined) {
        yield next;
        continue;
      }
      if (this.#closed) {
        if (this.#error) throw this.#error;
        return;
      }
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
    }
  }
}

const rooms = new Map<string, Set<Member>>();

function broadcast(room: string, kind: ChatEvent_Kind, from: string, text = ""): void {
  const members = rooms.get(room);
  if (!members) return;
  const event = create(ChatEventSchema, { kind, room, from, text, time: timestampNow(), members: members.size });
  for (const m of members) m.deliver(event);
}

function validateJoin(req: ChatRequest): { room: string; name: string } {
  if (req.action.case !== "join") {
    throw new ConnectError("the first message must be a join", Code.InvalidArgument);
  }
  const { room, name } = req.action.value;
  if (room.length < 1 || room.length > 64) throw new ConnectError("join.room: 1 to 64 characters", Code.InvalidArgument);
  if (name.length < 1 || name.length > 32) throw new ConnectError("join.name: 1 to 32 characters", Code.InvalidArgument);
  return { room, name };
}

export default defineFunction({
  service: ChatService,
  implementation: {
    async *chat(requests, ctx) {
      const it = requests[Symbol.asyncIterator]();
      const first = await it.next();
      if (first.done) return;
      const { room, name } = validateJoin(first.value);

      const member = new Member(name);
      const members = rooms.get(room) ?? new Set<Member>();
      rooms.set(room, members);
      members.add(member);
      broadcast(room, ChatEvent_Kind.JOINED, name);

      // Read the member's messages while the generator below writes events.
      const reading = (async () => {
        for (let r = await it.next(); !r.done; r = await it.next()) {
          const action = r.value.action;
          if (action.case !== "say") throw new ConnectError("after the join, send only say messages", Code.InvalidArgument);
          if (action.value.text.length < 1 || action.value.text.length > 2000) {
            throw new ConnectError("say.text: 1 to 2000 characters", Code.InvalidArgument);
          }
          broadcast(room, ChatEvent_Kind.MESSAGE, name, action.value.text);
        }
      })().then(
        () => member.close(), // the client closed its side: leave
        (e) => member.close(ConnectError.from(e, Code.Internal)),
      );
      const onAbort = () => member.close();
      const draining = ctx.values.get(rpcContextKey)?.draining;
      const onDrain = () => member.close(new ConnectError("the server is restarting; join again", Code.Unavailable));
      ctx.signal.addEventListener("abort", onAbort);
      draining?.addEventListener("abort", onDrain);
      if (draining?.aborted) onDrain();
      try {
        yield* member.events();
      } finally {
        ctx.signal.removeEventListener("abort", onAbort);
        draining?.removeEventListener("abort", onDrain);
        members.delete(member);
        if (members.size === 0) rooms.delete(room);
        else broadcast(room, ChatEvent_Kind.LEFT, name);
        void reading;
      }
    },
  },
});
