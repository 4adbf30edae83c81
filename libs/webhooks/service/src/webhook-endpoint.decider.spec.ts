import { DomainError } from '@schedstack/contracts';
import { decide, evolve, initialState, type WebhookEndpointEvent, type WebhookEndpointState } from './webhook-endpoint.decider';

const now = new Date('2026-05-01T09:00:00Z');
const given = (events: WebhookEndpointEvent[]): WebhookEndpointState => events.reduce(evolve, initialState());
const created: WebhookEndpointEvent = {
  type: 'webhook_endpoint.created',
  data: { endpoint_id: 'we_1', url: 'https://a.example', events: ['*'], enabled: true, description: null, secret: 'plain.whsec_x', created_at: now.toISOString() },
};

describe('webhook endpoint decider', () => {
  it('creates an endpoint once', () => {
    const create = { type: 'create', data: { endpointId: 'we_1', url: 'https://a.example', events: ['*'], enabled: true, description: null, secret: 'plain.whsec_x' } } as const;
    expect(decide({ ...create, data: { ...create.data, events: ['*'] } }, initialState(), now)).toEqual([created]);
    expect(() => decide({ ...create, data: { ...create.data, events: ['*'] } }, given([created]), now)).toThrow(DomainError);
  });

  it('applies a partial update and keeps what was not sent', () => {
    const [event] = decide({ type: 'update', data: { endpointId: 'we_1', enabled: false } }, given([created]), now);
    const state = evolve(given([created]), event);
    expect(state).toMatchObject({ status: 'active', enabled: false, url: 'https://a.example', events: ['*'] });
  });

  it('rotates the secret and refuses every command once deleted', () => {
    const [rotated] = decide({ type: 'rotate_secret', data: { endpointId: 'we_1', secret: 'plain.whsec_y' } }, given([created]), now);
    expect(evolve(given([created]), rotated)).toMatchObject({ secret: 'plain.whsec_y' });
    const deleted = given([created, { type: 'webhook_endpoint.deleted', data: { endpoint_id: 'we_1', deleted_at: now.toISOString() } }]);
    for (const command of [
      { type: 'update', data: { endpointId: 'we_1', enabled: true } },
      { type: 'rotate_secret', data: { endpointId: 'we_1', secret: 's' } },
      { type: 'delete', data: { endpointId: 'we_1' } },
    ] as const) {
      expect(() => decide(command, deleted, now)).toThrow(expect.objectContaining({ kind: 'not_found' }));
    }
  });
});
