import {
  CONFIG_KINDS,
  CONFIG_RESOURCES,
  type ConfigKind,
  type ConfigSpecs,
  type ConfigView,
  type DatasetRowView,
  EVENT_CATALOG,
  type EventDataMap,
  type EventType,
  parseStreamName,
} from '@schedstack/contracts';
import type { RecordedEvent } from '@schedstack/event-store';
import type { Migration, ProjectionDefinition } from '@schedstack/platform';
import type { PoolClient } from 'pg';

/** One read-model table per configuration kind, in the shape ScopedReadModel reads. */
export const CONFIG_TABLES: { readonly [K in ConfigKind]: string } = {
  process: 'env_processes',
  theme: 'env_themes',
  field: 'env_fields',
  translation: 'env_translations',
  dataset_schema: 'env_dataset_schemas',
};

export const CONFIG_MIGRATIONS: readonly Migration[] = [
  {
    id: '003_config_resources',
    // `natural_key` (name, or locale) is looked up but not unique here: the decider keeps it unique,
    // and within one clone a rename may pass through a moment where two rows share a key.
    sql: CONFIG_KINDS.map(
      (kind) => `CREATE TABLE ${CONFIG_TABLES[kind]} (
            project_id text NOT NULL,
            environment text NOT NULL,
            id text NOT NULL,
            natural_key text NOT NULL,
            view jsonb NOT NULL,
            created_at timestamptz NOT NULL,
            PRIMARY KEY (project_id, environment, id));
          CREATE INDEX ${CONFIG_TABLES[kind]}_key ON ${CONFIG_TABLES[kind]} (project_id, environment, natural_key);
          CREATE INDEX ${CONFIG_TABLES[kind]}_list ON ${CONFIG_TABLES[kind]} (project_id, environment, created_at DESC, id DESC);`,
    ).join('\n'),
  },
  {
    id: '004_dataset_rows',
    sql: `CREATE TABLE env_dataset_rows (
            project_id text NOT NULL,
            environment text NOT NULL,
            id text NOT NULL,
            schema_id text NOT NULL,
            view jsonb NOT NULL,
            created_at timestamptz NOT NULL,
            PRIMARY KEY (project_id, environment, id));
          CREATE INDEX env_dataset_rows_list ON env_dataset_rows (project_id, environment, schema_id, created_at DESC, id DESC);`,
  },
];

const CONFIG_EVENT_TYPES = (Object.keys(EVENT_CATALOG) as EventType[]).filter((type) => EVENT_CATALOG[type].dataClass === 'config');

function naturalKey(kind: ConfigKind, spec: ConfigSpecs[ConfigKind]): string {
  return String((spec as unknown as Record<string, unknown>)[CONFIG_RESOURCES[kind].naturalKey]);
}

/** Each environment's configuration objects, as the API shows them. */
export const configProjection: ProjectionDefinition = {
  name: 'environments.config',
  // `environment.cloned` ends every clone's append: following it lets a clone wait for its own write.
  types: [...CONFIG_EVENT_TYPES, 'environment.cloned'],
  async apply(client: PoolClient, event: RecordedEvent) {
    const parsed = parseStreamName(event.streamName);
    if (!parsed || event.type === 'environment.cloned') return;
    const { projectId, environment } = parsed.scope;
    const [kind, action] = event.type.split('.') as [ConfigKind, 'created' | 'updated' | 'deleted'];
    const table = CONFIG_TABLES[kind];
    if (action === 'created') {
      const d = event.data as EventDataMap[`${ConfigKind}.created`];
      const view = { id: d.id, object: kind, mode: environment, version: d.version, ...d.spec, created_at: d.created_at, updated_at: d.created_at } as ConfigView;
      await client.query(
        `INSERT INTO ${table} (project_id, environment, id, natural_key, view, created_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (project_id, environment, id) DO UPDATE SET natural_key = EXCLUDED.natural_key, view = EXCLUDED.view, created_at = EXCLUDED.created_at`,
        [projectId, environment, d.id, naturalKey(kind, d.spec), view, d.created_at],
      );
    } else if (action === 'updated') {
      const d = event.data as EventDataMap[`${ConfigKind}.updated`];
      // The spec is replaced whole (its fields are the top level of the view); version and updated_at move on.
      await client.query(
        `UPDATE ${table} SET natural_key = $4, view = jsonb_build_object('id', view->'id', 'object', view->'object', 'mode', view->'mode', 'created_at', view->'created_at')
                                             || $5::jsonb
         WHERE project_id = $1 AND environment = $2 AND id = $3`,
        [projectId, environment, d.id, naturalKey(kind, d.spec), { ...d.spec, version: d.version, updated_at: d.updated_at }],
      );
    } else {
      const d = event.data as EventDataMap[`${ConfigKind}.deleted`];
      await client.query(`DELETE FROM ${table} WHERE project_id = $1 AND environment = $2 AND id = $3`, [projectId, environment, d.id]);
    }
  },
};

/** Dataset rows (client data): one row each, listed per schema. */
export const datasetRowsProjection: ProjectionDefinition = {
  name: 'environments.dataset-rows',
  types: ['dataset_row.created'],
  async apply(client: PoolClient, event: RecordedEvent) {
    const parsed = parseStreamName(event.streamName);
    if (!parsed) return;
    const { projectId, environment } = parsed.scope;
    const d = event.data as EventDataMap['dataset_row.created'];
    const view: DatasetRowView = { id: d.row_id, object: 'dataset_row', mode: environment, schema: d.schema_id, data: d.data, created_at: d.created_at };
    await client.query(
      `INSERT INTO env_dataset_rows (project_id, environment, id, schema_id, view, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
      [projectId, environment, d.row_id, d.schema_id, view, d.created_at],
    );
  },
};
