import { derivedId, hasPrefix, newId } from './ids';

describe('ids', () => {
  it('newId gives a prefixed, well-formed id that differs every time', () => {
    const [a, b] = [newId('sch'), newId('sch')];
    expect(hasPrefix(a, 'sch')).toBe(true);
    expect(a).toMatch(/^sch_[0-9A-Za-z]{22}$/);
    expect(a).not.toBe(b);
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
