import { type CallHandler, type ExecutionContext, Injectable, Logger, type NestInterceptor } from '@nestjs/common';
import { ApiError, isConnectionFailure } from '@schedstack/contracts';
import { catchError, type Observable, throwError } from 'rxjs';

const logger = new Logger('unavailable');

/**
 * SPEC §8 under faults: a handler that fails because PostgreSQL or NATS is restarting or
 * unreachable answers 503 `service_unavailable` ("retry"), not 500 `internal_error` — over the bus
 * as over HTTP, since the services' RPC error filter renders anything it does not know as a 500.
 */
@Injectable()
export class UnavailableInterceptor implements NestInterceptor {
  intercept(_ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(
      catchError((error: unknown) => {
        if (!isConnectionFailure(error)) return throwError(() => error);
        logger.warn(`backend unavailable: ${(error as Error)?.message ?? String(error)}`);
        return throwError(() => ApiError.unavailable('A service SchedStack depends on is unavailable right now; retry the request.'));
      }),
    );
  }
}
