import { derivedId, hasPrefix, newId, randomToken } from './ids';

describe('ids', () => {
  it('newId gives a prefixed, well-formed id that differs every time', () => {
    const [a, b] = [newId('sch'), newId('sch')];
    expect(hasPrefix(a, 'sch')).toBe(true);
    expect(a).toMatch(/^sch_[0-9A-Za-z]{22}$/);
    expect(a).not.toBe(b);
  });

  it('never hands out the same random bytes twice, across many refills of its entropy, and uses the whole alphabet evenly', () => {
    const ids = Array.from({ length: 20_000 }, () => newId('req'));
    expect(new Set(ids).size).toBe(ids.length);
    // A secret of another length drawn in between does not repeat an id's bytes either.
    const secrets = Array.from({ length: 1_000 }, () => randomToken(32));
    expect(new Set(secrets.map((s) => s.slice(0, 22))).size).toBe(secrets.length);
    expect(ids.some((id) => secrets.some((s) => s.startsWith(id.slice(4))))).toBe(false);
    const counts = new Map<string, number>();
    for (const id of ids) for (const c of id.slice(4)) counts.set(c, (counts.get(c) ?? 0) + 1);
    // 440,000 characters: ~7,097 each, a standard deviation of ~84; a 20% band never fails by chance.
    expect(counts.size).toBe(62);
    for (const count of counts.values()) expect(Math.abs(count - 440_000 / 62)).toBeLessThan(440_000 / 62 / 5);
  });

  it('derivedId gives the same well-formed id for the same parts, and another for any other parts', () => {
    const id = derivedId('sch', 'prj_1', 'live', 'token');
    expect(id).toMatch(/^sch_[0-9A-Za-z]{22}$/);
    expect(hasPrefix(id, 'sch')).toBe(true);
    expect(derivedId('sch', 'prj_1', 'live', 'token')).toBe(id);
    const others = [
      derivedId('sch', 'prj_1', 'test', 'token'),
      derivedId('sch', 'prj_2', 'live', 'token'),
      derivedId('sch', 'prj_1', 'live', 'token2'),
      // Where one part ends and the next begins counts too.
      derivedId('sch', 'prj_1l', 'ive', 'token'),
    ];
    expect(new Set([id, ...others]).size).toBe(5);
    expect(derivedId('dlv', 'prj_1', 'live', 'token')).toBe(`dlv_${id.slice(4)}`);
  });
});
