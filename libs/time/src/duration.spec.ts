import fc from 'fast-check';
import { DurationSyntaxError, formatDuration, parseDuration } from './duration';

describe('durations', () => {
  it.each([
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['2d', 172_800_000],
    ['250ms', 250],
    ['1d2h3m4s5ms', 93_784_005],
  ])('parses %s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '30', 's', '1.5h', '-5s', '5m1h', '1h1h', '30 s', '5 m', '1w', 'abc', '9'.repeat(40) + 's'])(
    'rejects %j with a message',
    (text) => {
      expect(() => parseDuration(text)).toThrow(DurationSyntaxError);
    },
  );

  it('round-trips every formatted duration', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 365 * 86_400_000 }), (ms) => {
        expect(parseDuration(formatDuration(ms))).toBe(ms);
      }),
    );
  });
});
