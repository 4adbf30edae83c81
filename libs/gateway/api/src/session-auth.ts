import { Inject, Injectable } from '@nestjs/common';
import type { ClientProxy } from '@nestjs/microservices';
import { ApiError, type Environment, isEnvironment, PATTERNS, type VerifiedSession } from '@schedstack/contracts';
import { BUS_CLIENT } from '@schedstack/messaging';
import { request } from '@schedstack/platform';
import type { CallerRequest } from './caller';
import { CredentialsCache } from './credentials.cache';

/**
 * SPEC §2 console sessions: `Authorization: Bearer sess_…` acts with the user's role in the
 * environment named by `Sched-Environment` (default: the host's environment, else live), in the
 * project named by `Sched-Project` (needed only when the user belongs to several).
 */
@Injectable()
export class SessionAuthenticator {
  constructor(
    @Inject(BUS_CLIENT) private readonly bus: ClientProxy,
    private readonly credentials: CredentialsCache,
  ) {}

  /** Sets `req.scope` and `req.caller` from a session token, or throws the 401/403/400 that explains why not. */
  async authenticate(req: CallerRequest, token: string): Promise<void> {
    const session = await this.credentials.session(token, () => request<VerifiedSession | null>(this.bus, PATTERNS.environments.verifySession, { token }));
    if (!session) {
      throw new ApiError({
        status: 401,
        type: 'authentication_error',
        code: 'session_invalid',
        message: 'This console session is invalid, ended or expired: log in again with POST /v1/sessions.',
      });
    }
    const environment = this.environmentOf(req);
    const membership = this.membershipOf(req, session);
    req.scope = { projectId: membership.project_id, environment };
    req.caller = { kind: 'session', session_id: session.session_id, user_id: session.user.id, role: membership.role };
  }

  private environmentOf(req: CallerRequest): Environment {
    const host = String(req.headers.host ?? '');
    const hostEnvironment = /^(sandbox|test)-/.exec(host)?.[1] as Environment | undefined;
    const named = req.headers['sched-environment'];
    if (named !== undefined && !isEnvironment(named)) {
      throw ApiError.invalid('Sched-Environment', 'The Sched-Environment header must be live, sandbox or test', 'environment_invalid');
    }
    if (hostEnvironment && named !== undefined && named !== hostEnvironment) {
      throw new ApiError({
        status: 403,
        type: 'permission_error',
        code: 'environment_mismatch',
        message: `This host serves the ${hostEnvironment} environment, but Sched-Environment says ${named}.`,
      });
    }
    return (named as Environment | undefined) ?? hostEnvironment ?? 'live';
  }

  private membershipOf(req: CallerRequest, session: VerifiedSession): VerifiedSession['memberships'][number] {
    const named = req.headers['sched-project'];
    const denied = () =>
      new ApiError({ status: 403, type: 'permission_error', code: 'project_access_denied', message: 'This user is not a member of that project.' });
    if (named !== undefined) {
      const found = session.memberships.find((m) => m.project_id === named);
      if (!found) throw denied();
      return found;
    }
    if (session.memberships.length === 0) throw denied();
    if (session.memberships.length > 1) {
      throw ApiError.invalid('Sched-Project', 'This user belongs to several projects: name one in the Sched-Project header', 'project_required');
    }
    return session.memberships[0];
  }
}
