import fc from 'fast-check';
import { metadataProblem, outboundHeadersProblem } from './field-rules';

const TOKEN_CHARS = "!#$%&'*+.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-".split('');
const headerName = fc
  .array(fc.constantFrom(...TOKEN_CHARS), { minLength: 1, maxLength: 30 })
  .map((chars) => `x-${chars.join('')}`);
const headerValue = fc.string({ maxLength: 200 }).filter((v) => !/[\r\n\0]/.test(v));

describe('outbound headers (SPEC §8)', () => {
  it('accepts any legal header name with a value free of CR, LF and NUL', () => {
    fc.assert(
      fc.property(headerName, headerValue, (name, value) => {
        expect(outboundHeadersProblem({ [name]: value })).toBeNull();
      }),
    );
  });

  it('refuses any value carrying CR or LF, naming the header', () => {
    fc.assert(
      fc.property(headerName, headerValue, fc.constantFrom('\r', '\n', '\r\n'), headerValue, (name, before, breaker, after) => {
        expect(outboundHeadersProblem({ [name]: `${before}${breaker}${after}` })?.param).toBe(`headers.${name}`);
      }),
    );
  });

  it.each(['Connection', 'keep-alive', 'Transfer-Encoding', 'Upgrade', 'TE', 'Trailer', 'Proxy-Authorization', 'Proxy-Anything', 'Host', 'Content-Length', 'Sched-Attempt', 'webhook-id'])(
    'refuses %s',
    (name) => {
      expect(outboundHeadersProblem({ [name]: 'x' })).toEqual({ param: `headers.${name}`, message: expect.any(String) });
    },
  );
});

describe('schedule metadata', () => {
  it('accepts flat string, number and boolean values', () => {
    expect(metadataProblem({ order: 'ord_1', amount: 12.5, vip: false })).toBeNull();
  });

  it.each([
    [{ a: null }, 'metadata.a'],
    [{ a: { b: 1 } }, 'metadata.a'],
    [{ a: Number.POSITIVE_INFINITY }, 'metadata.a'],
    [[1], 'metadata'],
    ['text', 'metadata'],
  ])('refuses %j, naming %s', (metadata, param) => {
    expect(metadataProblem(metadata)?.param).toBe(param);
  });
});
