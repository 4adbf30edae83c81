import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { Observable } from 'rxjs';

/**
 * SPEC §7: trace context crosses every bus hop. The sender puts the W3C `traceparent` (and
 * `tracestate`) into the message under this key; the receiver takes it out before the handler sees
 * the message. A payload field rather than NATS headers, so the in-process bus carries it unchanged.
 */
export const TRACE_CONTEXT_FIELD = '_trace';

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

/**
 * The receiving side, on every bus controller (`BusController`): continues the sender's trace in a
 * server span named after the pattern.
 */
@Injectable()
export class TraceContextInterceptor implements NestInterceptor {
  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const data = ctx.switchToRpc().getData() as Record<string, unknown> | null;
    const carrier = data && typeof data === 'object' ? (data[TRACE_CONTEXT_FIELD] as Record<string, string> | undefined) : undefined;
    if (carrier) delete (data as Record<string, unknown>)[TRACE_CONTEXT_FIELD];
    const pattern = String((ctx.switchToRpc().getContext() as { getPattern?: () => string } | undefined)?.getPattern?.() ?? ctx.getHandler().name);
    const parent = carrier ? propagation.extract(context.active(), carrier) : context.active();
    const span = tracer.startSpan(pattern, { kind: SpanKind.SERVER, attributes: { 'messaging.destination.name': pattern } }, parent);
    const active = trace.setSpan(parent, span);
    return new Observable((subscriber) => {
      const inner = context.with(active, () =>
        next.handle().subscribe({
          next: (value) => subscriber.next(value),
          error: (error: unknown) => {
            span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message ?? 'error' });
            span.end();
            subscriber.error(error);
          },
          complete: () => {
            span.end();
            subscriber.complete();
          },
        }),
      );
      return () => inner.unsubscribe();
    });
  }
}
