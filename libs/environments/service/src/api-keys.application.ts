import { Inject, Injectable } from '@nestjs/common';
import {
  ApiError,
  type ApiKeyCreated,
  type ApiKeyView,
  type DeletedObject,
  type Environment,
  hasPrefix,
  type ListApiKeysQuery,
  type ListResult,
  type MintApiKeyCommand,
  newId,
  type RevokeApiKeyCommand,
  type Scope,
  streamName,
  type VerifiedApiKey,
  type VerifyApiKeyQuery,
} from '@schedstack/contracts';
import { apiKeyDecider, environmentOfSecret, hashApiKeySecret, newApiKeySecret } from '@schedstack/environments-domain';
import { EVENT_STORE, type EventStore, type Position } from '@schedstack/event-store';
import { CLOCK, type Clock, handleCommand, orderKeys, PG_POOL, ScopedReadModel } from '@schedstack/platform';
import type { Pool } from 'pg';
import { environmentsProjection } from './environments.projection';
import { EnvironmentsReadModels } from './environments.read-models';

const API_KEY_KEYS: (keyof ApiKeyCreated)[] = ['id', 'object', 'mode', 'name', 'secret', 'last4', 'created_at'];

/** The stored view also keeps the secret's visible prefix, which the API does not show. */
type StoredApiKeyView = ApiKeyView & { prefix?: string };

/** SPEC §2 API keys: minted per environment (secret shown once), listed masked, revoked, verified. */
@Injectable()
export class ApiKeysApplication {
  private readonly keys: ScopedReadModel<StoredApiKeyView>;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly readModels: EnvironmentsReadModels,
  ) {
    this.keys = new ScopedReadModel<StoredApiKeyView>(pool, 'env_api_keys', { revoked: 'revoked' }, ({ prefix: _prefix, ...view }) =>
      orderKeys(view, API_KEY_KEYS as (keyof ApiKeyView)[]),
    );
  }

  /** The gateway's question for every request: which (project, environment) does this secret open? */
  async verify({ secret }: VerifyApiKeyQuery): Promise<VerifiedApiKey | null> {
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

  async mint({ scope, name }: MintApiKeyCommand): Promise<ApiKeyCreated> {
    const minted = await this.mintKey(scope, name);
    await this.readModels.settled(environmentsProjection, minted.position);
    const view = await this.keys.get(scope, minted.keyId);
    if (!view) throw new Error(`API key ${minted.keyId} was written but is not readable`);
    return orderKeys({ ...view, secret: minted.secret }, API_KEY_KEYS);
  }

  /** Appends a new key; the caller decides when to wait for the read model. */
  async mintKey(scope: Scope, name: string | null): Promise<{ keyId: string; secret: string; position?: Position }> {
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

  /** Active keys only, newest first. */
  list({ scope, limit, starting_after }: ListApiKeysQuery): Promise<ListResult<ApiKeyView>> {
    return this.keys.list(scope, { limit, starting_after, filters: { revoked: 'false' } });
  }

  async revoke({ scope, id }: RevokeApiKeyCommand): Promise<DeletedObject> {
    // A key of another environment lives in another stream: the same 404 as an unknown id.
    if (!hasPrefix(id, 'key')) throw ApiError.notFound('API key', id);
    const outcome = await handleCommand(this.store, streamName(scope, 'api_key', id), apiKeyDecider, { type: 'revoke', data: { keyId: id } }, () => this.clock.now());
    await this.readModels.settled(environmentsProjection, outcome.appended?.position);
    return { id, object: 'api_key', deleted: true };
  }
}
