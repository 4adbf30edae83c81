import { type EventDataMap, parseStreamName, type Scope, streamName, type WebhookEndpointView } from '@schedstack/contracts';
import type { EventStore, RecordedEvent } from '@schedstack/event-store';
import type { Migration, ProjectionDefinition } from '@schedstack/platform';
import type { PoolClient } from 'pg';
import { derivedToken, derivedUuid, subscribes, toWebhookEvent, webhookRequest } from './platform-events';

export const WEBHOOKS_MIGRATIONS: readonly Migration[] = [
  {
    id: '001_webhook_endpoints',
    sql: `CREATE TABLE wh_endpoints (
            project_id text NOT NULL,
            environment text NOT NULL,
            id text NOT NULL,
            view jsonb NOT NULL,
            secret text NOT NULL,
            created_at timestamptz NOT NULL,
            PRIMARY KEY (project_id, environment, id));
          CREATE INDEX wh_endpoints_list ON wh_endpoints (project_id, environment, created_at DESC, id DESC);`,
  },
];

export const WEBHOOKS_PROJECTION = 'webhooks.endpoints-and-fan-out';

/** The platform events that may become webhooks (SPEC §6). */
const SOURCE_TYPES = ['delivery.attempted', 'schedule.completed', 'environment.cloned'];

/**
 * One projection, so endpoints and the events they subscribe to are seen in one order: the
 * endpoints read model (with the sealed secret, which never leaves this service except inside a
 * planned delivery), and the fan-out that plans one `webhook.delivery_planned` per matching
 * enabled endpoint. Planned events have ids derived from the source event, so a redelivered
 * event appends nothing new.
 */
export function createWebhooksProjection(store: EventStore): ProjectionDefinition {
  const projection: ProjectionDefinition = {
    name: WEBHOOKS_PROJECTION,
    types: ['webhook_endpoint.created', 'webhook_endpoint.updated', 'webhook_endpoint.secret_rotated', 'webhook_endpoint.deleted', ...SOURCE_TYPES],
    async apply(client: PoolClient, event: RecordedEvent) {
      const parsed = parseStreamName(event.streamName);
      if (!parsed) return;
      const { scope } = parsed;
      const key = [scope.projectId, scope.environment];
      switch (event.type) {
        case 'webhook_endpoint.created': {
          const data = event.data as EventDataMap['webhook_endpoint.created'];
          const view: WebhookEndpointView = {
            id: data.endpoint_id,
            object: 'webhook_endpoint',
            mode: scope.environment,
            url: data.url,
            description: data.description,
            events: data.events,
            enabled: data.enabled,
            created_at: data.created_at,
          };
          await client.query(
            `INSERT INTO wh_endpoints (project_id, environment, id, view, secret, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
            [...key, data.endpoint_id, view, data.secret, data.created_at],
          );
          return;
        }
        case 'webhook_endpoint.updated': {
          const { endpoint_id, updated_at: _at, ...patch } = event.data as EventDataMap['webhook_endpoint.updated'];
          await client.query(`UPDATE wh_endpoints SET view = view || $4::jsonb WHERE project_id = $1 AND environment = $2 AND id = $3`, [
            ...key,
            endpoint_id,
            JSON.stringify(patch),
          ]);
          return;
        }
        case 'webhook_endpoint.secret_rotated': {
          const data = event.data as EventDataMap['webhook_endpoint.secret_rotated'];
          await client.query(`UPDATE wh_endpoints SET secret = $4 WHERE project_id = $1 AND environment = $2 AND id = $3`, [...key, data.endpoint_id, data.secret]);
          return;
        }
        case 'webhook_endpoint.deleted': {
          const data = event.data as EventDataMap['webhook_endpoint.deleted'];
          await client.query(`DELETE FROM wh_endpoints WHERE project_id = $1 AND environment = $2 AND id = $3`, [...key, data.endpoint_id]);
          return;
        }
        default:
          await fanOut(client, store, scope, event, enabledEndpoints);
      }
    },
    /**
     * A burst of attempts (issue #9): the enabled endpoints of an environment are read once per
     * batch instead of once per event, and read again after any endpoint event of the batch.
     */
    async applyBatch(client: PoolClient, events: readonly RecordedEvent[]) {
      const known = new Map<string, Promise<EndpointRow[]>>();
      const lookup: EndpointLookup = (c, scope) => {
        const key = `${scope.projectId}|${scope.environment}`;
        let rows = known.get(key);
        if (!rows) known.set(key, (rows = enabledEndpoints(c, scope)));
        return rows;
      };
      for (const event of events) {
        const parsed = parseStreamName(event.streamName);
        if (!parsed) continue;
        if (event.type.startsWith('webhook_endpoint.')) {
          known.clear();
          await projection.apply(client, event);
        } else {
          await fanOut(client, store, parsed.scope, event, lookup);
        }
      }
    },
  };
  return projection;
}

interface EndpointRow {
  readonly view: WebhookEndpointView;
  readonly secret: string;
}

type EndpointLookup = (client: PoolClient, scope: Scope) => Promise<EndpointRow[]>;

async function enabledEndpoints(client: PoolClient, scope: Scope): Promise<EndpointRow[]> {
  const { rows } = await client.query<EndpointRow>(
    `SELECT view, secret FROM wh_endpoints WHERE project_id = $1 AND environment = $2 AND (view->>'enabled')::boolean ORDER BY created_at, id`,
    [scope.projectId, scope.environment],
  );
  return rows;
}

async function fanOut(client: PoolClient, store: EventStore, scope: Scope, event: RecordedEvent, endpoints: EndpointLookup): Promise<void> {
  const payload = toWebhookEvent({ id: event.id, type: event.type, data: event.data, createdAt: event.createdAt }, scope.environment);
  if (!payload) return;
  const rows = await endpoints(client, scope);
  for (const { view, secret } of rows) {
    if (!subscribes(view.events, payload.type)) continue;
    const deliveryId = `dlv_${derivedToken(event.id, view.id)}`;
    const data: EventDataMap['webhook.delivery_planned'] = {
      delivery_id: deliveryId,
      endpoint_id: view.id,
      event_id: payload.id,
      event_type: payload.type,
      fire_at: payload.created_at,
      request: webhookRequest(view.url, payload),
      secret,
    };
    // Outside this transaction, but idempotent: a retried apply appends the same event id again.
    await store.appendToStream(streamName(scope, 'webhook_delivery', deliveryId), [{ id: derivedUuid(event.id, view.id), type: 'webhook.delivery_planned', data }], 'any');
  }
}
