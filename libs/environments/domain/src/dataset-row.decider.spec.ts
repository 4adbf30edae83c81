import { datasetRowDecider, validateMetadata, validateRow } from './dataset-row.decider';

const NOW = new Date('2026-05-01T10:00:00.000Z');
const paramOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return (error as { param?: string }).param;
  }
  return null;
};

describe('dataset rows and metadata', () => {
  const schema = {
    name: 'customers',
    fields: [
      { name: 'email', type: 'string', required: true },
      { name: 'age', type: 'number', required: false },
      { name: 'vip', type: 'boolean', required: false },
      { name: 'since', type: 'date', required: false },
    ],
  } as const;

  it('records a valid row with its schema id', () => {
    const [event] = datasetRowDecider.decide(
      { type: 'create', data: { rowId: 'row_1', schemaId: 'dss_1', schema, input: { email: 'a@b.c', age: 3, since: '2026-01-31' } } },
      datasetRowDecider.initialState(),
      NOW,
    );
    expect(event).toEqual({ type: 'dataset_row.created', data: { row_id: 'row_1', schema_id: 'dss_1', data: { email: 'a@b.c', age: 3, since: '2026-01-31' }, created_at: NOW.toISOString() } });
  });

  it.each([
    [{}, 'email'],
    [{ email: 'a', age: '3' }, 'age'],
    [{ email: 'a', vip: 'yes' }, 'vip'],
    [{ email: 'a', since: '31.01.2026' }, 'since'],
    [{ email: 'a', nickname: 'x' }, 'nickname'],
  ])('refuses row %j naming %s', (input, param) => {
    expect(paramOf(() => validateRow(schema, input))).toBe(param);
  });

  it('treats field names Object.prototype has like any other name', () => {
    const odd = {
      name: 'odd',
      fields: [
        { name: 'toString', type: 'string', required: false },
        { name: 'constructor', type: 'string', required: true },
        { name: '__proto__', type: 'number', required: false },
      ],
    } as const;
    // An omitted optional field is not "found" on the prototype, and a missing required one is reported.
    expect(validateRow(odd, JSON.parse('{"constructor":"c"}'))).toEqual({ constructor: 'c' });
    expect(paramOf(() => validateRow(odd, {}))).toBe('constructor');
    // A '__proto__' value is stored as data, not dropped.
    const row = validateRow(odd, JSON.parse('{"constructor":"c","__proto__":7,"toString":"t"}'));
    expect(Object.entries(row)).toEqual([
      ['toString', 't'],
      ['constructor', 'c'],
      ['__proto__', 7],
    ]);
    expect(JSON.parse(JSON.stringify(row))).toEqual(JSON.parse('{"constructor":"c","__proto__":7,"toString":"t"}'));
  });

  it('accepts any metadata when no fields are defined, and checks it against definitions otherwise', () => {
    expect(() => validateMetadata([], { anything: 1 })).not.toThrow();
    const fields = [{ name: 'customer', type: 'string', required: true, description: null }] as const;
    expect(paramOf(() => validateMetadata(fields, {}))).toBe('metadata.customer');
    expect(paramOf(() => validateMetadata(fields, { customer: 'c', other: 1 }))).toBe('metadata.other');
    expect(() => validateMetadata(fields, { customer: 'c' })).not.toThrow();
  });
});
