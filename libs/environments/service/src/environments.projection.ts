import { type EventDataMap, parseStreamName } from '@schedstack/contracts';
import type { RecordedEvent } from '@schedstack/event-store';
import type { Migration, ProjectionDefinition } from '@schedstack/platform';
import type { PoolClient } from 'pg';
import { CONFIG_MIGRATIONS } from './config.projection';

export const ENVIRONMENTS_MIGRATIONS: readonly Migration[] = [
  {
    id: '001_projects_users_keys',
    sql: `CREATE TABLE env_projects (id text PRIMARY KEY, name text NOT NULL, created_at timestamptz NOT NULL);
          CREATE TABLE env_users (id text PRIMARY KEY, email text NOT NULL UNIQUE, password_hash text NOT NULL, created_at timestamptz NOT NULL);
          CREATE TABLE env_members (project_id text NOT NULL, user_id text NOT NULL, role text NOT NULL, created_at timestamptz NOT NULL,
                                    PRIMARY KEY (project_id, user_id));
          CREATE TABLE env_api_keys (
            project_id text NOT NULL,
            environment text NOT NULL,
            id text NOT NULL,
            secret_hash text NOT NULL UNIQUE,
            revoked boolean NOT NULL DEFAULT false,
            view jsonb NOT NULL,
            created_at timestamptz NOT NULL,
            PRIMARY KEY (project_id, environment, id));`,
  },
  {
    id: '002_sessions',
    sql: `CREATE TABLE env_sessions (
            token_hash text PRIMARY KEY,
            session_id text NOT NULL UNIQUE,
            user_id text NOT NULL,
            expires_at timestamptz NOT NULL,
            ended boolean NOT NULL DEFAULT false,
            created_at timestamptz NOT NULL);
          CREATE INDEX env_api_keys_list ON env_api_keys (project_id, environment, created_at DESC, id DESC);`,
  },
  ...CONFIG_MIGRATIONS,
];

/** Projects, users, members, API keys and console sessions, as the environments service reads them. */
export const environmentsProjection: ProjectionDefinition = {
  name: 'environments.read-model',
  types: [
    'project.created',
    'user.registered',
    'member.added',
    'member.role_changed',
    'member.removed',
    'api_key.created',
    'api_key.revoked',
    'session.created',
    'session.ended',
  ],
  async apply(client: PoolClient, event: RecordedEvent) {
    const parsed = parseStreamName(event.streamName);
    if (!parsed) return;
    const { projectId, environment } = parsed.scope;
    switch (event.type) {
      case 'project.created': {
        const d = event.data as EventDataMap['project.created'];
        await client.query(`INSERT INTO env_projects (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [d.project_id, d.name, d.created_at]);
        return;
      }
      case 'user.registered': {
        const d = event.data as EventDataMap['user.registered'];
        await client.query(`INSERT INTO env_users (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, [
          d.user_id,
          d.email,
          d.password_hash,
          d.created_at,
        ]);
        return;
      }
      case 'member.added': {
        const d = event.data as EventDataMap['member.added'];
        await client.query(`INSERT INTO env_members (project_id, user_id, role, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, [
          d.project_id,
          d.user_id,
          d.role,
          d.created_at,
        ]);
        return;
      }
      case 'member.role_changed': {
        const d = event.data as EventDataMap['member.role_changed'];
        await client.query(`UPDATE env_members SET role = $3 WHERE project_id = $1 AND user_id = $2`, [d.project_id, d.user_id, d.role]);
        return;
      }
      case 'member.removed': {
        const d = event.data as EventDataMap['member.removed'];
        await client.query(`DELETE FROM env_members WHERE project_id = $1 AND user_id = $2`, [d.project_id, d.user_id]);
        return;
      }
      case 'session.created': {
        const d = event.data as EventDataMap['session.created'];
        await client.query(
          `INSERT INTO env_sessions (token_hash, session_id, user_id, expires_at, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
          [d.token_hash, d.session_id, d.user_id, d.expires_at, d.created_at],
        );
        return;
      }
      case 'session.ended': {
        const d = event.data as EventDataMap['session.ended'];
        await client.query(`UPDATE env_sessions SET ended = true WHERE session_id = $1`, [d.session_id]);
        return;
      }
      case 'api_key.created': {
        const d = event.data as EventDataMap['api_key.created'];
        const view = { id: d.key_id, object: 'api_key', mode: environment, name: d.name, last4: d.last4, prefix: d.prefix, created_at: d.created_at };
        await client.query(
          `INSERT INTO env_api_keys (project_id, environment, id, secret_hash, view, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
          [projectId, environment, d.key_id, d.secret_hash, view, d.created_at],
        );
        return;
      }
      case 'api_key.revoked': {
        const d = event.data as EventDataMap['api_key.revoked'];
        await client.query(`UPDATE env_api_keys SET revoked = true WHERE project_id = $1 AND environment = $2 AND id = $3`, [projectId, environment, d.key_id]);
        return;
      }
    }
  },
};
