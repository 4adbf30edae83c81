import type { DomainEvent } from '@schedstack/contracts';

/**
 * STYLE §1: an environment's delivery signing secret (SPEC §4). The secret values are opaque here
 * (the application seals them before they reach a command). Rotating keeps the previous secret
 * signing for ROTATION_OVERLAP_MS; rotating again within that window retires the oldest at once.
 */
export const ROTATION_OVERLAP_MS = 24 * 60 * 60 * 1000;

export type SigningSecretCommand =
  | { readonly type: 'create'; readonly data: { readonly secret: string } }
  | { readonly type: 'rotate'; readonly data: { readonly secret: string } };

export type SigningSecretEvent = DomainEvent<'signing_secret.created' | 'signing_secret.rotated'>;

export type SigningSecretState =
  | { readonly status: 'none' }
  | {
      readonly status: 'active';
      readonly secret: string;
      readonly createdAt: string;
      readonly previous: { readonly secret: string; readonly expiresAt: string } | null;
    };

export const initialState = (): SigningSecretState => ({ status: 'none' });

export function decide(command: SigningSecretCommand, state: SigningSecretState, now: Date): SigningSecretEvent[] {
  switch (command.type) {
    case 'create':
      return state.status === 'none' ? [{ type: 'signing_secret.created', data: { secret: command.data.secret, created_at: now.toISOString() } }] : [];
    case 'rotate':
      // Rotating before any secret exists simply creates the first one.
      if (state.status === 'none') return [{ type: 'signing_secret.created', data: { secret: command.data.secret, created_at: now.toISOString() } }];
      return [
        {
          type: 'signing_secret.rotated',
          data: {
            secret: command.data.secret,
            previous_secret: state.secret,
            previous_expires_at: new Date(now.getTime() + ROTATION_OVERLAP_MS).toISOString(),
            rotated_at: now.toISOString(),
          },
        },
      ];
    default: {
      const unreachable: never = command;
      throw new Error(`unknown command ${JSON.stringify(unreachable)}`);
    }
  }
}

export function evolve(state: SigningSecretState, event: SigningSecretEvent): SigningSecretState {
  switch (event.type) {
    case 'signing_secret.created':
      return { status: 'active', secret: event.data.secret, createdAt: event.data.created_at, previous: null };
    case 'signing_secret.rotated':
      return {
        status: 'active',
        secret: event.data.secret,
        createdAt: event.data.rotated_at,
        previous: { secret: event.data.previous_secret, expiresAt: event.data.previous_expires_at },
      };
    default: {
      const unreachable: never = event;
      throw new Error(`unknown event ${JSON.stringify(unreachable)}`);
    }
  }
}

/** The secrets that sign at `now`: the current one first, then the previous one until it expires. */
export function activeSecrets(state: SigningSecretState, now: Date): string[] {
  if (state.status === 'none') return [];
  const previous = state.previous && Date.parse(state.previous.expiresAt) > now.getTime() ? [state.previous.secret] : [];
  return [state.secret, ...previous];
}

export const signingSecretDecider = { initialState, decide, evolve };
