import {
  CONFIG_KINDS,
  CONFIG_RESOURCES,
  type CloneChanges,
  type ConfigKind,
  type ConfigSpecs,
  DomainError,
  type DomainEvent,
  type Environment,
  ownValue,
} from '@schedstack/contracts';
import { sameSpec, specFromInput, specWithPatch } from './config-specs';

/**
 * STYLE §1 the environment configuration aggregate (SPEC §5): every process, theme, field,
 * translation and dataset schema of one environment lives in one stream, so natural keys stay
 * unique and a clone lands atomically under one expected revision.
 */

export type ConfigAction = 'created' | 'updated' | 'deleted';
export type ConfigEventType = `${ConfigKind}.${ConfigAction}`;
export type ConfigEvent = DomainEvent<ConfigEventType>;
export type EnvironmentConfigEvent = ConfigEvent | DomainEvent<'environment.cloned'>;

export interface ConfigResource<K extends ConfigKind = ConfigKind> {
  readonly id: string;
  readonly kind: K;
  readonly spec: ConfigSpecs[K];
  readonly version: number;
  readonly created_at: string;
  readonly updated_at: string;
}

export type ConfigResources = { readonly [K in ConfigKind]: Readonly<Record<string, ConfigResource<K>>> };

export interface ConfigState {
  readonly resources: ConfigResources;
}

export interface CloneSource {
  readonly state: ConfigState;
  /** Global position of the last source event read, as `<commit>/<prepare>`; null when there was none. */
  readonly position: string | null;
  /** How many config events the source stream had. */
  readonly version: number;
}

export type ConfigCommand =
  | { readonly type: 'create'; readonly data: { readonly kind: ConfigKind; readonly id: string; readonly input: unknown } }
  | { readonly type: 'update'; readonly data: { readonly kind: ConfigKind; readonly id: string; readonly input: unknown } }
  | { readonly type: 'delete'; readonly data: { readonly kind: ConfigKind; readonly id: string } }
  | { readonly type: 'clone'; readonly data: { readonly source: CloneSource; readonly target: Environment } };

export const initialState = (): ConfigState => ({
  resources: { process: {}, theme: {}, field: {}, translation: {}, dataset_schema: {} },
});

/** One kind's differences between a source and a target configuration. */
export interface KindDiff<K extends ConfigKind = ConfigKind> {
  readonly added: readonly ConfigResource<K>[];
  readonly changed: readonly { readonly before: ConfigResource<K>; readonly after: ConfigResource<K> }[];
  readonly removed: readonly ConfigResource<K>[];
}
export type ConfigStateDiff = { readonly [K in ConfigKind]: KindDiff<K> };

/** What it takes to turn `target` into `source`: resources are matched by id, specs compared canonically. */
export function diffConfig(source: ConfigState, target: ConfigState): ConfigStateDiff {
  const diffKind = <K extends ConfigKind>(kind: K): KindDiff<K> => {
    const from = target.resources[kind] as Readonly<Record<string, ConfigResource<K>>>;
    const to = source.resources[kind] as Readonly<Record<string, ConfigResource<K>>>;
    const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    return {
      added: Object.values(to).filter((r) => !from[r.id]).sort(byId),
      changed: Object.values(to)
        .filter((r) => from[r.id] && !sameSpec(from[r.id].spec, r.spec))
        .sort(byId)
        .map((after) => ({ before: from[after.id], after })),
      removed: Object.values(from).filter((r) => !to[r.id]).sort(byId),
    };
  };
  return { process: diffKind('process'), theme: diffKind('theme'), field: diffKind('field'), translation: diffKind('translation'), dataset_schema: diffKind('dataset_schema') };
}

export function isEmptyDiff(diff: ConfigStateDiff): boolean {
  return CONFIG_KINDS.every((kind) => diff[kind].added.length + diff[kind].changed.length + diff[kind].removed.length === 0);
}

// Template-literal event types cannot be narrowed from a generic kind; this is the one cast.
const configEvent = (kind: ConfigKind, action: ConfigAction, data: unknown): ConfigEvent => ({ type: `${kind}.${action}`, data }) as ConfigEvent;

function naturalKeyOf(kind: ConfigKind, spec: ConfigSpecs[ConfigKind]): string {
  return String((spec as unknown as Record<string, unknown>)[CONFIG_RESOURCES[kind].naturalKey]);
}

function assertKeyFree(state: ConfigState, kind: ConfigKind, spec: ConfigSpecs[ConfigKind], exceptId: string | null): void {
  const key = CONFIG_RESOURCES[kind].naturalKey;
  const wanted = naturalKeyOf(kind, spec);
  const taken = Object.values(state.resources[kind]).some((r) => r.id !== exceptId && naturalKeyOf(kind, r.spec) === wanted);
  if (taken) {
    throw new DomainError('conflict', 'resource_exists', `A ${CONFIG_RESOURCES[kind].object} with ${key} '${wanted}' already exists in this environment`, key);
  }
}

/** The resource of `kind` with `id`, or undefined (ids are the client's: only own keys count). */
function resourceAt(state: ConfigState, kind: ConfigKind, id: string): ConfigResource | undefined {
  return ownValue(state.resources[kind] as Readonly<Record<string, ConfigResource>>, id);
}

function existing(state: ConfigState, kind: ConfigKind, id: string): ConfigResource {
  const found = resourceAt(state, kind, id);
  if (!found) throw new DomainError('not_found', 'resource_missing', `No such ${CONFIG_RESOURCES[kind].object}: '${id}'`, 'id');
  return found;
}

export function decide(command: ConfigCommand, state: ConfigState, now: Date): EnvironmentConfigEvent[] {
  const at = now.toISOString();
  switch (command.type) {
    case 'create': {
      const { kind, id, input } = command.data;
      if (resourceAt(state, kind, id)) throw new DomainError('conflict', 'resource_exists', `${id} already exists`, 'id');
      const spec = specFromInput(kind, input);
      assertKeyFree(state, kind, spec, null);
      return [configEvent(kind, 'created', { id, spec, version: 1, created_at: at })];
    }
    case 'update': {
      const { kind, id, input } = command.data;
      const current = existing(state, kind, id);
      const spec = specWithPatch(kind, current.spec, input);
      if (sameSpec(spec, current.spec)) return [];
      assertKeyFree(state, kind, spec, id);
      return [configEvent(kind, 'updated', { id, spec, version: current.version + 1, updated_at: at })];
    }
    case 'delete': {
      const { kind, id } = command.data;
      existing(state, kind, id);
      return [configEvent(kind, 'deleted', { id, deleted_at: at })];
    }
    case 'clone': {
      const { source, target } = command.data;
      const diff = diffConfig(source.state, state);
      // SPEC §5: cloning again with no change in live appends nothing.
      if (isEmptyDiff(diff)) return [];
      const events: EnvironmentConfigEvent[] = [];
      // Removals first, so a name freed in the target can be taken by a resource arriving from live.
      for (const kind of CONFIG_KINDS) for (const r of diff[kind].removed) events.push(configEvent(kind, 'deleted', { id: r.id, deleted_at: at }));
      for (const kind of CONFIG_KINDS) {
        for (const { before, after } of diff[kind].changed) {
          events.push(configEvent(kind, 'updated', { id: after.id, spec: after.spec, version: before.version + 1, updated_at: at }));
        }
      }
      for (const kind of CONFIG_KINDS) for (const r of diff[kind].added) events.push(configEvent(kind, 'created', { id: r.id, spec: r.spec, version: 1, created_at: at }));
      events.push({
        type: 'environment.cloned',
        data: { source: 'live', target, source_position: source.position, source_version: source.version, changes: changesOf(diff), cloned_at: at },
      });
      return events;
    }
    default: {
      const unreachable: never = command;
      throw new Error(`unknown command ${JSON.stringify(unreachable)}`);
    }
  }
}

function changesOf(diff: ConfigStateDiff): CloneChanges {
  return Object.fromEntries(
    CONFIG_KINDS.map((kind) => [
      CONFIG_RESOURCES[kind].path,
      { added: diff[kind].added.map((r) => r.id), changed: diff[kind].changed.map((c) => c.after.id), removed: diff[kind].removed.map((r) => r.id) },
    ]),
  );
}

function withResource(state: ConfigState, kind: ConfigKind, id: string, resource: ConfigResource | null): ConfigState {
  const { [id]: _previous, ...others } = state.resources[kind] as Record<string, ConfigResource>;
  const records = resource ? { ...others, [id]: resource } : others;
  return { resources: { ...state.resources, [kind]: records } };
}

export function evolve(state: ConfigState, event: EnvironmentConfigEvent): ConfigState {
  if (event.type === 'environment.cloned') return state;
  const [kind, action] = event.type.split('.') as [ConfigKind, ConfigAction];
  switch (action) {
    case 'created': {
      const data = event.data as { id: string; spec: ConfigSpecs[ConfigKind]; version: number; created_at: string };
      return withResource(state, kind, data.id, { id: data.id, kind, spec: data.spec, version: data.version, created_at: data.created_at, updated_at: data.created_at });
    }
    case 'updated': {
      const data = event.data as { id: string; spec: ConfigSpecs[ConfigKind]; version: number; updated_at: string };
      const current = resourceAt(state, kind, data.id);
      if (!current) return state;
      return withResource(state, kind, data.id, { ...current, spec: data.spec, version: data.version, updated_at: data.updated_at });
    }
    case 'deleted':
      return withResource(state, kind, (event.data as { id: string }).id, null);
    default: {
      const unreachable: never = action;
      throw new Error(`unknown config event ${String(unreachable)}`);
    }
  }
}

export const configDecider = { initialState, decide, evolve };
