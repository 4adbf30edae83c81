import { type ApiKeyCommand, apiKeyDecider, type ApiKeyEvent } from './api-key.decider';

const NOW = new Date('2026-05-01T10:00:00.000Z');
const mint: ApiKeyCommand = { type: 'mint', data: { keyId: 'key_1', environment: 'sandbox', name: 'CI', secretHash: 'h', last4: 'abcd' } };
const created: ApiKeyEvent = {
  type: 'api_key.created',
  data: { key_id: 'key_1', name: 'CI', secret_hash: 'h', prefix: 'sk_sandbox_', last4: 'abcd', created_at: NOW.toISOString() },
};

function given(events: readonly ApiKeyEvent[]) {
  const state = events.reduce(apiKeyDecider.evolve, apiKeyDecider.initialState());
  return { when: (command: ApiKeyCommand) => apiKeyDecider.decide(command, state, NOW) };
}

describe('API keys', () => {
  it('mints a key with the prefix of its environment, keeping only the secret’s hash', () => {
    expect(given([]).when(mint)).toEqual([created]);
  });

  it('revokes an active key once; revoking again records nothing', () => {
    const revoked: ApiKeyEvent = { type: 'api_key.revoked', data: { key_id: 'key_1', revoked_at: NOW.toISOString() } };
    expect(given([created]).when({ type: 'revoke', data: { keyId: 'key_1' } })).toEqual([revoked]);
    expect(given([created, revoked]).when({ type: 'revoke', data: { keyId: 'key_1' } })).toEqual([]);
  });

  it('answers 404 when revoking a key this environment never had', () => {
    expect(() => given([]).when({ type: 'revoke', data: { keyId: 'key_x' } })).toThrow(expect.objectContaining({ kind: 'not_found', param: 'id' }));
  });
});
