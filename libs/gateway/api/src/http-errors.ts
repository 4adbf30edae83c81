import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { ApiError, type ApiErrorBody, DomainError, domainErrorBody, isApiErrorBody, isConnectionFailure } from '@schedstack/contracts';
import type { Request, Response } from 'express';

const logger = new Logger('gateway');

const STATUS_TYPES: Record<number, ApiErrorBody['type']> = {
  401: 'authentication_error',
  403: 'permission_error',
  429: 'rate_limit_error',
};

/** Maps whatever was thrown to the one error body of SPEC §8. */
export function errorBodyOf(exception: unknown): ApiErrorBody {
  if (exception instanceof ApiError) return exception.body;
  if (exception instanceof DomainError) return domainErrorBody(exception);
  if (isApiErrorBody(exception)) return exception;
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const response = exception.getResponse() as { message?: string | string[] } | string;
    const message = typeof response === 'string' ? response : Array.isArray(response.message) ? response.message.join('; ') : response.message;
    return {
      status,
      type: STATUS_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error'),
      code: status === 404 ? 'route_not_found' : 'invalid_request',
      message: message ?? exception.message,
    };
  }
  if (isConnectionFailure(exception)) {
    // PostgreSQL or NATS is restarting or unreachable: a retry may succeed (SPEC §8, docs/reliability.md).
    logger.warn(`backend unavailable: ${(exception as Error)?.message ?? String(exception)}`);
    return ApiError.backendUnavailable().body;
  }
  logger.error(`unhandled error: ${(exception as Error)?.stack ?? String(exception)}`);
  return { status: 500, type: 'api_error', code: 'internal_error', message: 'An internal error occurred; it has been logged.' };
}

/** Writes `{"error": {type, code, message, param, request_id}}` with the request's id. */
export function sendError(res: Response, req: Request, body: ApiErrorBody): void {
  const { status, ...rest } = body;
  res.status(status).json({ error: { ...rest, param: rest.param ?? null, request_id: requestIdOf(req) } });
}

export function requestIdOf(req: Request): string {
  return (req as Request & { requestId?: string }).requestId ?? 'req_unknown';
}

@Catch()
export class HttpErrorsFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const body = errorBodyOf(exception);
    const req = http.getRequest<Request>();
    const shown = body.code === 'route_not_found' ? { ...body, message: `Unrecognized request URL (${req.method} ${req.path}).` } : body;
    sendError(http.getResponse<Response>(), req, shown);
  }
}
