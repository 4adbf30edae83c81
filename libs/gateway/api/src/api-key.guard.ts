import { type CanActivate, createParamDecorator, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import type { ClientProxy } from '@nestjs/microservices';
import { ApiError, PATTERNS, type Scope, type VerifiedApiKey } from '@schedstack/contracts';
import { BUS_CLIENT } from '@schedstack/messaging';
import { request } from '@schedstack/platform';
import { authorize, type CallerRequest } from './caller';
import { CredentialsCache } from './credentials.cache';
import { SessionAuthenticator } from './session-auth';

type ScopedRequest = CallerRequest;

/**
 * SPEC §2: the bearer key decides the (project, environment); nothing in the request can name
 * another. This guard is the only place a Scope is created from a request. It also accepts
 * console sessions (`sess_…`, see SessionAuthenticator), and ends by checking the caller's
 * permission for the route (`authorize`, the role table in contracts).
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    @Inject(BUS_CLIENT) private readonly bus: ClientProxy,
    private readonly credentials: CredentialsCache,
    private readonly sessions: SessionAuthenticator,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<ScopedRequest>();
    const header = req.headers.authorization;
    if (!header) {
      throw new ApiError({
        status: 401,
        type: 'authentication_error',
        code: 'api_key_missing',
        message: 'No API key provided. Send it as `Authorization: Bearer sk_live_…` (or sk_sandbox_ / sk_test_).',
      });
    }
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    const secret = match?.[1];
    if (secret?.startsWith('sess_')) {
      await this.sessions.authenticate(req, secret);
      return authorize(context, req);
    }
    const verified = secret ? await this.verify(secret) : null;
    if (!verified) {
      throw new ApiError({
        status: 401,
        type: 'authentication_error',
        code: 'api_key_invalid',
        message: 'Invalid API key provided. Keys look like sk_test_… and can be minted in the console.',
      });
    }
    const host = String(req.headers.host ?? '');
    const hostEnvironment = /^(sandbox|test)-/.exec(host)?.[1];
    if (hostEnvironment && hostEnvironment !== verified.scope.environment) {
      throw new ApiError({
        status: 403,
        type: 'permission_error',
        code: 'environment_mismatch',
        message: `This host serves the ${hostEnvironment} environment, but the key belongs to ${verified.scope.environment}.`,
      });
    }
    const named = req.headers['sched-environment'];
    if (named !== undefined && named !== verified.scope.environment) {
      throw new ApiError({
        status: 403,
        type: 'permission_error',
        code: 'environment_mismatch',
        message: `Sched-Environment says ${String(named)}, but the key belongs to ${verified.scope.environment}. An API key needs no such header.`,
      });
    }
    req.scope = verified.scope;
    req.apiKeyId = verified.key_id;
    req.caller = { kind: 'api_key', key_id: verified.key_id };
    return authorize(context, req);
  }

  private verify(secret: string): Promise<VerifiedApiKey | null> {
    return this.credentials.apiKey(secret, () => request<VerifiedApiKey | null>(this.bus, PATTERNS.environments.verifyApiKey, { secret }));
  }
}

/** The caller's scope, as the guard established it. */
export const CurrentScope = createParamDecorator((_data: unknown, context: ExecutionContext): Scope => {
  const scope = context.switchToHttp().getRequest<ScopedRequest>().scope;
  if (!scope) throw new Error('CurrentScope used on a route without ApiKeyGuard');
  return scope;
});
