import type { ConfigKind, ConfigSpecs } from './config-resources';
import type { DataClass, MemberRole } from './events';
import type { LimitsSettings } from './limits';
import type { Environment } from './scope';

/**
 * Event types of the environments service added with configuration, clone, sessions and limits.
 * `events.ts` folds them into EventDataMap and EVENT_CATALOG, so each type is still declared once.
 */

export interface ConfigCreatedData<S> {
  readonly id: string;
  readonly spec: S;
  readonly version: number;
  readonly created_at: string;
}
/** Carries the whole new spec, so folding never needs the previous event. */
export interface ConfigUpdatedData<S> {
  readonly id: string;
  readonly spec: S;
  readonly version: number;
  readonly updated_at: string;
}
export interface ConfigDeletedData {
  readonly id: string;
  readonly deleted_at: string;
}

type ConfigEventDataMap = { [K in ConfigKind as `${K}.created`]: ConfigCreatedData<ConfigSpecs[K]> } & {
  [K in ConfigKind as `${K}.updated`]: ConfigUpdatedData<ConfigSpecs[K]>;
} & { [K in ConfigKind as `${K}.deleted`]: ConfigDeletedData };

/** Ids per resource collection that a clone added, changed and removed in the target. */
export type CloneChanges = Readonly<Record<string, { readonly added: readonly string[]; readonly changed: readonly string[]; readonly removed: readonly string[] }>>;

export type EnvironmentsEventDataMap = ConfigEventDataMap & {
  'member.role_changed': { project_id: string; user_id: string; role: MemberRole; previous_role: MemberRole; changed_at: string };
  'member.removed': { project_id: string; user_id: string; removed_at: string };
  /** `token_hash`: SHA-256 of the bearer token, which is never stored. */
  'session.created': { session_id: string; user_id: string; token_hash: string; expires_at: string; created_at: string };
  'session.ended': { session_id: string; ended_at: string };
  'limits.updated': LimitsSettings & { updated_at: string };
  'dataset_row.created': { row_id: string; schema_id: string; data: Record<string, string | number | boolean | null>; created_at: string };
  /** In the target environment: its configuration now equals live's at `source_position`. */
  'environment.cloned': {
    source: 'live';
    target: Environment;
    source_position: string | null;
    source_version: number;
    changes: CloneChanges;
    cloned_at: string;
  };
};

const config = { aggregate: 'environment_config', dataClass: 'config' } as const;

/**
 * Config events are the only cloneable ones. `environment.cloned` records what happened to one
 * environment and `limits.updated` is that environment's own throttle, so neither may leave it.
 */
export const ENVIRONMENTS_EVENT_CATALOG = {
  'process.created': config,
  'process.updated': config,
  'process.deleted': config,
  'theme.created': config,
  'theme.updated': config,
  'theme.deleted': config,
  'field.created': config,
  'field.updated': config,
  'field.deleted': config,
  'translation.created': config,
  'translation.updated': config,
  'translation.deleted': config,
  'dataset_schema.created': config,
  'dataset_schema.updated': config,
  'dataset_schema.deleted': config,
  'member.role_changed': { aggregate: 'member', dataClass: 'client' },
  'member.removed': { aggregate: 'member', dataClass: 'client' },
  'session.created': { aggregate: 'session', dataClass: 'client' },
  'session.ended': { aggregate: 'session', dataClass: 'client' },
  'limits.updated': { aggregate: 'limits', dataClass: 'client' },
  'dataset_row.created': { aggregate: 'dataset_row', dataClass: 'client' },
  'environment.cloned': { aggregate: 'environment_config', dataClass: 'client' },
} as const satisfies { [T in keyof EnvironmentsEventDataMap]: { aggregate: string; dataClass: DataClass } };
