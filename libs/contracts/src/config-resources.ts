import type { DeliveryPolicy } from './events';
import type { IdPrefix } from './ids';
import type { Environment, Scope } from './scope';

/**
 * SPEC §5 configuration: per environment, versioned, cloneable from live. Each kind is one
 * resource type of the API; the order here is the order clone diffs list them in.
 */
export const CONFIG_KINDS = ['process', 'theme', 'field', 'translation', 'dataset_schema'] as const;
export type ConfigKind = (typeof CONFIG_KINDS)[number];

export const DATASET_FIELD_TYPES = ['string', 'number', 'boolean', 'date'] as const;
export type DatasetFieldType = (typeof DATASET_FIELD_TYPES)[number];

/** A named delivery policy (SPEC §9 process body); durations in the API's "30s" syntax, null when unset. */
export interface ProcessSpec {
  readonly name: string;
  readonly max_attempts: number | null;
  readonly backoff: { readonly initial: string; readonly max: string } | null;
  readonly timeout: string | null;
  readonly rate_limit: { readonly requests: number; readonly per: string } | null;
  readonly breaker: { readonly failure_threshold: number; readonly cool_down: string } | null;
  readonly headers: Readonly<Record<string, string>>;
  readonly vendor: boolean;
}

/** Console and portal branding. `colors` maps a role (`primary`, `background`, …) to `#rrggbb`. */
export interface ThemeSpec {
  readonly name: string;
  readonly product_name: string | null;
  readonly logo_url: string | null;
  readonly colors: Readonly<Record<string, string>>;
}

/** A metadata field definition: schedule `metadata` is validated against these. */
export interface FieldSpec {
  readonly name: string;
  readonly type: DatasetFieldType;
  readonly required: boolean;
  readonly description: string | null;
}

/** One locale's texts: key → text. */
export interface TranslationSpec {
  readonly locale: string;
  readonly messages: Readonly<Record<string, string>>;
}

export interface DatasetFieldSpec {
  readonly name: string;
  readonly type: DatasetFieldType;
  readonly required: boolean;
}

export interface DatasetSchemaSpec {
  readonly name: string;
  readonly fields: readonly DatasetFieldSpec[];
}

export interface ConfigSpecs {
  readonly process: ProcessSpec;
  readonly theme: ThemeSpec;
  readonly field: FieldSpec;
  readonly translation: TranslationSpec;
  readonly dataset_schema: DatasetSchemaSpec;
}

/** The natural key of each kind: unique within an environment. */
export type ConfigNaturalKey<K extends ConfigKind> = K extends 'translation' ? 'locale' : 'name';

export interface ConfigResourceInfo<K extends ConfigKind> {
  /** The `object` of its API view. */
  readonly object: K;
  /** Its collection under /v1 (and its key in a clone diff). */
  readonly path: string;
  readonly idPrefix: IdPrefix;
  readonly naturalKey: ConfigNaturalKey<K>;
}

export const CONFIG_RESOURCES: { readonly [K in ConfigKind]: ConfigResourceInfo<K> } = {
  process: { object: 'process', path: 'processes', idPrefix: 'proc', naturalKey: 'name' },
  theme: { object: 'theme', path: 'themes', idPrefix: 'thm', naturalKey: 'name' },
  field: { object: 'field', path: 'fields', idPrefix: 'fld', naturalKey: 'name' },
  translation: { object: 'translation', path: 'translations', idPrefix: 'trn', naturalKey: 'locale' },
  dataset_schema: { object: 'dataset_schema', path: 'dataset-schemas', idPrefix: 'dss', naturalKey: 'name' },
};

/** What every configuration object carries besides its spec (SPEC §9). */
export interface ConfigEnvelope<K extends ConfigKind> {
  readonly id: string;
  readonly object: K;
  readonly mode: Environment;
  /** 1 when created; +1 for each change in this environment. */
  readonly version: number;
  readonly created_at: string;
  readonly updated_at: string;
}

export type ConfigView<K extends ConfigKind = ConfigKind> = K extends ConfigKind ? ConfigEnvelope<K> & ConfigSpecs[K] : never;

// ── messages ──────────────────────────────────────────────────────────────────
/** The body of a create, as validated by the gateway; semantic rules are the domain's. */
export interface CreateConfigCommand {
  readonly scope: Scope;
  readonly kind: ConfigKind;
  readonly input: Readonly<Record<string, unknown>>;
}
export interface ConfigByIdQuery {
  readonly scope: Scope;
  readonly kind: ConfigKind;
  readonly id: string;
}
/** PATCH: the given top-level fields replace the stored ones; `null` clears an optional one. */
export interface UpdateConfigCommand extends ConfigByIdQuery {
  readonly input: Readonly<Record<string, unknown>>;
}
export interface ListConfigQuery {
  readonly scope: Scope;
  readonly kind: ConfigKind;
  readonly limit: number;
  readonly starting_after?: string;
}
export interface DeletedObject {
  readonly id: string;
  readonly object: string;
  readonly deleted: true;
}

/** `environments.processes.get_by_name`: how other services resolve a schedule's `process`. */
export interface ProcessByNameQuery {
  readonly scope: Scope;
  readonly name: string;
}

/** A process with its settings in the dispatcher's units, ready for `schedule.fire_planned.policy`. */
export interface ResolvedProcess {
  readonly process: ConfigView<'process'>;
  readonly policy: DeliveryPolicy;
}

/** `environments.fields.validate_metadata`: 400 naming the field, or `{valid: true}`. */
export interface ValidateMetadataQuery {
  readonly scope: Scope;
  readonly metadata: Readonly<Record<string, unknown>>;
}

// ── dataset rows (client data) ───────────────────────────────────────────────
export interface DatasetRowView {
  readonly id: string;
  readonly object: 'dataset_row';
  readonly mode: Environment;
  /** The id of its dataset schema. */
  readonly schema: string;
  readonly data: Readonly<Record<string, string | number | boolean | null>>;
  readonly created_at: string;
}
export interface CreateDatasetRowCommand {
  readonly scope: Scope;
  /** The schema's name or id. */
  readonly schema: string;
  readonly data: Readonly<Record<string, unknown>>;
}
export interface ListDatasetRowsQuery {
  readonly scope: Scope;
  readonly schema: string;
  readonly limit: number;
  readonly starting_after?: string;
}

// ── clone ─────────────────────────────────────────────────────────────────────
export interface CloneCommand {
  /** The caller's scope; only its project is used: the source is always live. */
  readonly scope: Scope;
  /** As named in the path and body, checked by the domain (400 `clone_direction_not_allowed`). */
  readonly target: string;
  readonly source: string;
  readonly dry_run: boolean;
}

/** A configuration object as a diff shows it: its id and spec, without version or timestamps. */
export type ConfigSnapshot<K extends ConfigKind = ConfigKind> = K extends ConfigKind ? { readonly id: string } & ConfigSpecs[K] : never;

export interface ConfigKindDiff<K extends ConfigKind = ConfigKind> {
  readonly added: readonly ConfigSnapshot<K>[];
  readonly changed: readonly { readonly id: string; readonly before: ConfigSnapshot<K>; readonly after: ConfigSnapshot<K> }[];
  readonly removed: readonly ConfigSnapshot<K>[];
}

/** Per resource collection (`processes`, `themes`, …). */
export type ConfigDiff = { readonly [path: string]: ConfigKindDiff };

export interface CloneResult {
  readonly object: 'environment_clone';
  readonly source: 'live';
  readonly target: Environment;
  readonly dry_run: boolean;
  /** Global position (`<commit>/<prepare>`) of live's last config event the clone read; null when live has none. */
  readonly source_position: string | null;
  /** How many config events live had at that position. */
  readonly source_version: number;
  /** True when events were appended to the target; false for a dry run or when nothing differed. */
  readonly applied: boolean;
  readonly diff: ConfigDiff;
}
