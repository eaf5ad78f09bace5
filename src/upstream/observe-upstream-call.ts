import type { DescMethod } from "@bufbuild/protobuf";
import type { Context } from "@opentelemetry/api";
import { startUpstreamSpan } from "../observe/telemetry.js";
import type { UpstreamSpan } from "../observe/tracing.js";
import type { Upstream } from "./upstream.js";

/** What is observed of one call a ctx.upstream client makes. */
export interface UpstreamCallObservation {
  /** The call's client span, when the calling call is traced: its context goes in the request headers. */
  readonly span: UpstreamSpan | undefined;
  /** The call ended with `code` (0 for OK): the upstream's metrics and the span get it, once. */
  end(code: number): void;
}

/** Starts observing a call to `upstream`: latency and outcome for upstream metrics, a client span under `parent`. */
export function observeUpstreamCall(upstream: Upstream, method: DescMethod, parent: Context | undefined): UpstreamCallObservation {
  const started = performance.now();
  const span = parent === undefined ? undefined : startUpstreamSpan({ method }, upstream.config.protocol, upstream.name, parent);
  let ended = false;
  return {
    span,
    end(code) {
      if (ended) return;
      ended = true;
      upstream.stats?.finished(code, performance.now() - started);
      span?.finished(code);
    },
  };
}
