import { randomUUID } from 'node:crypto';
import {
  type DeliveryPolicy,
  type DeliveryView,
  type Environment,
  type EventDataMap,
  newId,
  type Scope,
  streamName,
} from '@schedstack/contracts';
import { LAUNCH_PAD, type LaunchPad } from '@schedstack/dispatcher-service';
import { EVENT_STORE, type EventStore } from '@schedstack/event-store';
import { loadConfig } from '@schedstack/platform';
import { type LocalApp, startLocalApp } from '@schedstack/runtime';
import { createTestDatabase } from '@schedstack/testing';
import { Pool } from 'pg';
import { eventually } from './eventually';
import { liftRateLimits, type TestStack, withApi } from './local-stack';

export interface PlannedFire {
  readonly endpoint: string;
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string | null;
  /** Default: now. */
  readonly at?: Date;
  readonly policy?: DeliveryPolicy;
  /** Plan into an existing schedule's stream instead of a new one. */
  readonly scheduleId?: string;
}

/** Plans a fire exactly as the schedules service does: one `schedule.fire_planned` in the schedule's stream. */
export async function planFire(store: EventStore, scope: Scope, fire: PlannedFire): Promise<{ deliveryId: string; scheduleId: string }> {
  const scheduleId = fire.scheduleId ?? newId('sch');
  const deliveryId = newId('dlv');
  const data: EventDataMap['schedule.fire_planned'] = {
    schedule_id: scheduleId,
    delivery_id: deliveryId,
    fire_at: (fire.at ?? new Date()).toISOString(),
    fire_kind: 'first',
    request: { endpoint: fire.endpoint, method: fire.method ?? 'POST', headers: fire.headers ?? {}, body: fire.body === undefined ? '{"ok":true}' : fire.body },
    next_fire_at: null,
    ...(fire.policy ? { policy: fire.policy } : {}),
  };
  await store.appendToStream(streamName(scope, 'schedule', scheduleId), [{ id: randomUUID(), type: 'schedule.fire_planned', data }], 'any');
  return { deliveryId, scheduleId };
}

/** Appends a pause or cancel to a schedule's stream, as the schedules service does. */
export async function withdrawSchedule(store: EventStore, scope: Scope, scheduleId: string, how: 'paused' | 'canceled'): Promise<void> {
  const at = new Date().toISOString();
  const event =
    how === 'paused'
      ? { id: randomUUID(), type: 'schedule.paused', data: { schedule_id: scheduleId, paused_at: at } }
      : { id: randomUUID(), type: 'schedule.canceled', data: { schedule_id: scheduleId, canceled_at: at } };
  await store.appendToStream(streamName(scope, 'schedule', scheduleId), [event], 'any');
}

export interface DispatchStack extends TestStack {
  readonly store: EventStore;
  /** Where the engine's fires are timed and sent (docs/dispatcher.md, "The sending threads"). */
  readonly launchPad: LaunchPad;
  /** The stack's database, for the few checks no API shows (leases). */
  readonly pool: Pool;
  scope(environment: Environment): Scope;
  /**
   * Plans a fire with process settings. The processes API is a later issue, so the dispatcher
   * suites plan fires the way the schedules service will once a schedule names a process.
   */
  plan(environment: Environment, fire: PlannedFire): Promise<{ deliveryId: string; scheduleId: string }>;
  /** Polls `GET /v1/deliveries/{id}` until `done` holds. */
  waitForDelivery(environment: Environment, id: string, done: (d: DeliveryView) => boolean, timeoutMs?: number): Promise<DeliveryView>;
  /** Polls `GET /v1/deliveries?schedule=` (one request per poll, kind to the API rate limit) until `count` deliveries satisfy `done`. */
  waitForSchedule(environment: Environment, scheduleId: string, count: number, done: (d: DeliveryView) => boolean, timeoutMs?: number): Promise<DeliveryView[]>;
  /** Stops the app (not the database) and starts a fresh one on the same data: a restart. */
  restart(): Promise<void>;
}

/** The local profile with configuration overrides (environment variables) and access to the event store. */
export async function startDispatchStack(label: string, env: Record<string, string> = {}): Promise<DispatchStack> {
  const db = await createTestDatabase(label);
  const config = { ...loadConfig('local', { ...process.env, PORT: '0', HOST: '127.0.0.1', ...env }), databaseUrl: db.url };
  let local: LocalApp = await startLocalApp(config, db.url, { logger: false });
  const pool = new Pool({ connectionString: db.url, max: 2 });
  const demo = await local.bootstrapDemo();
  // Dispatcher suites poll deliveries with sk_test_ keys: not a rate-limit test (SPEC §5 defaults are 10/s there).
  await liftRateLimits(local.bus, demo.project_id);
  let port = new URL(local.url).port;
  const storeOf = () => local.app.get<typeof EVENT_STORE, EventStore>(EVENT_STORE, { strict: false });
  const keys = demo.keys as Record<Environment, string>;
  const base = withApi(local.url, demo.project_id, keys, async () => {
    await local.close();
    await pool.end();
    await db.drop();
  });
  const stack: DispatchStack = {
    ...base,
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get store() {
      return storeOf();
    },
    get launchPad() {
      return local.app.get<typeof LAUNCH_PAD, LaunchPad>(LAUNCH_PAD, { strict: false });
    },
    pool,
    scope: (environment) => ({ projectId: demo.project_id, environment }),
    plan: (environment, fire) => planFire(storeOf(), { projectId: demo.project_id, environment }, fire),
    api: (path, init) => withApi(`http://127.0.0.1:${port}`, demo.project_id, keys, async () => undefined).api(path, init),
    waitForDelivery: (environment, id, done, timeoutMs = 20_000) =>
      eventually(
        async () => {
          const res = await stack.api(`/v1/deliveries/${id}`, { key: keys[environment] });
          return res.status === 200 && done(res.body) ? (res.body as DeliveryView) : undefined;
        },
        timeoutMs,
        200,
      ),
    waitForSchedule: (environment, scheduleId, count, done, timeoutMs = 20_000) =>
      eventually(
        async () => {
          const res = await stack.api(`/v1/deliveries?schedule=${scheduleId}&limit=100`, { key: keys[environment] });
          const data = (res.body?.data ?? []) as DeliveryView[];
          return res.status === 200 && data.length === count && data.every(done) ? data : undefined;
        },
        timeoutMs,
        200,
      ),
    async restart() {
      await local.close();
      local = await startLocalApp(config, db.url, { logger: false });
      port = new URL(local.url).port;
    },
  };
  return stack;
}
