// Exporting traces (OTLP over HTTP, JSON) when configured: the tracer provider, registered once
// per process with AsyncLocalStorage for context, a batch of spans sent every few seconds.
// Several services in one process (the tests) share it; the last to stop shuts it down.
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, TracerProvider } from '@opentelemetry/sdk-trace';
import type { TracingConfig } from './config.js';
import { tracing } from './lib/tracing.js';

export interface Telemetry {
  /** Sends what is waiting (tests, shutdown). */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

let shared: { provider: TracerProvider; users: number } | undefined;

export function startTelemetry(config: TracingConfig, instance: string): Telemetry {
  if (!shared) {
    const provider = new TracerProvider({
      resource: resourceFromAttributes({ 'service.name': config.serviceName }),
      sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.ratio) }),
      spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: config.url, headers: config.headers }), scheduledDelayMillis: 1000 })],
    });
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(provider);
    shared = { provider, users: 0 };
    tracing.on = true;
  }
  const held = shared;
  held.users++;
  tracing.instance = instance;
  let stopped = false;
  return {
    flush: () => held.provider.forceFlush(),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await held.provider.forceFlush();
      if (--held.users > 0) return;
      tracing.on = false;
      shared = undefined;
      await held.provider.shutdown();
      trace.disable();
      context.disable();
    },
  };
}
