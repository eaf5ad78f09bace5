/**
 * Finding duplicate keys in a JSON text after JSON.parse, which keeps the
 * last of two equal keys without a word, where protobuf-es's fromJsonString
 * refuses the text (at any depth, also inside fields it ignores).
 *
 * Instead of a Set of names per object, two counts: the members the text
 * has (its colons outside strings) and the keys the parsed objects have.
 * They differ exactly when some object lost a duplicate. The text is
 * scanned with indexOf from string to string, so a long string (a base64
 * payload) costs one native search, not a JavaScript loop over it.
 */

/** Members (name: value pairs) in a JSON text that JSON.parse accepted. */
export function membersInText(text: string): number {
  let count = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x3a /* : */) {
      count++;
    } else if (c === 0x22 /* " */) {
      let end = text.indexOf('"', i + 1);
      while (end !== -1 && escaped(text, end)) end = text.indexOf('"', end + 1);
      if (end === -1) return -1;
      i = end;
    }
  }
  return count;
}

/** A quote preceded by an odd number of backslashes is part of the string. */
function escaped(text: string, quote: number): boolean {
  let k = quote - 1;
  while (text.charCodeAt(k) === 0x5c /* \ */) k--;
  return (quote - 1 - k) % 2 === 1;
}

/** Keys of every object in a parsed JSON value (arrays and objects at any depth). */
export function membersInValue(value: unknown): number {
  if (typeof value !== "object" || value === null) return 0;
  let count = 0;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) count += membersInValue(value[i]);
    return count;
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  count = keys.length;
  for (let i = 0; i < keys.length; i++) count += membersInValue(record[keys[i]!]);
  return count;
}
