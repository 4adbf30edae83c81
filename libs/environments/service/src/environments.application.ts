import { Inject, Injectable } from '@nestjs/common';
import { type DemoCredentials, type Environment, ENVIRONMENTS, newId, randomToken, type Scope, streamName } from '@schedstack/contracts';
import { hashPassword, projectDecider, userDecider } from '@schedstack/environments-domain';
import { EVENT_STORE, type EventStore, type Position } from '@schedstack/event-store';
import { CLOCK, type Clock, handleCommand, PG_POOL } from '@schedstack/platform';
import type { Pool } from 'pg';
import { ApiKeysApplication } from './api-keys.application';
import { environmentsProjection } from './environments.projection';
import { EnvironmentsReadModels } from './environments.read-models';
import { userStream } from './users';

export const DEMO_OWNER_EMAIL = 'owner@schedstack.local';

/** The local profile's demo project (SPEC §1). */
@Injectable()
export class EnvironmentsApplication {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly readModels: EnvironmentsReadModels,
    private readonly apiKeys: ApiKeysApplication,
  ) {}

  /**
   * The local profile's first start: a demo project, its owner and one key per environment. Only the
   * first call creates anything; secrets cannot be shown again later (only hashes are kept).
   */
  async bootstrapDemo(): Promise<DemoCredentials> {
    const existing = await this.pool.query<{ id: string }>(`SELECT id FROM env_projects ORDER BY created_at LIMIT 1`);
    if (existing.rows[0]) {
      return { project_id: existing.rows[0].id, owner: { email: DEMO_OWNER_EMAIL, password: null }, keys: { live: null, sandbox: null, test: null }, created: false };
    }
    const projectId = newId('prj');
    const password = randomToken(16);
    const now = () => this.clock.now();
    const live: Scope = { projectId, environment: 'live' };
    let last: Position | undefined;
    await handleCommand(this.store, streamName(live, 'project', projectId), projectDecider, { type: 'create', data: { projectId, name: 'Demo project' } }, now);
    const userId = newId('usr');
    await handleCommand(
      this.store,
      userStream(DEMO_OWNER_EMAIL),
      userDecider,
      { type: 'register', data: { userId, email: DEMO_OWNER_EMAIL, passwordHash: await hashPassword(password) } },
      now,
    );
    await handleCommand(
      this.store,
      streamName(live, 'project', projectId),
      projectDecider,
      { type: 'add_member', data: { userId, email: DEMO_OWNER_EMAIL, role: 'owner' } },
      now,
    );
    const keys = {} as Record<Environment, string>;
    for (const environment of ENVIRONMENTS) {
      const minted = await this.apiKeys.mintKey({ projectId, environment }, 'Demo key');
      keys[environment] = minted.secret;
      last = minted.position;
    }
    await this.readModels.settled(environmentsProjection, last);
    return { project_id: projectId, owner: { email: DEMO_OWNER_EMAIL, password }, keys, created: true };
  }
}
