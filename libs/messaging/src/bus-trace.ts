import type { MessageHandler } from '@nestjs/microservices';
import { context, propagation, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { isObservable, Observable } from 'rxjs';

/**
 * SPEC §7: trace context crosses every bus hop. The sender puts the W3C `traceparent` (and
 * `tracestate`) into the message under this key; the receiving transport takes it out before the
 * handler sees the message. A payload field rather than NATS headers, so the in-process bus
 * carries it unchanged.
 */
export const TRACE_CONTEXT_FIELD = '_trace';

const tracer = trace.getTracer('schedstack-bus');
const tracedHandlers = new WeakMap<MessageHandler, MessageHandler>();

/**
 * `handler` continuing the sender's trace in a server span named `name` (the pattern). Both bus
 * servers hand out their handlers through this, rather than an interceptor on every bus
 * controller: with no interceptor, Nest calls a handler without its rxjs chain (docs/decisions.md).
 */
export function withBusTrace(name: string, handler: MessageHandler): MessageHandler {
  let traced = tracedHandlers.get(handler);
  if (!traced) {
    const run = (data: unknown, ctx: unknown) => runInServerSpan(name, data, () => handler(data, ctx));
    traced = Object.assign(run, { isEventHandler: handler.isEventHandler, extras: handler.extras, next: handler.next }) as MessageHandler;
    tracedHandlers.set(handler, traced);
  }
  return traced;
}

async function runInServerSpan(name: string, data: unknown, handle: () => Promise<unknown>): Promise<unknown> {
  const carrier = takeCarrier(data);
  const parent = carrier ? propagation.extract(context.active(), carrier) : context.active();
  const span = tracer.startSpan(name, { kind: SpanKind.SERVER, attributes: { 'messaging.destination.name': name } }, parent);
  const active = trace.setSpan(parent, span);
  let result: unknown;
  try {
    result = await context.with(active, handle);
  } catch (error) {
    endFailed(span, error);
    throw error;
  }
  if (!isObservable(result)) {
    span.end();
    return result;
  }
  // An answer still to come (a handler's stream, or the error filter's): the span ends with it,
  // and the stream runs in the span's context.
  const answer = result;
  return new Observable((subscriber) => {
    const inner = context.with(active, () =>
      answer.subscribe({
        next: (value) => subscriber.next(value),
        error: (error: unknown) => {
          endFailed(span, error);
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

function takeCarrier(data: unknown): Record<string, string> | undefined {
  if (!data || typeof data !== 'object') return undefined;
  const carrier = (data as Record<string, unknown>)[TRACE_CONTEXT_FIELD] as Record<string, string> | undefined;
  if (carrier) delete (data as Record<string, unknown>)[TRACE_CONTEXT_FIELD];
  return carrier;
}

function endFailed(span: Span, error: unknown): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message ?? 'error' });
  span.end();
}
