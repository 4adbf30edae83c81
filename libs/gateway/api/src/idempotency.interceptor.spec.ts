import fc from 'fast-check';
import { canonicalJson, idempotencyKeyOf, requestFingerprint } from './idempotency.interceptor';

const request = (body: unknown, originalUrl = '/v1/schedules', method = 'POST') => ({ method, originalUrl, body });

describe('idempotency fingerprint', () => {
  it('ignores key order, at every level, and where the idempotency key was sent', () => {
    const a = requestFingerprint(request({ endpoint: 'https://x.test', headers: { a: '1', b: '2' }, idempotency_key: 'k' }));
    const b = requestFingerprint(request({ headers: { b: '2', a: '1' }, endpoint: 'https://x.test' }));
    expect(a).toBe(b);
  });

  it('tells apart another value, another path and another method', () => {
    const base = requestFingerprint(request({ delay: '1h' }));
    expect(requestFingerprint(request({ delay: '2h' }))).not.toBe(base);
    expect(requestFingerprint(request({ delay: '1h' }, '/v1/schedules/sch_1/pause'))).not.toBe(base);
    expect(requestFingerprint(request({ delay: '1h' }, '/v1/schedules', 'PUT'))).not.toBe(base);
    expect(requestFingerprint(request({ delay: '1h', extra: null }))).not.toBe(base);
  });

  it('gives every JSON value one canonical text that parses back to the same value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(JSON.parse(canonicalJson(value))).toEqual(JSON.parse(JSON.stringify(value)));
      }),
    );
  });
});

describe('idempotency key', () => {
  it('comes from the header or the body field', () => {
    expect(idempotencyKeyOf({ headers: { 'idempotency-key': 'h' }, body: {} })).toBe('h');
    expect(idempotencyKeyOf({ headers: {}, body: { idempotency_key: 'b' } })).toBe('b');
    expect(idempotencyKeyOf({ headers: {}, body: undefined })).toBeNull();
  });

  it.each([
    [{ 'idempotency-key': '' }, {}, 'Idempotency-Key'],
    [{ 'idempotency-key': 'x'.repeat(256) }, {}, 'Idempotency-Key'],
    [{}, { idempotency_key: 7 }, 'idempotency_key'],
    [{}, { idempotency_key: 'tab\there' }, 'idempotency_key'],
    [{ 'idempotency-key': 'a' }, { idempotency_key: 'b' }, 'idempotency_key'],
  ])('refuses %j with body %j, naming %s', (headers, body, param) => {
    expect(() => idempotencyKeyOf({ headers, body })).toThrow(expect.objectContaining({ body: expect.objectContaining({ status: 400, param }) }));
  });
});
