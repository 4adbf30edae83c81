import { DomainError, type DomainEvent } from '@schedstack/contracts';

/** A console session (SPEC §2): started by a login, ended by a logout or by expiring. */
export type SessionCommand =
  | { readonly type: 'start'; readonly data: { sessionId: string; userId: string; tokenHash: string; expiresAt: Date } }
  | { readonly type: 'end'; readonly data: { sessionId: string } };

export type SessionEvent = DomainEvent<'session.created' | 'session.ended'>;

export type SessionState =
  | { readonly status: 'none' }
  | { readonly status: 'active' | 'ended'; readonly sessionId: string };

export const initialState = (): SessionState => ({ status: 'none' });

/** How long a console session lasts. */
export const SESSION_LIFETIME_MS = 12 * 3_600_000;

export function decide(command: SessionCommand, state: SessionState, now: Date): SessionEvent[] {
  switch (command.type) {
    case 'start':
      if (state.status !== 'none') throw new DomainError('conflict', 'session_exists', 'This session already exists');
      return [
        {
          type: 'session.created',
          data: {
            session_id: command.data.sessionId,
            user_id: command.data.userId,
            token_hash: command.data.tokenHash,
            expires_at: command.data.expiresAt.toISOString(),
            created_at: now.toISOString(),
          },
        },
      ];
    case 'end':
      // Logging out twice is not an error: the session is gone either way.
      if (state.status !== 'active') return [];
      return [{ type: 'session.ended', data: { session_id: state.sessionId, ended_at: now.toISOString() } }];
    default: {
      const unreachable: never = command;
      throw new Error(`unknown command ${JSON.stringify(unreachable)}`);
    }
  }
}

export function evolve(state: SessionState, event: SessionEvent): SessionState {
  switch (event.type) {
    case 'session.created':
      return { status: 'active', sessionId: event.data.session_id };
    case 'session.ended':
      return state.status === 'none' ? state : { ...state, status: 'ended' };
    default: {
      const unreachable: never = event;
      throw new Error(`unknown event ${JSON.stringify(unreachable)}`);
    }
  }
}

export const sessionDecider = { initialState, decide, evolve };
