import { createTestDatabase, type TestDatabase } from '@schedstack/testing';
import type { Pool } from 'pg';
import { createPool } from './database';
import { asStoredInJsonb } from './scoped-read-model';

/** What a writer may answer with instead of reading its row back must be what the read would give. */
describe('asStoredInJsonb', () => {
  let db: TestDatabase;
  let pool: Pool;

  beforeAll(async () => {
    db = await createTestDatabase('jsonb_order');
    pool = createPool(db.url, 2);
  });

  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  it.each([
    ['keys of different lengths and cases', { zeta: 1, a: 2, B: 3, ab: 4, Ab: 5, aB: 6, '': 7, ' ': 8 }],
    ['keys beyond ASCII, where characters and bytes differ', { é: 1, e: 2, ee: 3, 'ü-x': 4, 'u-xx': 5, 日本: 6, abcde: 7, '😀': 8, abcd: 9 }],
    ['nested objects and arrays', { list: [{ b: 1, a: 2 }, [3, { dd: 1, c: 2 }], null, 'x'], inner: { yy: { b: true, a: false }, x: null } }],
    ['numbers, strings and dropped undefined values', { n: 1.5, big: 2 ** 70 + 0.5, small: 1e-7, neg: -0, s: 'line\nbreak "quoted"', gone: undefined }],
    ['a key that is an object prototype name', JSON.parse('{"__proto__": "x", "constructor": 1, "toString": 2}') as Record<string, unknown>],
  ])('gives %s back as a jsonb column does', async (_name, value) => {
    const { rows } = await pool.query<{ value: unknown }>('SELECT $1::jsonb AS value', [JSON.stringify(value)]);
    expect(JSON.stringify(asStoredInJsonb(value))).toBe(JSON.stringify(rows[0].value));
  });
});
