/** Why a gRPC-Web text body is not base64. */
export type Base64Problem =
  /** A character outside the standard alphabet (whitespace included), or "=" where no padding may be. */
  | { kind: "bad-character"; at: number }
  /** The body ended inside a 4-character group. */
  | { kind: "truncated"; have: number };

const alphabet = /^[A-Za-z0-9+/]*$/;

/**
 * Decodes a gRPC-Web text (application/grpc-web-text) body as its chunks
 * arrive. The body is not one base64 entity: a client may encode and send
 * each piece separately, so padding ("=" or "==") can close any 4-character
 * group, also in the middle of the body; and the network may split the text
 * at any byte, also inside a group. Each padded group is decoded on its own,
 * because Node's base64 decoder stops at the first "=" and would drop what
 * follows.
 *
 * Strict: only the standard alphabet, no whitespace, every group complete
 * (an unpadded tail is refused, as Envoy does).
 */
export class Base64Decoder {
  /** Up to 3 characters of a group the previous chunk ended inside. */
  #carry = "";
  /** Characters consumed before #carry, for the position in a problem. */
  #seen = 0;

  /** Decodes whole groups of `chunk` (with what the last chunk left over). */
  push(chunk: Uint8Array): Buffer | Base64Problem {
    const text = this.#carry + Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString("latin1");
    const usable = text.length - (text.length % 4);
    this.#carry = text.slice(usable);
    const start = this.#seen;
    this.#seen += usable;
    if (usable === 0) return emptyBuffer;
    const groups = usable === text.length ? text : text.slice(0, usable);
    // The common case: one base64 piece, padded (if at all) at its very end.
    const eq = groups.indexOf("=");
    if (eq === -1 || eq >= usable - 2) {
      const bad = checkGroups(groups, 0, usable);
      return bad === undefined ? Buffer.from(groups, "base64") : { kind: "bad-character", at: start + bad };
    }
    const parts: Buffer[] = [];
    for (let from = 0; from < usable; ) {
      const pad = groups.indexOf("=", from);
      const to = pad === -1 ? usable : pad - (pad % 4) + 4;
      const bad = checkGroups(groups, from, to);
      if (bad !== undefined) return { kind: "bad-character", at: start + bad };
      parts.push(Buffer.from(groups.slice(from, to), "base64"));
      from = to;
    }
    return Buffer.concat(parts);
  }

  /** At the end of the body: a problem when it stopped inside a group. */
  end(): Base64Problem | undefined {
    return this.#carry.length === 0 ? undefined : { kind: "truncated", have: this.#carry.length };
  }
}

const emptyBuffer = Buffer.alloc(0);

/**
 * Checks the groups text[from, to) (a multiple of 4 characters): every
 * character in the alphabet, except for padding that ends the last group
 * ("xx==" or "xxx="). Returns the offset of the first bad character.
 */
function checkGroups(text: string, from: number, to: number): number | undefined {
  let end = to;
  if (text.charCodeAt(to - 1) === 61 /* = */) {
    end = text.charCodeAt(to - 2) === 61 ? to - 2 : to - 1;
  }
  const body = text.slice(from, end);
  if (alphabet.test(body)) return undefined;
  for (let i = 0; i < body.length; i++) {
    if (!alphabet.test(body[i]!)) return from + i;
  }
  return from;
}
