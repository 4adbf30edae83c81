import { createHash } from 'node:crypto';
import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import {
  type DemoCredentials,
  type Environment,
  ENVIRONMENTS,
  newId,
  randomToken,
  type Scope,
  streamName,
  type VerifiedApiKey,
  type VerifyApiKeyQuery,
} from '@schedstack/contracts';
import {
  apiKeyDecider,
  environmentOfSecret,
  hashApiKeySecret,
  hashPassword,
  newApiKeySecret,
  projectDecider,
  userDecider,
} from '@schedstack/environments-domain';
import { EVENT_STORE, type EventStore, type Position } from '@schedstack/event-store';
import { EVENT_FEED, type EventFeed } from '@schedstack/messaging';
import { CLOCK, type Clock, handleCommand, PG_POOL, ReadModels } from '@schedstack/platform';
import type { Pool } from 'pg';
import { ENVIRONMENTS_MIGRATIONS, environmentsProjection } from './environments.projection';

/** Users are global, not per project: their streams live under this reserved scope. */
export const PLATFORM_SCOPE: Scope = { projectId: '_platform', environment: 'live' };

const userStreamId = (email: string) => createHash('sha256').update(email.trim().toLowerCase()).digest('hex').slice(0, 32);

export const DEMO_OWNER_EMAIL = 'owner@schedstack.local';

/** Projects, users, members and API keys (SPEC §2). */
@Injectable()
export class EnvironmentsApplication implements OnModuleInit, OnModuleDestroy {
  private readonly readModels: ReadModels;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(EVENT_FEED) feed: EventFeed,
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    this.readModels = new ReadModels(pool, feed, 'environments', ENVIRONMENTS_MIGRATIONS, [environmentsProjection]);
  }

  onModuleInit(): Promise<void> {
    return this.readModels.start();
  }

  onModuleDestroy(): Promise<void> {
    return this.readModels.stop();
  }

  /** The gateway's question for every request: which (project, environment) does this secret open? */
  async verifyApiKey({ secret }: VerifyApiKeyQuery): Promise<VerifiedApiKey | null> {
    const environment = typeof secret === 'string' ? environmentOfSecret(secret) : null;
    if (!environment) return null;
    const { rows } = await this.pool.query<{ id: string; project_id: string; environment: Environment }>(
      `SELECT id, project_id, environment FROM env_api_keys WHERE secret_hash = $1 AND NOT revoked`,
      [hashApiKeySecret(secret)],
    );
    const row = rows[0];
    // The prefix must agree with the environment the key was minted for.
    if (!row || row.environment !== environment) return null;
    return { key_id: row.id, scope: { projectId: row.project_id, environment: row.environment } };
  }

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
      streamName(PLATFORM_SCOPE, 'user', userStreamId(DEMO_OWNER_EMAIL)),
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
      const minted = await this.mintKey({ projectId, environment }, 'Demo key');
      keys[environment] = minted.secret;
      last = minted.position;
    }
    if (last) await this.readModels.runner(environmentsProjection.name).waitFor(last);
    return { project_id: projectId, owner: { email: DEMO_OWNER_EMAIL, password }, keys, created: true };
  }

  private async mintKey(scope: Scope, name: string | null): Promise<{ keyId: string; secret: string; position?: Position }> {
    const keyId = newId('key');
    const secret = newApiKeySecret(scope.environment);
    const outcome = await handleCommand(
      this.store,
      streamName(scope, 'api_key', keyId),
      apiKeyDecider,
      { type: 'mint', data: { keyId, environment: scope.environment, name, secretHash: hashApiKeySecret(secret), last4: secret.slice(-4) } },
      () => this.clock.now(),
    );
    return { keyId, secret, position: outcome.appended?.position };
  }
}
