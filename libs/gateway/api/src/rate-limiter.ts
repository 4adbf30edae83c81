import { type ExecutionContext, Injectable } from '@nestjs/common';
import { ApiError } from '@schedstack/contracts';
import type { Response } from 'express';
import type { CallerRequest } from './caller';
import { LimitsCache } from './limits.cache';
import { RateLimitWindows } from './rate-limit.windows';

/** Requests without credentials (logging in, the OpenAPI document) are limited per client address, at live's default. */
export const ANONYMOUS_REQUESTS_PER_SECOND = 100;

/**
 * SPEC §5 rate limits, the one implementation: every /v1 request counts against its caller's
 * bucket (API key or console session; client address when anonymous) in the shared one-second
 * window, and gets the `RateLimit-*` headers; over the environment's limit it is a 429 with
 * `Retry-After`. Run by ApiRouteInterceptor, after the auth guard has named the caller.
 */
@Injectable()
export class RateLimiter {
  constructor(
    private readonly windows: RateLimitWindows,
    private readonly limits: LimitsCache,
  ) {}

  /** Counts the request, or throws the 429. */
  async admit(context: ExecutionContext): Promise<void> {
    const req = context.switchToHttp().getRequest<CallerRequest>();
    if (!req.path.startsWith('/v1/')) return;
    const res = context.switchToHttp().getResponse<Response>();
    const { bucket, limit } = await this.bucketOf(req);
    const { hits, resetMs } = await this.windows.hit(bucket);
    const resetSeconds = Math.max(1, Math.ceil(resetMs / 1_000));
    res.setHeader('RateLimit-Limit', String(limit));
    res.setHeader('RateLimit-Remaining', String(Math.max(0, limit - hits)));
    res.setHeader('RateLimit-Reset', String(resetSeconds));
    if (hits > limit) {
      res.setHeader('Retry-After', String(resetSeconds));
      const who = req.caller?.kind === 'session' ? 'console session' : req.caller ? 'API key' : 'client address';
      const where = req.scope ? ` in ${req.scope.environment}` : '';
      throw new ApiError({
        status: 429,
        type: 'rate_limit_error',
        code: 'rate_limit_exceeded',
        message: `Too many requests: this ${who} may make ${limit} requests per second${where}. Retry after ${resetSeconds} s.`,
      });
    }
  }

  private async bucketOf(req: CallerRequest): Promise<{ bucket: string; limit: number }> {
    if (!req.caller || !req.scope) return { bucket: `ip:${req.ip ?? 'unknown'}`, limit: ANONYMOUS_REQUESTS_PER_SECOND };
    const { requests_per_second } = await this.limits.get(req.scope);
    const bucket = req.caller.kind === 'api_key' ? `key:${req.caller.key_id}` : `session:${req.caller.session_id}:${req.scope.environment}`;
    return { bucket, limit: requests_per_second };
  }
}
