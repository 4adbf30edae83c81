import type { Provider, Type } from '@nestjs/common';
import { ApiKeysHttpController } from './api-keys.http';
import { CloneHttpController } from './clone.http';
import { CONFIG_RESOURCE_CONTROLLERS } from './config-resources.http';
import { CredentialsCache } from './credentials.cache';
import { DatasetsHttpController } from './datasets.http';
import { LimitsCache } from './limits.cache';
import { LimitsHttpController } from './limits.http';
import { MembersHttpController } from './members.http';
import { RateLimiter } from './rate-limiter';
import { RateLimitWindows } from './rate-limit.windows';
import { SessionAuthenticator } from './session-auth';
import { SessionsHttpController } from './sessions.http';

/** The gateway's routes for the environments service (SPEC §2, §5), registered by GatewayApiModule. */
export const ENVIRONMENTS_HTTP_CONTROLLERS: Type<unknown>[] = [
  SessionsHttpController,
  MembersHttpController,
  ApiKeysHttpController,
  ...CONFIG_RESOURCE_CONTROLLERS,
  DatasetsHttpController,
  CloneHttpController,
  LimitsHttpController,
];

/** Session auth and the credential cache (used by ApiKeyGuard), and the rate limiter (run on every /v1 route by ApiRouteInterceptor). */
export const ENVIRONMENTS_HTTP_PROVIDERS: Provider[] = [
  CredentialsCache,
  SessionAuthenticator,
  LimitsCache,
  RateLimitWindows,
  RateLimiter,
];
