import { createParamDecorator, type ExecutionContext, SetMetadata } from '@nestjs/common';
import { ApiError, type Caller, denialOf, type Permission, type Scope } from '@schedstack/contracts';
import type { Request } from 'express';

/** What the auth guard leaves on a request: the scope, and who is calling. */
export type CallerRequest = Request & { scope?: Scope; caller?: Caller; apiKeyId?: string };

const PERMISSION_METADATA = 'schedstack:permission';

/**
 * The permission a route needs (SPEC §2 role table, `ROLE_PERMISSIONS` in contracts). Routes
 * without it need `read` for GET and `write` for anything else, so every route is covered.
 */
export const RequirePermission = (permission: Permission) => SetMetadata(PERMISSION_METADATA, permission);

export function requiredPermission(context: ExecutionContext, method: string): Permission {
  const declared: Permission | undefined =
    Reflect.getMetadata(PERMISSION_METADATA, context.getHandler()) ?? Reflect.getMetadata(PERMISSION_METADATA, context.getClass());
  return declared ?? (['GET', 'HEAD', 'OPTIONS'].includes(method) ? 'read' : 'write');
}

/** The guard's last step: may this caller do this here? 403 with the reason when not. */
export function authorize(context: ExecutionContext, req: CallerRequest): true {
  if (!req.caller || !req.scope) throw new Error('authorize called before the caller was established');
  const denial = denialOf(req.caller, req.scope.environment, requiredPermission(context, req.method));
  if (denial) throw new ApiError({ status: 403, type: 'permission_error', ...denial });
  return true;
}

/** The caller, as the guard established it. */
export const CurrentCaller = createParamDecorator((_data: unknown, context: ExecutionContext): Caller => {
  const caller = context.switchToHttp().getRequest<CallerRequest>().caller;
  if (!caller) throw new Error('CurrentCaller used on a route without ApiKeyGuard');
  return caller;
});
