import { create, type DescMessage } from "@bufbuild/protobuf";

/**
 * What create(desc) returns for one message type, made once per type, so
 * that the decoders (binary and JSON) start each message they read from a
 * copy instead of running create()'s general loop.
 */
export interface ZeroMessage {
  desc: DescMessage;
  /** create(desc): the zero message a new one is copied from (after `fresh` is replaced). */
  template: Record<string, unknown>;
  /** Members whose zero value is a fresh object per message: lists, maps, oneofs. */
  fresh: { name: string; kind: number }[];
  /**
   * protobuf-es holds the defaults of explicit-presence scalars (proto2,
   * some editions) on a prototype chain, which a copy would lose: such
   * messages are made by create().
   */
  prototyped: boolean;
}

const FRESH_LIST = 0;
const FRESH_MAP = 1;
const FRESH_ONEOF = 2;

const zeros = new WeakMap<DescMessage, ZeroMessage>();

export function zeroMessageOf(desc: DescMessage): ZeroMessage {
  let zero = zeros.get(desc);
  if (zero !== undefined) return zero;
  const template = create(desc) as unknown as Record<string, unknown>;
  zero = { desc, template, fresh: [], prototyped: Object.getPrototypeOf(template) !== Object.prototype };
  for (const member of desc.members) {
    if (member.kind === "oneof") zero.fresh.push({ name: member.localName, kind: FRESH_ONEOF });
    else if (member.fieldKind === "list") zero.fresh.push({ name: member.localName, kind: FRESH_LIST });
    else if (member.fieldKind === "map") zero.fresh.push({ name: member.localName, kind: FRESH_MAP });
  }
  zeros.set(desc, zero);
  return zero;
}

/**
 * A new message, as create(desc) makes it: a copy of the zero message (same
 * keys, same order, the same constant values) with fresh lists, maps and
 * oneof objects.
 */
export function newMessage(zero: ZeroMessage): Record<string, unknown> {
  if (zero.prototyped) return create(zero.desc) as unknown as Record<string, unknown>;
  const msg = { ...zero.template };
  const fresh = zero.fresh;
  for (let i = 0; i < fresh.length; i++) {
    const f = fresh[i]!;
    msg[f.name] = f.kind === FRESH_LIST ? [] : f.kind === FRESH_MAP ? {} : { case: undefined };
  }
  return msg;
}
