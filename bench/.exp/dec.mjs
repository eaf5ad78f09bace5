import { fromBinary, create } from "@bufbuild/protobuf";
import { BinaryReader } from "@bufbuild/protobuf/wire";
const { EchoRequestSchema } = await import("/work/main/bench/.build/gen/bench/v1/echo_pb.js");
const { payloads } = await import("/work/main/bench/.build/src/echo-messages.js");
const bin = payloads.small.binary;
function bench(name, f, n = 500000) {
  for (let i = 0; i < 100000; i++) f();
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f();
  console.log(name.padEnd(14), (Number(process.hrtime.bigint() - t) / n).toFixed(0), "ns");
}
let m;
const td = new TextDecoder();
function hand(bytes) {
  const r = new BinaryReader(bytes);
  const msg = { $typeName: "bench.v1.EchoRequest", id: "", text: "", timestampMs: 0n, score: 0, tags: [], payload: new Uint8Array(0) };
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    switch (no) {
      case 1: msg.id = r.string(); break;
      case 2: msg.text = r.string(); break;
      case 3: msg.timestampMs = r.int64(); break;
      case 4: msg.score = r.double(); break;
      case 5: msg.tags.push(r.string()); break;
      case 6: msg.payload = r.bytes(); break;
      default: r.skip(wt);
    }
  }
  return msg;
}
for (let k = 0; k < 2; k++) {
bench("fromBinary", () => { m = fromBinary(EchoRequestSchema, bin); });
bench("create", () => { m = create(EchoRequestSchema); });
bench("hand+reader", () => { m = hand(bin); });
bench("textdecode", () => { m = td.decode(bin.subarray(2, 13)); });
bench("buf.toString", () => { m = Buffer.prototype.utf8Slice.call(bin, 2, 13); });
}
