import { context, ROOT_CONTEXT, type Span, SpanStatusCode, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import type { Request, Response } from 'express';
import { EventEmitter } from 'node:events';
import { httpTracing, resumeRequestTrace } from './http-tracing';

describe('httpTracing / resumeRequestTrace', () => {
  const exporter = new InMemorySpanExporter();

  beforeAll(() => {
    // Registers the async-local context manager, as startTelemetry does in the product.
    new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).register();
  });

  beforeEach(() => exporter.reset());

  const fakeExchange = () => {
    const req = { method: 'POST', path: '/v1/things' } as Request;
    const res = Object.assign(new EventEmitter(), { statusCode: 0, writableFinished: false }) as unknown as Response & { writableFinished: boolean };
    let span: Span | undefined;
    httpTracing(req, res, () => {
      span = trace.getActiveSpan();
    });
    return { req, res, span: span as Span };
  };

  it('puts the request span back for a chain resumed outside its context (as after a body read)', async () => {
    const { req, res, span } = fakeExchange();
    expect(span).toBeDefined();
    // A socket event runs in the connection's context, not the request's.
    const outside = context.with(ROOT_CONTEXT, () => trace.getActiveSpan());
    expect(outside).toBeUndefined();
    const resumed = await new Promise<Span | undefined>((resolve) =>
      context.with(ROOT_CONTEXT, () => setImmediate(() => resumeRequestTrace(req, res, () => resolve(trace.getActiveSpan())))),
    );
    expect(resumed).toBe(span);
  });

  it('ends the span with the status code once the response is sent', () => {
    const { res } = fakeExchange();
    Object.assign(res, { statusCode: 503, writableFinished: true });
    res.emit('close');
    const [ended] = exporter.getFinishedSpans();
    expect(ended.attributes['http.response.status_code']).toBe(503);
    expect(ended.status.code).toBe(SpanStatusCode.ERROR);
  });

  it('ends the span as an error when the client goes away before the response', () => {
    const { res } = fakeExchange();
    res.emit('close');
    const [ended] = exporter.getFinishedSpans();
    expect(ended.status).toMatchObject({ code: SpanStatusCode.ERROR, message: expect.stringContaining('closed the connection') });
    expect(ended.attributes['http.response.status_code']).toBeUndefined();
  });
});
