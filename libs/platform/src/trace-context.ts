import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { TRACE_CONTEXT_FIELD } from '@schedstack/messaging';

/** The sending side of SPEC §7 over the bus; the receiving side is the transports' (`withBusTrace` in messaging). */
export { TRACE_CONTEXT_FIELD };

const tracer = trace.getTracer('schedstack-bus');

/** The payload to send: `payload` with the active trace context, when there is one. */
export function withTraceContext(payload: unknown): unknown {
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) return payload;
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return Object.keys(carrier).length > 0 ? { ...payload, [TRACE_CONTEXT_FIELD]: carrier } : payload;
}

/** The active trace context as a W3C carrier (`traceparent`…), or undefined outside a trace. */
export function currentTraceCarrier(): Record<string, string> | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return Object.keys(carrier).length > 0 ? carrier : undefined;
}

/** Runs `send` inside a client span named after the pattern (the bus command, as the caller sees it). */
export async function tracedSend<T>(pattern: string, send: () => Promise<T>): Promise<T> {
  const span = tracer.startSpan(`send ${pattern}`, { kind: SpanKind.CLIENT, attributes: { 'messaging.destination.name': pattern } });
  try {
    return await context.with(trace.setSpan(context.active(), span), send);
  } catch (error) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message });
    throw error;
  } finally {
    span.end();
  }
}
