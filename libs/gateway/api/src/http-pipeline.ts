import type { INestApplication } from '@nestjs/common';
import { newId } from '@schedstack/contracts';
import { PLATFORM_CONFIG, type PlatformConfig } from '@schedstack/platform';
import * as path from 'node:path';
import { json, type NextFunction, type Request, type Response, static as serveStatic } from 'express';
import { GatewayApiModule } from './gateway-api.module';
import { HttpErrorsFilter, sendError } from './http-errors';
import { httpTracing, resumeRequestTrace } from './http-tracing';
import { buildOpenApiDocument, OpenApiDocumentHolder } from './openapi.document';
import { unstorableInput, unstorablePath } from './unstorable-input';

/** SPEC §8 default request body limit. */
export const BODY_LIMIT_BYTES = 256 * 1024;

/**
 * The gateway's HTTP pipeline, shared by every profile: a Request-Id on every response, JSON
 * bodies up to the limit with Stripe-style errors for malformed or oversized ones, and the error filter.
 */
export function configureHttpPipeline(app: INestApplication): void {
  app.use(httpTracing);
  app.use((req: Request, res: Response, next: NextFunction) => {
    const id = newId('req');
    (req as Request & { requestId: string }).requestId = id;
    res.setHeader('Request-Id', id);
    next();
  });
  app.use(json({ limit: BODY_LIMIT_BYTES, type: () => true }));
  app.use(resumeRequestTrace);
  app.use((error: Error & { type?: string; status?: number }, req: Request, res: Response, next: NextFunction) => {
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
    // A body that fails to decompress (Content-Encoding: gzip on plain bytes) comes with a 4xx status but no type.
    if (error?.type || (typeof error?.status === 'number' && error.status >= 400 && error.status < 500)) {
      return sendError(res, req, { status: 400, type: 'invalid_request_error', code: 'body_unreadable', message: error.message });
    }
    next(error);
  });
  // Every body of this API is a JSON object; an array would reach validation as numbered fields.
  app.use((req: Request, res: Response, next: NextFunction) => {
    if (!Array.isArray(req.body)) return next();
    sendError(res, req, { status: 400, type: 'invalid_request_error', code: 'body_invalid', message: 'The request body must be a JSON object' });
  });
  // NUL, lone surrogates and absurd nesting are refused here, before they reach a validator or PostgreSQL as a 500.
  app.use((req: Request, res: Response, next: NextFunction) => {
    const problem = unstorablePath(req.path) ?? unstorableInput(req.query) ?? unstorableInput(req.body);
    if (!problem) return next();
    sendError(res, req, problem);
  });
  app.useGlobalFilters(new HttpErrorsFilter());
  // Built once from the controllers' metadata, served by OpenApiHttpController (SPEC §9).
  const { version } = app.get<PlatformConfig>(PLATFORM_CONFIG, { strict: false });
  app.get(OpenApiDocumentHolder, { strict: false }).document = buildOpenApiDocument(app, GatewayApiModule, version);
  serveConsole(app);
}

/** Where `npm run build` puts the web console (SCHEDSTACK_CONSOLE_DIR overrides it). */
export const consoleDir = (): string => path.resolve(process.env.SCHEDSTACK_CONSOLE_DIR || path.join('dist', 'console'));

/** The web console is a static bundle served at `/` by every gateway (issue [6/8]). */
function serveConsole(app: INestApplication): void {
  const dir = consoleDir();
  const files = serveStatic(dir, { index: 'index.html', maxAge: '1h', setHeaders: noCacheForIndex });
  // API requests never touch the file system.
  app.use((req: Request, res: Response, next: NextFunction) => (req.path.startsWith('/v1/') ? next() : files(req, res, next)));
  app.use((req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'GET' || req.path !== '/') return next();
    res.status(200).type('text/plain').send('SchedStack API is running. The web console is not built: run `npm run build` (npm start does it).\n');
  });
}

function noCacheForIndex(res: Response, file: string): void {
  // Hashed assets never change; index.html must be fresh so a new build takes effect at once.
  if (file.endsWith('index.html')) res.setHeader('Cache-Control', 'no-cache');
}
