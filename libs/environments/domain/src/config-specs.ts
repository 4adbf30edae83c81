import {
  type ConfigKind,
  type ConfigSpecs,
  DATASET_FIELD_TYPES,
  type DatasetFieldSpec,
  type DatasetFieldType,
  type DatasetSchemaSpec,
  type DeliveryPolicy,
  DomainError,
  type FieldSpec,
  MAX_ATTEMPT_TIMEOUT_MS,
  type ProcessSpec,
  type ThemeSpec,
  type TranslationSpec,
} from '@schedstack/contracts';
import { DurationSyntaxError, parseDuration } from '@schedstack/time';

/**
 * SPEC §5/§9 configuration bodies: each input becomes a complete, canonical spec (every optional
 * field present, null when unset), or a 400 naming the offending parameter. Canonical specs make
 * "did it change?" a plain comparison, which versions and clone diffs rely on.
 */

type Input = Readonly<Record<string, unknown>>;

const invalid = (param: string, message: string) => new DomainError('invalid', 'parameter_invalid', message, param);
const missing = (param: string) => new DomainError('invalid', 'parameter_missing', `${param} is required`, param);
const unknown = (param: string) => new DomainError('invalid', 'parameter_unknown', `Received unknown parameter: ${param}`, param);

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const DATASET_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const FIELD_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,39}$/;
const LOCALE = /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/;
const COLOR_ROLE = /^[a-z][a-z0-9_]{0,31}$/;
const HEX_COLOR = /^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/;
const MESSAGE_KEY = /^[A-Za-z0-9_.-]{1,128}$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$/;

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

function isObject(value: unknown): value is Input {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function onlyKeys(input: Input, allowed: readonly string[], prefix = ''): void {
  for (const key of Object.keys(input)) if (!allowed.includes(key)) throw unknown(`${prefix}${key}`);
}

function objectAt(value: unknown, param: string): Input {
  if (!isObject(value)) throw invalid(param, `${param} must be an object`);
  return value;
}

function text(value: unknown, param: string, pattern: RegExp, rule: string): string {
  if (value === undefined || value === null) throw missing(param);
  if (typeof value !== 'string' || !pattern.test(value)) throw invalid(param, `${param} must be ${rule}`);
  return value;
}

function optionalText(value: unknown, param: string, max: number): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value.length === 0 || value.length > max) throw invalid(param, `${param} must be a string of 1 to ${max} characters`);
  return value;
}

function integer(value: unknown, param: string, min: number, max: number): number {
  if (value === undefined || value === null) throw missing(param);
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(param, `${param} must be an integer from ${min} to ${max}`);
  }
  return value;
}

function bool(value: unknown, param: string, fallback: boolean): boolean {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'boolean') throw invalid(param, `${param} must be true or false`);
  return value;
}

/** A duration in the API syntax, kept as written, within (0, max]. */
function duration(value: unknown, param: string, maxMs: number, maxText: string): string {
  if (value === undefined || value === null) throw missing(param);
  if (typeof value !== 'string') throw invalid(param, `${param} must be a duration string such as "30s"`);
  let ms: number;
  try {
    ms = parseDuration(value);
  } catch (error) {
    if (error instanceof DurationSyntaxError) throw invalid(param, `${param} ${error.message}`);
    throw error;
  }
  if (ms <= 0 || ms > maxMs) throw invalid(param, `${param} must be more than 0 and at most ${maxText}`);
  return value;
}

function stringMap(value: unknown, param: string, keyPattern: RegExp, check: (v: string, p: string) => void, maxEntries: number): Record<string, string> {
  if (value === undefined || value === null) return {};
  const map = objectAt(value, param);
  const entries = Object.entries(map);
  if (entries.length > maxEntries) throw invalid(param, `${param} may hold at most ${maxEntries} entries`);
  for (const [key, v] of entries) {
    const p = `${param}.${key}`;
    if (!keyPattern.test(key)) throw invalid(p, `'${key}' is not an allowed key in ${param}`);
    if (typeof v !== 'string') throw invalid(p, `${p} must be a string`);
    check(v, p);
  }
  // fromEntries defines own keys: an assignment of '__proto__' would set the prototype and drop the entry.
  return Object.fromEntries(entries as [string, string][]);
}

function processSpec(input: Input): ProcessSpec {
  onlyKeys(input, ['name', 'max_attempts', 'backoff', 'timeout', 'rate_limit', 'breaker', 'headers', 'vendor']);
  const backoff = input.backoff === undefined || input.backoff === null ? null : objectAt(input.backoff, 'backoff');
  const rateLimit = input.rate_limit === undefined || input.rate_limit === null ? null : objectAt(input.rate_limit, 'rate_limit');
  const breaker = input.breaker === undefined || input.breaker === null ? null : objectAt(input.breaker, 'breaker');
  if (backoff) onlyKeys(backoff, ['initial', 'max'], 'backoff.');
  if (rateLimit) onlyKeys(rateLimit, ['requests', 'per'], 'rate_limit.');
  if (breaker) onlyKeys(breaker, ['failure_threshold', 'cool_down'], 'breaker.');
  const spec: ProcessSpec = {
    name: text(input.name, 'name', NAME, '1 to 64 letters, digits, "_", "." or "-", starting with a letter or digit'),
    max_attempts: input.max_attempts === undefined || input.max_attempts === null ? null : integer(input.max_attempts, 'max_attempts', 1, 100),
    backoff: backoff && { initial: duration(backoff.initial, 'backoff.initial', DAY_MS, '1d'), max: duration(backoff.max, 'backoff.max', DAY_MS, '1d') },
    timeout: input.timeout === undefined || input.timeout === null ? null : duration(input.timeout, 'timeout', MAX_ATTEMPT_TIMEOUT_MS, '1h'),
    rate_limit: rateLimit && { requests: integer(rateLimit.requests, 'rate_limit.requests', 1, 100_000), per: duration(rateLimit.per, 'rate_limit.per', DAY_MS, '1d') },
    breaker: breaker && {
      failure_threshold: integer(breaker.failure_threshold, 'breaker.failure_threshold', 1, 1_000),
      cool_down: duration(breaker.cool_down, 'breaker.cool_down', DAY_MS, '1d'),
    },
    headers: stringMap(input.headers, 'headers', HEADER_NAME, (v, p) => {
      if (/[\r\n\0]/.test(v) || v.length > 8_192) throw invalid(p, `${p} must be at most 8192 characters without CR, LF or NUL`);
    }, 50),
    vendor: bool(input.vendor, 'vendor', false),
  };
  if (spec.backoff && parseDuration(spec.backoff.initial) > parseDuration(spec.backoff.max)) {
    throw invalid('backoff.initial', 'backoff.initial must not be longer than backoff.max');
  }
  return spec;
}

function themeSpec(input: Input): ThemeSpec {
  onlyKeys(input, ['name', 'product_name', 'logo_url', 'colors']);
  return {
    name: text(input.name, 'name', NAME, '1 to 64 letters, digits, "_", "." or "-", starting with a letter or digit'),
    product_name: optionalText(input.product_name, 'product_name', 100),
    logo_url: logoUrl(input.logo_url),
    colors: stringMap(input.colors, 'colors', COLOR_ROLE, (v, p) => {
      if (!HEX_COLOR.test(v)) throw invalid(p, `${p} must be a hex colour such as "#1a2b3c"`);
    }, 32),
  };
}

function logoUrl(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  const problem = () => invalid('logo_url', 'logo_url must be an http(s) URL of at most 2048 characters');
  if (typeof value !== 'string' || value.length > 2048) throw problem();
  try {
    const url = new URL(value);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw problem();
  } catch {
    throw problem();
  }
  return value;
}

function fieldType(value: unknown, param: string): DatasetFieldType {
  if (value === undefined || value === null) throw missing(param);
  if (!(DATASET_FIELD_TYPES as readonly unknown[]).includes(value)) throw invalid(param, `${param} must be one of ${DATASET_FIELD_TYPES.join(', ')}`);
  return value as DatasetFieldType;
}

function fieldSpec(input: Input): FieldSpec {
  onlyKeys(input, ['name', 'type', 'required', 'description']);
  return {
    name: text(input.name, 'name', FIELD_NAME, 'a metadata key of 1 to 40 letters, digits, "_", "." or "-"'),
    type: fieldType(input.type, 'type'),
    required: bool(input.required, 'required', false),
    description: optionalText(input.description, 'description', 500),
  };
}

function translationSpec(input: Input): TranslationSpec {
  onlyKeys(input, ['locale', 'messages']);
  return {
    locale: text(input.locale, 'locale', LOCALE, 'a BCP 47 language tag such as "en" or "de-CH"'),
    messages: stringMap(input.messages, 'messages', MESSAGE_KEY, (v, p) => {
      if (v.length > 2_000) throw invalid(p, `${p} must be at most 2000 characters`);
    }, 1_000),
  };
}

function datasetSchemaSpec(input: Input): DatasetSchemaSpec {
  onlyKeys(input, ['name', 'fields']);
  const name = text(input.name, 'name', DATASET_NAME, '1 to 64 lower-case letters, digits, "_" or "-"');
  if (input.fields === undefined || input.fields === null) throw missing('fields');
  if (!Array.isArray(input.fields) || input.fields.length === 0 || input.fields.length > 100) {
    throw invalid('fields', 'fields must be a list of 1 to 100 field definitions');
  }
  const seen = new Set<string>();
  const fields = input.fields.map((raw: unknown, i): DatasetFieldSpec => {
    const param = `fields[${i}]`;
    const field = objectAt(raw, param);
    onlyKeys(field, ['name', 'type', 'required'], `${param}.`);
    const fieldName = text(field.name, `${param}.name`, /^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'a field name of 1 to 64 letters, digits or "_"');
    if (seen.has(fieldName)) throw invalid(`${param}.name`, `${param}.name '${fieldName}' is used twice`);
    seen.add(fieldName);
    return { name: fieldName, type: fieldType(field.type, `${param}.type`), required: bool(field.required, `${param}.required`, false) };
  });
  return { name, fields };
}

const SPEC_READERS: { readonly [K in ConfigKind]: (input: Input) => ConfigSpecs[K] } = {
  process: processSpec,
  theme: themeSpec,
  field: fieldSpec,
  translation: translationSpec,
  dataset_schema: datasetSchemaSpec,
};

/** The canonical spec of a create body, or a DomainError naming the parameter. */
export function specFromInput<K extends ConfigKind>(kind: K, input: unknown): ConfigSpecs[K] {
  if (!isObject(input)) throw invalid('body', 'The request body must be a JSON object');
  return SPEC_READERS[kind](input);
}

/** PATCH: the given top-level fields replace the current ones (`null` clears an optional one). */
export function specWithPatch<K extends ConfigKind>(kind: K, current: ConfigSpecs[K], patch: unknown): ConfigSpecs[K] {
  if (!isObject(patch)) throw invalid('body', 'The request body must be a JSON object');
  const given = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
  return SPEC_READERS[kind]({ ...current, ...given });
}

/** JSON with sorted keys: two specs are the same exactly when their texts are. */
export function canonicalText(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalText).join(',')}]`;
  if (isObject(value)) {
    const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalText(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export const sameSpec = (a: unknown, b: unknown): boolean => canonicalText(a) === canonicalText(b);

/** A process as the dispatcher applies it (SPEC §5): durations in milliseconds, unset fields left out. */
export function deliveryPolicyOf(spec: ProcessSpec): DeliveryPolicy {
  return {
    process: spec.name,
    ...(spec.max_attempts !== null ? { max_attempts: spec.max_attempts } : {}),
    ...(spec.backoff ? { backoff: { initial_ms: parseDuration(spec.backoff.initial), max_ms: parseDuration(spec.backoff.max) } } : {}),
    ...(spec.timeout ? { timeout_ms: parseDuration(spec.timeout) } : {}),
    ...(spec.rate_limit ? { rate_limit: { requests: spec.rate_limit.requests, per_ms: parseDuration(spec.rate_limit.per) } } : {}),
    ...(spec.breaker ? { breaker: { failure_threshold: spec.breaker.failure_threshold, cool_down_ms: parseDuration(spec.breaker.cool_down) } } : {}),
    headers: spec.headers,
    vendor: spec.vendor,
  };
}

/** The documented field order of each kind's spec (JSON storage does not keep key order). */
export const SPEC_FIELDS: { readonly [K in ConfigKind]: readonly (keyof ConfigSpecs[K] & string)[] } = {
  process: ['name', 'max_attempts', 'backoff', 'timeout', 'rate_limit', 'breaker', 'headers', 'vendor'],
  theme: ['name', 'product_name', 'logo_url', 'colors'],
  field: ['name', 'type', 'required', 'description'],
  translation: ['locale', 'messages'],
  dataset_schema: ['name', 'fields'],
};

const NESTED_FIELDS: Readonly<Record<string, readonly string[]>> = {
  backoff: ['initial', 'max'],
  rate_limit: ['requests', 'per'],
  breaker: ['failure_threshold', 'cool_down'],
};
const DATASET_FIELD_KEYS = ['name', 'type', 'required'];

function ordered(value: Input, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of keys) if (key in value) out[key] = value[key];
  for (const [key, v] of Object.entries(value)) if (!(key in out)) out[key] = v;
  return out;
}

/** A stored spec's fields (top level and nested) back in their documented order, for the API. */
export function orderedSpec<T extends object>(kind: ConfigKind, spec: T): T {
  const top = ordered(spec as Input, SPEC_FIELDS[kind]);
  for (const [key, nested] of Object.entries(NESTED_FIELDS)) if (isObject(top[key])) top[key] = ordered(top[key] as Input, nested);
  if (kind === 'dataset_schema' && Array.isArray(top.fields)) top.fields = top.fields.map((f) => (isObject(f) ? ordered(f, DATASET_FIELD_KEYS) : f));
  return top as T;
}
