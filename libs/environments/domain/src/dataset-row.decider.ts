import { type DatasetSchemaSpec, DomainError, type DomainEvent, type FieldSpec, ownValue } from '@schedstack/contracts';

/** SPEC §5 dataset rows: client data, validated against their schema, written once. */

export type RowValue = string | number | boolean | null;

export type DatasetRowCommand = {
  readonly type: 'create';
  readonly data: { readonly rowId: string; readonly schemaId: string; readonly schema: DatasetSchemaSpec; readonly input: unknown };
};
export type DatasetRowEvent = DomainEvent<'dataset_row.created'>;
export type DatasetRowState = { readonly status: 'none' } | { readonly status: 'created' };

export const initialState = (): DatasetRowState => ({ status: 'none' });

const DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;

/** One value against its declared type; `param` names it in the error. */
function typedValue(type: FieldSpec['type'], value: unknown, param: string): RowValue {
  const ok =
    (type === 'string' && typeof value === 'string' && value.length <= 10_000) ||
    (type === 'number' && typeof value === 'number' && Number.isFinite(value)) ||
    (type === 'boolean' && typeof value === 'boolean') ||
    (type === 'date' && typeof value === 'string' && DATE.test(value) && !Number.isNaN(Date.parse(value)));
  if (!ok) {
    const rule = type === 'date' ? 'a date (YYYY-MM-DD) or an RFC 3339 timestamp' : type === 'string' ? 'a string of at most 10000 characters' : `a ${type}`;
    throw new DomainError('invalid', 'parameter_invalid', `${param} must be ${rule}`, param);
  }
  return value as RowValue;
}

function plainObject(input: unknown, param: string): Readonly<Record<string, unknown>> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new DomainError('invalid', 'parameter_invalid', `${param} must be a JSON object`, param);
  }
  return input as Record<string, unknown>;
}

/**
 * Values checked against named, typed, possibly required fields: unknown names, missing required
 * values and wrong types are 400s naming the field (`prefix` + name). Optional fields may be null.
 */
function checkedValues(
  fields: readonly { name: string; type: FieldSpec['type']; required: boolean }[],
  input: Readonly<Record<string, unknown>>,
  prefix: string,
): Record<string, RowValue> {
  const byName = new Map(fields.map((f) => [f.name, f]));
  for (const key of Object.keys(input)) {
    if (!byName.has(key)) throw new DomainError('invalid', 'parameter_unknown', `Received unknown parameter: ${prefix}${key}`, `${prefix}${key}`);
  }
  // Field names are the client's (`toString`, `__proto__` are valid ones): own keys in, own keys out.
  const out: [string, RowValue][] = [];
  for (const field of fields) {
    const param = `${prefix}${field.name}`;
    const value = ownValue(input, field.name);
    if (value === undefined || value === null) {
      if (field.required) throw new DomainError('invalid', 'parameter_missing', `${param} is required`, param);
      if (value === null) out.push([field.name, null]);
      continue;
    }
    out.push([field.name, typedValue(field.type, value, param)]);
  }
  return Object.fromEntries(out);
}

/** A row as posted (the plain object of its fields) against its schema. */
export function validateRow(schema: DatasetSchemaSpec, input: unknown): Record<string, RowValue> {
  return checkedValues(schema.fields, plainObject(input, 'body'), '');
}

/**
 * Schedule `metadata` against the environment's field definitions (SPEC §3/§5). With no
 * definitions, metadata is free-form; with some, only defined keys are accepted.
 */
export function validateMetadata(fields: readonly FieldSpec[], metadata: unknown): void {
  if (fields.length === 0) return;
  checkedValues(fields, plainObject(metadata, 'metadata'), 'metadata.');
}

export function decide(command: DatasetRowCommand, state: DatasetRowState, now: Date): DatasetRowEvent[] {
  if (state.status !== 'none') throw new DomainError('conflict', 'resource_exists', `${command.data.rowId} already exists`, 'id');
  const data = validateRow(command.data.schema, command.data.input);
  return [{ type: 'dataset_row.created', data: { row_id: command.data.rowId, schema_id: command.data.schemaId, data, created_at: now.toISOString() } }];
}

export function evolve(_state: DatasetRowState, _event: DatasetRowEvent): DatasetRowState {
  return { status: 'created' };
}

export const datasetRowDecider = { initialState, decide, evolve };
