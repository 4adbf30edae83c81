import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Observable } from 'rxjs';
import { IDEMPOTENT_ROUTE, IdempotencyInterceptor } from './idempotency.interceptor';
import { RateLimiter } from './rate-limiter';

/**
 * The API routes' one interceptor: the rate limit on every /v1 request, then idempotency on the
 * routes marked `@Idempotent()`. One Nest layer rather than one per concern: each layer costs an
 * `AsyncResource` and a deferred observable on every request, even when it does nothing
 * (docs/decisions.md). The concerns stay in their own classes.
 */
@Injectable()
export class ApiRouteInterceptor implements NestInterceptor {
  constructor(
    private readonly rateLimiter: RateLimiter,
    private readonly idempotency: IdempotencyInterceptor,
    private readonly reflector: Reflector,
  ) {}

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    if (context.getType() !== 'http') return next.handle();
    await this.rateLimiter.admit(context);
    const idempotent = this.reflector.getAllAndOverride<boolean | undefined>(IDEMPOTENT_ROUTE, [context.getHandler(), context.getClass()]);
    if (idempotent) return this.idempotency.intercept(context, next);
    return next.handle();
  }
}
