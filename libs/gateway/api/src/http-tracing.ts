import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { NextFunction, Request, Response } from 'express';

const tracer = trace.getTracer('schedstack-gateway');

/**
 * SPEC §7: one server span per API request, active for everything the request does (bus commands
 * included, whose trace context then crosses to the services). The request and response emitters
 * are bound to it, so work resumed by stream events (body parsing) still sees the span.
 */
export function httpTracing(req: Request, res: Response, next: NextFunction): void {
  const span = tracer.startSpan(`${req.method} ${req.path}`, {
    kind: SpanKind.SERVER,
    attributes: { 'http.request.method': req.method, 'url.path': req.path },
  });
  const active = trace.setSpan(context.active(), span);
  context.bind(active, req);
  context.bind(active, res);
  res.once('finish', () => {
    // The route template, once Nest has matched one, names the span better than the raw path.
    const route = (req as Request & { route?: { path?: string } }).route?.path;
    if (route) span.updateName(`${req.method} ${route}`);
    span.setAttribute('http.response.status_code', res.statusCode);
    if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  });
  context.with(active, next);
}
