import fc from 'fast-check';
import { canonicalText, deliveryPolicyOf, orderedSpec, specFromInput, specWithPatch } from './config-specs';

const invalidParam = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return (error as { param?: string }).param;
  }
  return null;
};

describe('configuration specs', () => {
  it.each([
    ['process', { name: '' }, 'name'],
    ['process', { name: 'p', max_attempts: 0 }, 'max_attempts'],
    ['process', { name: 'p', timeout: '2h' }, 'timeout'],
    ['process', { name: 'p', backoff: { initial: '1m', max: '1s' } }, 'backoff.initial'],
    ['process', { name: 'p', backoff: { initial: '1s' } }, 'backoff.max'],
    ['process', { name: 'p', rate_limit: { requests: 5, per: 'often' } }, 'rate_limit.per'],
    ['process', { name: 'p', breaker: { failure_threshold: 0, cool_down: '1s' } }, 'breaker.failure_threshold'],
    ['process', { name: 'p', headers: { 'x-a': 'line\nbreak' } }, 'headers.x-a'],
    ['process', { name: 'p', colour: 'red' }, 'colour'],
    ['theme', { name: 't', colors: { primary: 'blue' } }, 'colors.primary'],
    ['theme', { name: 't', logo_url: 'ftp://x/logo.png' }, 'logo_url'],
    ['field', { name: 'f', type: 'uuid' }, 'type'],
    ['field', { name: 'f' }, 'type'],
    ['translation', { locale: 'English' }, 'locale'],
    ['translation', { locale: 'en', messages: { greeting: 5 } }, 'messages.greeting'],
    ['dataset_schema', { name: 'Customers', fields: [{ name: 'a', type: 'string' }] }, 'name'],
    ['dataset_schema', { name: 'c' }, 'fields'],
    ['dataset_schema', { name: 'c', fields: [{ name: 'a', type: 'string' }, { name: 'a', type: 'number' }] }, 'fields[1].name'],
    ['dataset_schema', { name: 'c', fields: [{ name: 'a', type: 'json' }] }, 'fields[0].type'],
  ] as const)('a %s body %j is a 400 naming %s', (kind, input, param) => {
    expect(invalidParam(() => specFromInput(kind, input))).toBe(param);
  });

  it('accepts every duration the time lib parses, within the limits', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3_600 }), (seconds) => {
        expect(specFromInput('process', { name: 'p', timeout: `${seconds}s` }).timeout).toBe(`${seconds}s`);
      }),
    );
  });

  it('gives the same canonical text whatever the key order of the input', () => {
    fc.assert(
      fc.property(fc.shuffledSubarray(['name', 'vendor', 'timeout', 'max_attempts'], { minLength: 4 }), (keys) => {
        const values: Record<string, unknown> = { name: 'p', vendor: true, timeout: '5s', max_attempts: 3 };
        const input = Object.fromEntries(keys.map((k) => [k, values[k]]));
        expect(canonicalText(specFromInput('process', input))).toBe(canonicalText(specFromInput('process', values)));
      }),
    );
  });

  it('keeps the stored fields and replaces the patched ones', () => {
    const current = specFromInput('theme', { name: 't', product_name: 'Acme', colors: { primary: '#000000' } });
    expect(specWithPatch('theme', current, { product_name: null, logo_url: 'https://example.com/l.svg' })).toEqual({
      name: 't',
      product_name: null,
      logo_url: 'https://example.com/l.svg',
      colors: { primary: '#000000' },
    });
  });

  it('turns a process into the dispatcher’s policy in milliseconds', () => {
    const spec = specFromInput('process', {
      name: 'vendor',
      max_attempts: 3,
      backoff: { initial: '1s', max: '1m' },
      timeout: '10s',
      rate_limit: { requests: 5, per: '1s' },
      breaker: { failure_threshold: 4, cool_down: '30s' },
      vendor: true,
    });
    expect(deliveryPolicyOf(spec)).toEqual({
      process: 'vendor',
      max_attempts: 3,
      backoff: { initial_ms: 1_000, max_ms: 60_000 },
      timeout_ms: 10_000,
      rate_limit: { requests: 5, per_ms: 1_000 },
      breaker: { failure_threshold: 4, cool_down_ms: 30_000 },
      headers: {},
      vendor: true,
    });
  });

  it('puts stored fields back in their documented order, nested ones included', () => {
    const stored = { vendor: false, backoff: { max: '1m', initial: '1s' }, name: 'p' };
    expect(JSON.stringify(orderedSpec('process', stored))).toBe('{"name":"p","backoff":{"initial":"1s","max":"1m"},"vendor":false}');
  });
});
