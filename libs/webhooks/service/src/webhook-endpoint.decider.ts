import { DomainError, type DomainEvent } from '@schedstack/contracts';

/**
 * STYLE §1: the webhook endpoint aggregate (SPEC §6), pure. Ids, secrets and time come in as
 * arguments; the secret arrives sealed and is never looked at here.
 */
export type WebhookEndpointCommand =
  | {
      readonly type: 'create';
      readonly data: { endpointId: string; url: string; events: string[]; enabled: boolean; description: string | null; secret: string };
    }
  | { readonly type: 'update'; readonly data: { endpointId: string; url?: string; events?: string[]; enabled?: boolean; description?: string | null } }
  | { readonly type: 'rotate_secret'; readonly data: { endpointId: string; secret: string } }
  | { readonly type: 'delete'; readonly data: { endpointId: string } };

export type WebhookEndpointEvent = DomainEvent<'webhook_endpoint.created' | 'webhook_endpoint.updated' | 'webhook_endpoint.secret_rotated' | 'webhook_endpoint.deleted'>;

export type WebhookEndpointState =
  | { readonly status: 'none' | 'deleted' }
  | {
      readonly status: 'active';
      readonly url: string;
      readonly events: readonly string[];
      readonly enabled: boolean;
      readonly description: string | null;
      readonly secret: string;
      readonly createdAt: string;
    };

export const initialState = (): WebhookEndpointState => ({ status: 'none' });

function missing(id: string): DomainError {
  return new DomainError('not_found', 'resource_missing', `No such webhook_endpoint: '${id}'`, 'id');
}

export function decide(command: WebhookEndpointCommand, state: WebhookEndpointState, now: Date): WebhookEndpointEvent[] {
  const at = now.toISOString();
  switch (command.type) {
    case 'create': {
      if (state.status !== 'none') throw new DomainError('conflict', 'resource_exists', `Webhook endpoint ${command.data.endpointId} already exists.`);
      const { endpointId, ...rest } = command.data;
      return [{ type: 'webhook_endpoint.created', data: { endpoint_id: endpointId, ...rest, created_at: at } }];
    }
    case 'update': {
      if (state.status !== 'active') throw missing(command.data.endpointId);
      const { endpointId, ...patch } = command.data;
      return [{ type: 'webhook_endpoint.updated', data: { endpoint_id: endpointId, ...patch, updated_at: at } }];
    }
    case 'rotate_secret':
      if (state.status !== 'active') throw missing(command.data.endpointId);
      return [{ type: 'webhook_endpoint.secret_rotated', data: { endpoint_id: command.data.endpointId, secret: command.data.secret, rotated_at: at } }];
    case 'delete':
      if (state.status !== 'active') throw missing(command.data.endpointId);
      return [{ type: 'webhook_endpoint.deleted', data: { endpoint_id: command.data.endpointId, deleted_at: at } }];
    default: {
      const unreachable: never = command;
      throw new Error(`unknown command ${JSON.stringify(unreachable)}`);
    }
  }
}

export function evolve(state: WebhookEndpointState, event: WebhookEndpointEvent): WebhookEndpointState {
  switch (event.type) {
    case 'webhook_endpoint.created': {
      const { url, events, enabled, description, secret, created_at } = event.data;
      return { status: 'active', url, events, enabled, description, secret, createdAt: created_at };
    }
    case 'webhook_endpoint.updated': {
      if (state.status !== 'active') return state;
      const { url, events, enabled, description } = event.data;
      return {
        ...state,
        url: url ?? state.url,
        events: events ?? state.events,
        enabled: enabled ?? state.enabled,
        description: description === undefined ? state.description : description,
      };
    }
    case 'webhook_endpoint.secret_rotated':
      return state.status === 'active' ? { ...state, secret: event.data.secret } : state;
    case 'webhook_endpoint.deleted':
      return { status: 'deleted' };
    default: {
      const unreachable: never = event;
      throw new Error(`unknown event ${JSON.stringify(unreachable)}`);
    }
  }
}

export const webhookEndpointDecider = { initialState, decide, evolve };
