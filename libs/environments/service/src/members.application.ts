import { Inject, Injectable } from '@nestjs/common';
import {
  type AddMemberCommand,
  ApiError,
  type Caller,
  type DeletedObject,
  DomainError,
  type ListMembersQuery,
  type ListResult,
  type MemberAdded,
  type MemberRole,
  type MemberView,
  newId,
  ownValue,
  randomToken,
  type RemoveMemberCommand,
  type Scope,
  streamName,
  type UpdateMemberCommand,
} from '@schedstack/contracts';
import { hashPassword, ownerRuleDenial, projectDecider, userDecider } from '@schedstack/environments-domain';
import { EVENT_STORE, type EventStore } from '@schedstack/event-store';
import { CLOCK, type Clock, foldEvents, handleCommand, PG_POOL } from '@schedstack/platform';
import type { Pool } from 'pg';
import { environmentsProjection } from './environments.projection';
import { EnvironmentsReadModels } from './environments.read-models';
import { findUserByEmail, normalizeEmail, userStream } from './users';

/** Members belong to the project, not to an environment: they live in the project's live stream. */
const projectStream = (scope: Scope) => streamName({ projectId: scope.projectId, environment: 'live' }, 'project', scope.projectId);

const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}$/;

/**
 * SPEC §2 users and roles, global to the project: read in every environment (echoing its mode),
 * written through live only (the gateway answers 403 `permissions_managed_in_live` elsewhere).
 */
@Injectable()
export class MembersApplication {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly readModels: EnvironmentsReadModels,
  ) {}

  /** Oldest first (the owner who created the project leads), Stripe-style cursor by user id. */
  async list({ scope, limit, starting_after }: ListMembersQuery): Promise<ListResult<MemberView>> {
    const all = await this.members(scope);
    // An unknown cursor yields an empty page, as ScopedReadModel's lists do.
    const start = starting_after ? (all.findIndex((m) => m.id === starting_after) + 1 || all.length) : 0;
    const page = all.slice(start, start + limit);
    return { object: 'list', data: page, has_more: start + limit < all.length };
  }

  /** Adds a member; a new e-mail address becomes a user with a generated password, shown once. */
  async add({ scope, caller, email, role }: AddMemberCommand): Promise<MemberAdded> {
    if (typeof email !== 'string' || !EMAIL.test(email.trim())) throw ApiError.invalid('email', 'email must be an e-mail address');
    this.assertOwnerRule(caller, null, role);
    const address = normalizeEmail(email);
    let user = await findUserByEmail(this.pool, address);
    let password: string | null = null;
    if (!user) {
      password = randomToken(20);
      const registered = await handleCommand(
        this.store,
        userStream(address),
        userDecider,
        { type: 'register', data: { userId: newId('usr'), email: address, passwordHash: await hashPassword(password) } },
        () => this.clock.now(),
      ).catch((error) => {
        // Registered a moment ago by a concurrent request: add that user instead.
        if (error instanceof DomainError && error.code === 'user_exists') return null;
        throw error;
      });
      if (!registered) password = null;
      await this.readModels.settled(environmentsProjection, registered?.appended?.position);
      user = await findUserByEmail(this.pool, address);
      if (!user) throw ApiError.unavailable('The new user is not readable yet; retry the request.');
    }
    const outcome = await handleCommand(this.store, projectStream(scope), projectDecider, { type: 'add_member', data: { userId: user.id, email: address, role } }, () =>
      this.clock.now(),
    );
    await this.readModels.settled(environmentsProjection, outcome.appended?.position);
    return { ...(await this.member(scope, user.id)), password };
  }

  async update({ scope, caller, user_id, role }: UpdateMemberCommand): Promise<MemberView> {
    this.assertOwnerRule(caller, await this.currentRole(scope, user_id), role);
    const outcome = await handleCommand(this.store, projectStream(scope), projectDecider, { type: 'change_role', data: { userId: user_id, role } }, () =>
      this.clock.now(),
    );
    await this.readModels.settled(environmentsProjection, outcome.appended?.position);
    return this.member(scope, user_id);
  }

  async remove({ scope, caller, user_id }: RemoveMemberCommand): Promise<DeletedObject> {
    this.assertOwnerRule(caller, await this.currentRole(scope, user_id), null);
    const outcome = await handleCommand(this.store, projectStream(scope), projectDecider, { type: 'remove_member', data: { userId: user_id } }, () =>
      this.clock.now(),
    );
    await this.readModels.settled(environmentsProjection, outcome.appended?.position);
    return { id: user_id, object: 'member', deleted: true };
  }

  private assertOwnerRule(caller: Caller, currentRole: MemberRole | null, newRole: MemberRole | null): void {
    const denial = ownerRuleDenial(caller.kind === 'api_key' ? 'api_key' : caller.role, currentRole, newRole);
    if (denial) throw new ApiError({ status: 403, type: 'permission_error', code: 'insufficient_permissions', message: denial });
  }

  /** From the project's own events, so the owner rule sees every role change so far. */
  private async currentRole(scope: Scope, userId: string): Promise<MemberRole> {
    const state = foldEvents(projectDecider, await this.store.readStream(projectStream(scope)));
    const role = state.status === 'active' ? ownValue(state.members, userId) : undefined;
    if (!role) throw ApiError.notFound('member', userId, 'user');
    return role;
  }

  private async members(scope: Scope): Promise<MemberView[]> {
    const { rows } = await this.pool.query<{ id: string; email: string; role: MemberRole; created_at: Date }>(
      `SELECT m.user_id AS id, u.email, m.role, m.created_at
         FROM env_members m JOIN env_users u ON u.id = m.user_id
        WHERE m.project_id = $1
        ORDER BY m.created_at, m.user_id`,
      [scope.projectId],
    );
    return rows.map((r) => ({ id: r.id, object: 'member', mode: scope.environment, email: r.email, role: r.role, created_at: new Date(r.created_at).toISOString() }));
  }

  private async member(scope: Scope, userId: string): Promise<MemberView> {
    const found = (await this.members(scope)).find((m) => m.id === userId);
    if (!found) throw ApiError.notFound('member', userId, 'user');
    return found;
  }
}
