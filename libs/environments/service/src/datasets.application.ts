import { Inject, Injectable } from '@nestjs/common';
import {
  ApiError,
  type ConfigView,
  type CreateDatasetRowCommand,
  type DatasetRowView,
  type DatasetSchemaSpec,
  hasPrefix,
  type ListDatasetRowsQuery,
  type ListResult,
  newId,
  type Scope,
  streamName,
} from '@schedstack/contracts';
import { datasetRowDecider } from '@schedstack/environments-domain';
import { EVENT_STORE, type EventStore } from '@schedstack/event-store';
import { CLOCK, type Clock, handleCommand, orderKeys, PG_POOL, ScopedReadModel } from '@schedstack/platform';
import type { Pool } from 'pg';
import { ConfigApplication } from './config.application';
import { datasetRowsProjection } from './config.projection';
import { EnvironmentsReadModels } from './environments.read-models';

const ROW_KEYS: (keyof DatasetRowView)[] = ['id', 'object', 'mode', 'schema', 'data', 'created_at'];

/** SPEC §5 dataset rows: client data of one environment, validated against its dataset schema. */
@Injectable()
export class DatasetsApplication {
  private readonly rows: ScopedReadModel<DatasetRowView>;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(PG_POOL) pool: Pool,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly readModels: EnvironmentsReadModels,
    private readonly config: ConfigApplication,
  ) {
    this.rows = new ScopedReadModel<DatasetRowView>(pool, 'env_dataset_rows', { schema: 'schema_id' }, (v) => orderKeys(v, ROW_KEYS));
  }

  async create({ scope, schema, data }: CreateDatasetRowCommand): Promise<DatasetRowView> {
    const found = await this.schema(scope, schema);
    const rowId = newId('row');
    const spec: DatasetSchemaSpec = { name: found.name, fields: found.fields };
    const outcome = await handleCommand(
      this.store,
      streamName(scope, 'dataset_row', rowId),
      datasetRowDecider,
      { type: 'create', data: { rowId, schemaId: found.id, schema: spec, input: data } },
      () => this.clock.now(),
    );
    await this.readModels.settled(datasetRowsProjection, outcome.appended?.position);
    const view = await this.rows.get(scope, rowId);
    if (!view) throw new Error(`dataset row ${rowId} was written but is not readable`);
    return view;
  }

  async list({ scope, schema, limit, starting_after }: ListDatasetRowsQuery): Promise<ListResult<DatasetRowView>> {
    const found = await this.schema(scope, schema);
    return this.rows.list(scope, { limit, starting_after, filters: { schema: found.id } });
  }

  /** A dataset schema of this environment, by id (`dss_…`) or name. */
  private async schema(scope: Scope, idOrName: string): Promise<ConfigView<'dataset_schema'>> {
    const found = hasPrefix(idOrName, 'dss')
      ? await this.config.get({ scope, kind: 'dataset_schema', id: idOrName }).catch(() => null)
      : await this.config.findByKey(scope, 'dataset_schema', idOrName);
    if (!found) throw ApiError.notFound('dataset schema', idOrName, 'schema');
    return found as ConfigView<'dataset_schema'>;
  }
}
