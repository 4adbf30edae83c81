import type { Context } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  NodeTracerProvider,
  type ReadableSpan,
  SimpleSpanProcessor,
  type Span,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-node';

/**
 * Fans spans out to processors that may be added after start (the SDK fixes its list when the
 * provider is built, and the provider can be registered only once per process).
 */
class ProcessorList implements SpanProcessor {
  readonly processors: SpanProcessor[] = [];

  onStart(span: Span, parent: Context): void {
    for (const p of this.processors) p.onStart(span, parent);
  }

  onEnd(span: ReadableSpan): void {
    for (const p of this.processors) p.onEnd(span);
  }

  async forceFlush(): Promise<void> {
    await Promise.all(this.processors.map((p) => p.forceFlush()));
  }

  async shutdown(): Promise<void> {
    await Promise.all(this.processors.map((p) => p.shutdown()));
  }
}

let processors: ProcessorList | null = null;

/**
 * SPEC §7 OpenTelemetry, wired once per process at start: a tracer provider with W3C trace-context
 * propagation and async-local context, exporting over OTLP/HTTP only when
 * OTEL_EXPORTER_OTLP_ENDPOINT is set (the exporter reads the standard OTEL_* variables itself).
 */
export function startTelemetry(serviceName: string, env: NodeJS.ProcessEnv = process.env): void {
  if (processors) return;
  processors = new ProcessorList();
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) processors.processors.push(new BatchSpanProcessor(new OTLPTraceExporter()));
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME || serviceName }),
    spanProcessors: [processors],
  });
  provider.register();
}

/** Sends every span of this process to `exporter` as it ends too (tests use an in-memory one). */
export function addSpanExporter(exporter: SpanExporter): void {
  if (!processors) startTelemetry('schedstack');
  processors?.processors.push(new SimpleSpanProcessor(exporter));
}
