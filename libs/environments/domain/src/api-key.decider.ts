import { DomainError, type DomainEvent, type Environment } from '@schedstack/contracts';

/** SPEC §2 API keys: minted per environment, shown once, stored as a hash, revocable. */

export type ApiKeyCommand =
  | {
      readonly type: 'mint';
      readonly data: { keyId: string; environment: Environment; name: string | null; secretHash: string; last4: string };
    }
  | { readonly type: 'revoke'; readonly data: { keyId: string } };

export type ApiKeyEvent = DomainEvent<'api_key.created' | 'api_key.revoked'>;

export type ApiKeyState =
  | { readonly status: 'none' }
  | { readonly status: 'active' | 'revoked'; readonly keyId: string };

export const initialState = (): ApiKeyState => ({ status: 'none' });

/** The visible prefix of a secret decides its environment (SPEC §2). */
export const keyPrefix = (environment: Environment): string => `sk_${environment}_`;

export function decide(command: ApiKeyCommand, state: ApiKeyState, now: Date): ApiKeyEvent[] {
  switch (command.type) {
    case 'mint':
      if (state.status !== 'none') throw new DomainError('conflict', 'api_key_exists', `API key ${command.data.keyId} already exists`);
      return [
        {
          type: 'api_key.created',
          data: {
            key_id: command.data.keyId,
            name: command.data.name,
            secret_hash: command.data.secretHash,
            prefix: keyPrefix(command.data.environment),
            last4: command.data.last4,
            created_at: now.toISOString(),
          },
        },
      ];
    case 'revoke':
      if (state.status === 'none') throw new DomainError('not_found', 'resource_missing', `No such API key: '${command.data.keyId}'`, 'id');
      if (state.status === 'revoked') return [];
      return [{ type: 'api_key.revoked', data: { key_id: state.keyId, revoked_at: now.toISOString() } }];
    default: {
      const unreachable: never = command;
      throw new Error(`unknown command ${JSON.stringify(unreachable)}`);
    }
  }
}

export function evolve(state: ApiKeyState, event: ApiKeyEvent): ApiKeyState {
  switch (event.type) {
    case 'api_key.created':
      return { status: 'active', keyId: event.data.key_id };
    case 'api_key.revoked':
      return state.status === 'none' ? state : { ...state, status: 'revoked' };
    default: {
      const unreachable: never = event;
      throw new Error(`unknown event ${JSON.stringify(unreachable)}`);
    }
  }
}

export const apiKeyDecider = { initialState, decide, evolve };
