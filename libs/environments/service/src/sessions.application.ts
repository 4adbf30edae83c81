import { Inject, Injectable } from '@nestjs/common';
import {
  ApiError,
  hasPrefix,
  type LoginCommand,
  type MemberRole,
  newId,
  type SessionCreated,
  type SessionTokenQuery,
  streamName,
  type VerifiedSession,
} from '@schedstack/contracts';
import { hashPassword, hashSessionToken, SESSION_LIFETIME_MS, sessionDecider, verifyPassword } from '@schedstack/environments-domain';
import { EVENT_STORE, type EventStore } from '@schedstack/event-store';
import { CLOCK, type Clock, handleCommand, PG_POOL } from '@schedstack/platform';
import type { Pool } from 'pg';
import { environmentsProjection } from './environments.projection';
import { EnvironmentsReadModels } from './environments.read-models';
import { findUserByEmail, PLATFORM_SCOPE, type UserRow, userView } from './users';

const invalidCredentials = () =>
  new ApiError({ status: 401, type: 'authentication_error', code: 'invalid_credentials', message: 'The e-mail address or the password is wrong.' });

/** The stream (and public id) of a session: a digest of its token, never the token itself. */
const sessionIdOf = (token: string) => hashSessionToken(token).slice(0, 32);

/** SPEC §2 console sessions: e-mail + password in, a `sess_…` bearer out; only its hash is kept. */
@Injectable()
export class SessionsApplication {
  // Unknown e-mails are checked against this too, so a login takes as long whether or not the user exists.
  private readonly decoyHash = hashPassword('decoy password for unknown users');

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly readModels: EnvironmentsReadModels,
  ) {}

  async login({ email, password }: LoginCommand): Promise<SessionCreated> {
    if (typeof email !== 'string' || typeof password !== 'string') throw invalidCredentials();
    const user: UserRow | null = await findUserByEmail(this.pool, email);
    const matches = await verifyPassword(password, user?.password_hash ?? (await this.decoyHash));
    if (!user || !matches) throw invalidCredentials();
    const token = newId('sess');
    const sessionId = sessionIdOf(token);
    const expiresAt = new Date(this.clock.now().getTime() + SESSION_LIFETIME_MS);
    const outcome = await handleCommand(
      this.store,
      streamName(PLATFORM_SCOPE, 'session', sessionId),
      sessionDecider,
      { type: 'start', data: { sessionId, userId: user.id, tokenHash: hashSessionToken(token), expiresAt } },
      () => this.clock.now(),
    );
    await this.readModels.settled(environmentsProjection, outcome.appended?.position);
    return { object: 'session', token, user: userView(user), expires_at: expiresAt.toISOString() };
  }

  /** The gateway's question for a `sess_…` bearer: whose live session is it, and in which projects? */
  async verify({ token }: SessionTokenQuery): Promise<VerifiedSession | null> {
    if (!hasPrefix(token, 'sess')) return null;
    const { rows } = await this.pool.query<{ session_id: string; expires_at: Date; id: string; email: string; created_at: Date }>(
      `SELECT s.session_id, s.expires_at, u.id, u.email, u.created_at
         FROM env_sessions s JOIN env_users u ON u.id = s.user_id
        WHERE s.token_hash = $1 AND NOT s.ended AND s.expires_at > $2`,
      [hashSessionToken(token), this.clock.now()],
    );
    const row = rows[0];
    if (!row) return null;
    const memberships = await this.pool.query<{ project_id: string; role: MemberRole }>(
      `SELECT project_id, role FROM env_members WHERE user_id = $1 ORDER BY created_at, project_id`,
      [row.id],
    );
    return { session_id: row.session_id, user: userView(row), memberships: memberships.rows, expires_at: new Date(row.expires_at).toISOString() };
  }

  async logout({ token }: SessionTokenQuery): Promise<{ object: 'session'; deleted: true }> {
    if (!hasPrefix(token, 'sess')) throw invalidCredentials();
    const sessionId = sessionIdOf(token);
    const outcome = await handleCommand(this.store, streamName(PLATFORM_SCOPE, 'session', sessionId), sessionDecider, { type: 'end', data: { sessionId } }, () =>
      this.clock.now(),
    );
    await this.readModels.settled(environmentsProjection, outcome.appended?.position);
    return { object: 'session', deleted: true };
  }
}
