import { type EventDataMap, parseStreamName } from '@schedstack/contracts';
import type { RecordedEvent } from '@schedstack/event-store';
import type { Migration, ProjectionDefinition } from '@schedstack/platform';
import type { PoolClient } from 'pg';

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
];

/** Projects, users, members and API keys, as the environments service reads them. */
export const environmentsProjection: ProjectionDefinition = {
  name: 'environments.read-model',
  types: ['project.created', 'user.registered', 'member.added', 'api_key.created', 'api_key.revoked'],
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
