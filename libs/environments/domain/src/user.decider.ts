import { DomainError, type DomainEvent } from '@schedstack/contracts';

/** A console user: registered once, by e-mail (SPEC §2). */
export type UserCommand = { readonly type: 'register'; readonly data: { userId: string; email: string; passwordHash: string } };
export type UserEvent = DomainEvent<'user.registered'>;
export type UserState = { readonly status: 'none' } | { readonly status: 'registered'; readonly userId: string };

export const initialState = (): UserState => ({ status: 'none' });

export function decide(command: UserCommand, state: UserState, now: Date): UserEvent[] {
  if (state.status !== 'none') throw new DomainError('conflict', 'user_exists', `A user with this e-mail already exists`, 'email');
  return [
    {
      type: 'user.registered',
      data: { user_id: command.data.userId, email: command.data.email, password_hash: command.data.passwordHash, created_at: now.toISOString() },
    },
  ];
}

export function evolve(_state: UserState, event: UserEvent): UserState {
  return { status: 'registered', userId: event.data.user_id };
}

export const userDecider = { initialState, decide, evolve };
