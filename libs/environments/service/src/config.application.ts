import { Inject, Injectable } from '@nestjs/common';
import {
  ApiError,
  CONFIG_KINDS,
  CONFIG_RESOURCES,
  type ConfigByIdQuery,
  type ConfigKind,
  type ConfigView,
  type CreateConfigCommand,
  type DeletedObject,
  type FieldSpec,
  hasPrefix,
  type ListConfigQuery,
  type ListResult,
  newId,
  type ProcessByNameQuery,
  type ProcessSpec,
  type ResolvedProcess,
  type Scope,
  streamName,
  type UpdateConfigCommand,
  type ValidateMetadataQuery,
} from '@schedstack/contracts';
import {
  type ConfigCommand,
  configDecider,
  type ConfigState,
  deliveryPolicyOf,
  orderedSpec,
  SPEC_FIELDS,
  validateMetadata,
} from '@schedstack/environments-domain';
import { EVENT_STORE, type EventStore, type RecordedEvent } from '@schedstack/event-store';
import { CLOCK, type Clock, foldEvents, handleCommand, orderKeys, PG_POOL, ScopedReadModel } from '@schedstack/platform';
import type { Pool } from 'pg';
import { CONFIG_TABLES, configProjection } from './config.projection';
import { EnvironmentsReadModels } from './environments.read-models';

/** The one stream holding an environment's whole configuration (SPEC §5). */
export const configStream = (scope: Scope): string => streamName(scope, 'environment_config', scope.environment);

/** API key order of each kind's view: envelope, then the spec's fields as documented, then timestamps. */
const viewKeys = (kind: ConfigKind) => ['id', 'object', 'mode', 'version', ...SPEC_FIELDS[kind], 'created_at', 'updated_at'] as (keyof ConfigView)[];

/** Large enough to read every object of a kind in one environment for internal checks. */
const ALL = 10_000;

/** SPEC §5 configuration resources: CRUD per environment, each change a versioned `config` event. */
@Injectable()
export class ConfigApplication {
  private readonly models: { readonly [K in ConfigKind]: ScopedReadModel<ConfigView> };

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(PG_POOL) pool: Pool,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly readModels: EnvironmentsReadModels,
  ) {
    const model = (kind: ConfigKind) => new ScopedReadModel<ConfigView>(pool, CONFIG_TABLES[kind], { key: 'natural_key' }, (v) => orderKeys(orderedSpec(kind, v), viewKeys(kind)));
    this.models = Object.fromEntries(CONFIG_KINDS.map((kind) => [kind, model(kind)])) as unknown as ConfigApplication['models'];
  }

  async create({ scope, kind, input }: CreateConfigCommand): Promise<ConfigView> {
    const id = newId(CONFIG_RESOURCES[kind].idPrefix);
    await this.write(scope, { type: 'create', data: { kind, id, input } });
    return this.get({ scope, kind, id });
  }

  async update({ scope, kind, id, input }: UpdateConfigCommand): Promise<ConfigView> {
    this.assertIdOf(kind, id);
    await this.write(scope, { type: 'update', data: { kind, id, input } });
    return this.get({ scope, kind, id });
  }

  async delete({ scope, kind, id }: ConfigByIdQuery): Promise<DeletedObject> {
    this.assertIdOf(kind, id);
    await this.write(scope, { type: 'delete', data: { kind, id } });
    return { id, object: CONFIG_RESOURCES[kind].object, deleted: true };
  }

  async get({ scope, kind, id }: ConfigByIdQuery): Promise<ConfigView> {
    const view = hasPrefix(id, CONFIG_RESOURCES[kind].idPrefix) ? await this.models[kind].get(scope, id) : null;
    if (!view) throw ApiError.notFound(CONFIG_RESOURCES[kind].object.replace('_', ' '), id);
    return view;
  }

  list({ scope, kind, limit, starting_after }: ListConfigQuery): Promise<ListResult<ConfigView>> {
    return this.models[kind].list(scope, { limit, starting_after });
  }

  /** An object of `kind` by its natural key (name, or locale), or null. */
  async findByKey(scope: Scope, kind: ConfigKind, key: string): Promise<ConfigView | null> {
    const { data } = await this.models[kind].list(scope, { limit: 1, filters: { key } });
    return data[0] ?? null;
  }

  /** For the schedules service: the process a schedule names, with its settings as the dispatcher applies them. */
  async processByName({ scope, name }: ProcessByNameQuery): Promise<ResolvedProcess | null> {
    const process = (await this.findByKey(scope, 'process', name)) as ConfigView<'process'> | null;
    if (!process) return null;
    const spec = Object.fromEntries(SPEC_FIELDS.process.map((f) => [f, process[f as keyof ProcessSpec]])) as unknown as ProcessSpec;
    return { process, policy: deliveryPolicyOf(spec) };
  }

  /** For the schedules service: schedule `metadata` against this environment's field definitions. */
  async validateMetadata({ scope, metadata }: ValidateMetadataQuery): Promise<{ valid: true }> {
    const { data } = await this.models.field.list(scope, { limit: ALL });
    validateMetadata(data as unknown as FieldSpec[], metadata);
    return { valid: true };
  }

  /** The environment's configuration from its events (the source of truth), with the events read. */
  async state(scope: Scope): Promise<{ state: ConfigState; recorded: RecordedEvent[] }> {
    const recorded = await this.store.readStream(configStream(scope));
    return { state: foldEvents(configDecider, recorded), recorded };
  }

  private async write(scope: Scope, command: ConfigCommand): Promise<void> {
    const outcome = await handleCommand(this.store, configStream(scope), configDecider, command, () => this.clock.now());
    await this.readModels.settled(configProjection, outcome.appended?.position);
  }

  /** An id of another kind (or not an id at all) gets the same 404 as an unknown one. */
  private assertIdOf(kind: ConfigKind, id: string): void {
    if (!hasPrefix(id, CONFIG_RESOURCES[kind].idPrefix)) throw ApiError.notFound(CONFIG_RESOURCES[kind].object.replace('_', ' '), id);
  }
}
