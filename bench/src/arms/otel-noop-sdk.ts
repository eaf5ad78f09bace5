// Preloaded (node --import) into the "tracing on" Sluice arm: registers an
// OpenTelemetry SDK whose exporter drops every span, so the arm pays for
// making, recording and ending spans (and the W3C propagator) but not for
// shipping them anywhere.
import { propagation, trace } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { BasicTracerProvider, SimpleSpanProcessor, type ReadableSpan, type SpanExporter } from "@opentelemetry/sdk-trace-base";

const dropAll: SpanExporter = {
  export(_spans: ReadableSpan[], done) {
    done({ code: 0 });
  },
  shutdown: async () => {},
};

trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(dropAll)] }));
propagation.setGlobalPropagator(new W3CTraceContextPropagator());
