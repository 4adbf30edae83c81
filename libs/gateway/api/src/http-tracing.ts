import { type Context, context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { NextFunction, Request, Response } from 'express';

const tracer = trace.getTracer('schedstack-gateway');

/** The request's trace context, kept on the request for `resumeRequestTrace`. */
const REQUEST_CONTEXT = Symbol('schedstack.requestContext');
type TracedRequest = Request & { [REQUEST_CONTEXT]?: Context };

/**
 * SPEC §7: one server span per API request, active for everything the request does (bus commands
 * included, whose trace context then crosses to the services).
 */
export function httpTracing(req: Request, res: Response, next: NextFunction): void {
  const span = tracer.startSpan(`${req.method} ${req.path}`, {
    kind: SpanKind.SERVER,
    attributes: { 'http.request.method': req.method, 'url.path': req.path },
  });
  const active = trace.setSpan(context.active(), span);
  (req as TracedRequest)[REQUEST_CONTEXT] = active;
  // 'close' comes after 'finish', and also when the client goes away before the answer is sent.
  res.once('close', () => {
    // The route template, once Nest has matched one, names the span better than the raw path.
    const route = (req as Request & { route?: { path?: string } }).route?.path;
    if (route) span.updateName(`${req.method} ${route}`);
    if (!res.writableFinished) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'the client closed the connection before the response was sent' });
    } else {
      span.setAttribute('http.response.status_code', res.statusCode);
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  });
  context.with(active, next);
}

/**
 * Goes right after the body parser, which reads the body on the socket's events: the chain
 * resumes there in the request's context whether or not the parser carries it across (raw-body
 * does today, with AsyncResource.bind). Binding the request and response emitters to the context
 * instead cost far more than this (docs/decisions.md).
 */
export function resumeRequestTrace(req: Request, _res: Response, next: NextFunction): void {
  const active = (req as TracedRequest)[REQUEST_CONTEXT];
  if (active) context.with(active, next);
  else next();
}
