import { activeSecrets, ROTATION_OVERLAP_MS, signingSecretDecider as d, type SigningSecretEvent } from './signing-secret.decider';

const now = new Date('2026-03-01T12:00:00Z');
const given = (events: SigningSecretEvent[]) => events.reduce(d.evolve, d.initialState());

describe('signing secret decider', () => {
  it('creates the first secret once; creating again changes nothing', () => {
    const events = d.decide({ type: 'create', data: { secret: 'a' } }, d.initialState(), now);
    expect(events).toEqual([{ type: 'signing_secret.created', data: { secret: 'a', created_at: now.toISOString() } }]);
    expect(d.decide({ type: 'create', data: { secret: 'b' } }, given(events), now)).toEqual([]);
  });

  it('rotation keeps the previous secret signing for 24 hours, then only the new one signs', () => {
    const state = given([{ type: 'signing_secret.created', data: { secret: 'a', created_at: now.toISOString() } }]);
    const events = d.decide({ type: 'rotate', data: { secret: 'b' } }, state, now);
    expect(events).toEqual([
      {
        type: 'signing_secret.rotated',
        data: { secret: 'b', previous_secret: 'a', previous_expires_at: new Date(now.getTime() + ROTATION_OVERLAP_MS).toISOString(), rotated_at: now.toISOString() },
      },
    ]);
    const rotated = events.reduce(d.evolve, state);
    expect(activeSecrets(rotated, now)).toEqual(['b', 'a']);
    expect(activeSecrets(rotated, new Date(now.getTime() + ROTATION_OVERLAP_MS))).toEqual(['b']);
  });

  it('rotating twice retires the oldest secret at once', () => {
    const state = given([
      { type: 'signing_secret.created', data: { secret: 'a', created_at: now.toISOString() } },
      { type: 'signing_secret.rotated', data: { secret: 'b', previous_secret: 'a', previous_expires_at: '2026-03-02T12:00:00.000Z', rotated_at: now.toISOString() } },
    ]);
    const rotated = d.decide({ type: 'rotate', data: { secret: 'c' } }, state, now).reduce(d.evolve, state);
    expect(activeSecrets(rotated, now)).toEqual(['c', 'b']);
  });

  it('rotating before any secret exists creates the first one', () => {
    expect(d.decide({ type: 'rotate', data: { secret: 'a' } }, d.initialState(), now)[0].type).toBe('signing_secret.created');
  });
});
