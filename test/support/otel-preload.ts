// Loaded into a gateway process (NODE_OPTIONS=--import) by the tracing
// tests: registers an OpenTelemetry SDK with an in-memory exporter and the
// W3C propagator, as an application's own tracing setup would, and writes
// the finished spans to $SLUICE_TEST_SPANS when the process exits.
import { writeFileSync } from "node:fs";
import { propagation, trace } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";

const exporter = new InMemorySpanExporter();
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
propagation.setGlobalPropagator(new W3CTraceContextPropagator());

/** A finished span, as the tests read it. */
export interface SpanRecord {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  attributes: Record<string, unknown>;
  events: { name: string; attributes: Record<string, unknown> }[];
  status: { code: number; message?: string };
  /** Start and end, in milliseconds since the epoch (fractional). */
  startMs: number;
  endMs: number;
}

const ms = ([s, ns]: [number, number]) => s * 1000 + ns / 1e6;

process.on("exit", () => {
  const spans: SpanRecord[] = exporter.getFinishedSpans().map((s) => ({
    name: s.name,
    kind: s.kind,
    traceId: s.spanContext().traceId,
    spanId: s.spanContext().spanId,
    parentSpanId: s.parentSpanContext?.spanId,
    attributes: { ...s.attributes },
    events: s.events.map((e) => ({ name: e.name, attributes: { ...e.attributes } })),
    status: { code: s.status.code, ...(s.status.message !== undefined ? { message: s.status.message } : {}) },
    startMs: ms(s.startTime),
    endMs: ms(s.endTime),
  }));
  writeFileSync(process.env.SLUICE_TEST_SPANS!, JSON.stringify(spans));
});
