// Client streaming: log ingestion.
//
// The client streams log records and closes its side; the function answers
// with a summary of what it accepted. The summary is only sent once every
// record has been read, so a client that got a summary knows exactly how
// many records were taken. A bad record fails the whole call, naming it.
import { toBinary } from "@bufbuild/protobuf";
import { type Timestamp, timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, defineFunction } from "sluice";
import { IngestService, Level, LogRecordSchema } from "../proto/gen/ingest/v1/ingest_pb.js";

export default defineFunction({
  service: IngestService,
  implementation: {
    async ingest(records) {
      let count = 0n;
      let bytes = 0n;
      let firstTime: Timestamp | undefined;
      let lastTime: Timestamp | undefined;
      const countByLevel: Record<string, bigint> = {};
      for await (const record of records) {
        const n = count + 1n;
        if (record.time === undefined) {
          throw new ConnectError(`record ${n}: time is required`, Code.InvalidArgument);
        }
        if (Level[record.level] === undefined) {
          throw new ConnectError(`record ${n}: unknown level ${record.level}`, Code.InvalidArgument);
        }
        count = n;
        bytes += BigInt(toBinary(LogRecordSchema, record).byteLength);
        if (firstTime === undefined || timestampMs(record.time) < timestampMs(firstTime)) firstTime = record.time;
        if (lastTime === undefined || timestampMs(record.time) > timestampMs(lastTime)) lastTime = record.time;
        const level = `LEVEL_${Level[record.level]}`;
        countByLevel[level] = (countByLevel[level] ?? 0n) + 1n;
      }
      return { count, bytes, firstTime, lastTime, countByLevel };
    },
  },
});
