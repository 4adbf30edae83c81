import type { INestApplication } from '@nestjs/common';
import { newId } from '@schedstack/contracts';
import { json, type NextFunction, type Request, type Response } from 'express';
import { HttpErrorsFilter, sendError } from './http-errors';

/** SPEC §8 default request body limit. */
export const BODY_LIMIT_BYTES = 256 * 1024;

/**
 * The gateway's HTTP pipeline, shared by every profile: a Request-Id on every response, JSON
 * bodies up to the limit with Stripe-style errors for malformed or oversized ones, and the error filter.
 */
export function configureHttpPipeline(app: INestApplication): void {
  app.use((req: Request, res: Response, next: NextFunction) => {
    const id = newId('req');
    (req as Request & { requestId: string }).requestId = id;
    res.setHeader('Request-Id', id);
    next();
  });
  app.use(json({ limit: BODY_LIMIT_BYTES, type: () => true }));
  app.use((error: Error & { type?: string }, req: Request, res: Response, next: NextFunction) => {
    if (error?.type === 'entity.too.large') {
      return sendError(res, req, {
        status: 413,
        type: 'invalid_request_error',
        code: 'body_too_large',
        message: `Request bodies are limited to ${BODY_LIMIT_BYTES / 1024} KiB`,
      });
    }
    if (error?.type === 'entity.parse.failed' || error instanceof SyntaxError) {
      return sendError(res, req, {
        status: 400,
        type: 'invalid_request_error',
        code: 'body_invalid_json',
        message: `The request body is not valid JSON: ${error.message}`,
      });
    }
    if (error?.type) {
      return sendError(res, req, { status: 400, type: 'invalid_request_error', code: 'body_unreadable', message: error.message });
    }
    next(error);
  });
  app.useGlobalFilters(new HttpErrorsFilter());
}
