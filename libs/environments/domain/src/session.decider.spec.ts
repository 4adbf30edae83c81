import { sessionDecider } from './session.decider';

const NOW = new Date('2026-05-01T10:00:00.000Z');

describe('sessions', () => {
  const start = { type: 'start' as const, data: { sessionId: 's1', userId: 'usr_1', tokenHash: 'h', expiresAt: new Date('2026-05-01T22:00:00.000Z') } };

  it('starts a session that ends once; a second logout records nothing', () => {
    const [created] = sessionDecider.decide(start, sessionDecider.initialState(), NOW);
    expect(created).toEqual({ type: 'session.created', data: { session_id: 's1', user_id: 'usr_1', token_hash: 'h', expires_at: '2026-05-01T22:00:00.000Z', created_at: NOW.toISOString() } });
    const active = sessionDecider.evolve(sessionDecider.initialState(), created);
    const [ended] = sessionDecider.decide({ type: 'end', data: { sessionId: 's1' } }, active, NOW);
    expect(ended.type).toBe('session.ended');
    expect(sessionDecider.decide({ type: 'end', data: { sessionId: 's1' } }, sessionDecider.evolve(active, ended), NOW)).toEqual([]);
  });
});
