import { MAX_BODY_DEPTH, unstorableInput, unstorablePath } from './unstorable-input';

describe('unstorableInput (SPEC §8: bad input is a 400, never a 500 from the store)', () => {
  it('accepts ordinary text, emoji and paired surrogates', () => {
    expect(unstorableInput({ name: 'billing', note: 'Grüße 😀', tags: ['a', { b: 1 }] })).toBeNull();
  });

  it.each([
    ['NUL in a value', { metadata: { a: 'x\u0000' } }, 'metadata.a'],
    ['a lone high surrogate', { endpoint: 'https://example.com/\ud800' }, 'endpoint'],
    ['a lone low surrogate', { name: '\udc00x' }, 'name'],
    // Before the idempotency interceptor sees it: such a key could not be stored as sent.
    ['a lone surrogate in an idempotency key', { idempotency_key: 'lone\ud800surrogate' }, 'idempotency_key'],
    ['NUL in a key', { headers: { 'x\u0000': 'v' } }, 'headers.x\u0000'],
    ['inside an array', { fields: [{ name: 'ok' }, { name: '\u0000' }] }, 'fields[1].name'],
  ])('names the parameter holding %s', (_case, body, param) => {
    expect(unstorableInput(body)).toMatchObject({ status: 400, code: 'parameter_invalid', param });
  });

  it('refuses nesting beyond the limit without exhausting its own stack', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = { a: deep };
    expect(unstorableInput(deep)).toMatchObject({ status: 400, code: 'body_too_deep' });
    let allowed: unknown = 1;
    for (let i = 0; i < MAX_BODY_DEPTH; i++) allowed = { a: allowed };
    expect(unstorableInput(allowed)).toBeNull();
  });

  it('refuses a NUL in the decoded path, and leaves malformed escapes to the router', () => {
    expect(unstorablePath('/v1/processes/%00')).toMatchObject({ status: 400 });
    expect(unstorablePath('/v1/processes/%E0%A4%A')).toBeNull();
    expect(unstorablePath('/v1/processes/prc_1')).toBeNull();
  });
});
