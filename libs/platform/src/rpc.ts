import { applyDecorators, type ArgumentsHost, Catch, Controller, Logger, type RpcExceptionFilter, UseFilters } from '@nestjs/common';
import { type ClientProxy, RpcException } from '@nestjs/microservices';
import { trace } from '@opentelemetry/api';
import { ApiError, type ApiErrorBody, DomainError, domainErrorBody, isApiErrorBody, isConnectionFailure } from '@schedstack/contracts';
import { firstValueFrom, type Observable, throwError, timeout } from 'rxjs';
import { tracedSend, withTraceContext } from './trace-context';

const logger = new Logger('rpc');

/**
 * A service's bus handlers: their errors travel as error bodies (SPEC §8). The filter sits on the
 * service's controllers only, not on the whole app, which in the local profile is the API's too.
 * (The sender's trace is continued by the bus transports themselves: `withBusTrace`.)
 */
export function BusController(): ClassDecorator {
  return applyDecorators(Controller(), UseFilters(RpcErrorsFilter));
}

/**
 * Service side of the bus: an ApiError thrown by a handler travels as its body; anything else is
 * logged here and travels as a generic 500 so no internals leak to the caller.
 */
@Catch()
export class RpcErrorsFilter implements RpcExceptionFilter<unknown> {
  catch(exception: unknown, _host: ArgumentsHost): Observable<never> {
    // The handler's server span (withBusTrace) keeps the real cause; the caller gets the body.
    if (exception instanceof Error) trace.getActiveSpan()?.recordException(exception);
    return throwError(() => toErrorBody(exception));
  }
}

export function toErrorBody(exception: unknown): ApiErrorBody {
  if (exception instanceof ApiError) return exception.body;
  if (exception instanceof DomainError) return domainErrorBody(exception);
  if (exception instanceof RpcException) {
    const inner = exception.getError();
    if (isApiErrorBody(inner)) return inner;
  }
  if (isConnectionFailure(exception)) {
    // PostgreSQL or NATS is restarting or unreachable: a 503 the caller may retry, as over HTTP (SPEC §8).
    logger.warn(`backend unavailable: ${(exception as Error)?.message ?? String(exception)}`);
    return ApiError.backendUnavailable().body;
  }
  logger.error(`unhandled error in a service handler: ${(exception as Error)?.stack ?? String(exception)}`);
  return { status: 500, type: 'api_error', code: 'internal_error', message: 'An internal error occurred; it has been logged.' };
}

/** Caller side: one request/reply with a deadline; a refused request comes back as ApiError. */
export function request<T>(client: ClientProxy, pattern: string, payload: unknown, timeoutMs = 10_000): Promise<T> {
  return tracedSend(pattern, () => send<T>(client, pattern, withTraceContext(payload), timeoutMs));
}

async function send<T>(client: ClientProxy, pattern: string, payload: unknown, timeoutMs: number): Promise<T> {
  try {
    return await firstValueFrom(client.send<T>(pattern, payload).pipe(timeout(timeoutMs)));
  } catch (error) {
    if (isApiErrorBody(error)) throw new ApiError(error);
    if ((error as Error)?.name === 'TimeoutError') {
      throw ApiError.unavailable(`The ${pattern.split('.')[0]} service did not answer in time; retry the request.`);
    }
    if (/no matching message handler|Empty response|ECONNREFUSED|CONNECTION_REFUSED|closed/i.test(String((error as Error)?.message ?? error))) {
      throw ApiError.unavailable(`The ${pattern.split('.')[0]} service is not reachable right now; retry the request.`);
    }
    throw error;
  }
}
