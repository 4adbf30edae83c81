import { randomUUID } from 'node:crypto';
import type { Environment } from '@schedstack/contracts';
import { loadConfig } from '@schedstack/platform';
import { type LocalApp, startLocalApp } from '@schedstack/runtime';
import { describeWithNats, type Receiver, startReceiver } from '@schedstack/testing';
import { startDistributedStack, eventually, liftRateLimits, type TestStack, withApi } from '../support';
import { type OwnPostgres, startOwnPostgres } from './embedded-postgres';
import { sleep, writeFigures } from './figures';
import { type Outcome, timedRequest } from './requests';

/** Schedules created per second through the API, for LOAD_MS. */
const RATE = 10;
const LOAD_MS = 14_000;
/** PostgreSQL goes down this far into the load, and stays down for DOWN_MS. */
const STOP_AT_MS = 3_000;
const DOWN_MS = 4_000;
/** A bound on the load, should PostgreSQL never come back. */
const MAX_CREATES = RATE * 60;


const UNAVAILABLE = {
  error: { type: 'api_error', code: 'service_unavailable', message: expect.any(String), param: null, request_id: expect.stringMatching(/^req_/) },
};

/** The stop-and-start of PostgreSQL under way, awaited before teardown even when a test failed midway. */
let fault: Promise<unknown> = Promise.resolve();

interface Target {
  readonly profile: 'local' | 'distributed';
  readonly pg: OwnPostgres;
  readonly stack: TestStack;
  readonly receiver: Receiver;
}

/**
 * The scenario both profiles run: steady creates, PostgreSQL stopped for DOWN_MS in the middle,
 * probes of /readyz and a read while it is gone, then everything accepted must fire.
 */
function storeRestartScenario(target: () => Target): () => Promise<void> {
  const url = () => target().stack.url;
  const pg = { stop: () => target().pg.stop(), start: () => target().pg.start() };
  const timed = (path: string, init: RequestInit = {}) => timedRequest(`${url()}${path}`, init);
  // Each create carries an idempotency key, as a careful client's does: a 503 is retried with it.
  const run = randomUUID();
  const create = async (n: number): Promise<Outcome> => ({
    n,
    ...(await timed('/v1/schedules', {
      method: 'POST',
      headers: { authorization: `Bearer ${target().stack.keys.test}`, 'content-type': 'application/json', 'idempotency-key': `${run}-${n}` },
      body: JSON.stringify({ endpoint: `${target().receiver.url}/store`, body: JSON.stringify({ n }), delay: '3s' }),
    })),
  });

  return async () => {
    const started = Date.now();
    const requests: Promise<Outcome>[] = [];
    const during: { readyz: Omit<Outcome, 'n'>; list: Omit<Outcome, 'n'> }[] = [];
    let startedAgainAt: number | null = null;
    const restart = (async () => {
      await sleep(STOP_AT_MS);
      const stoppedAt = Date.now();
      await pg.stop();
      // A create sent while the shutdown was still under way may commit (and rightly answer 201).
      const downAt = Date.now();
      // While it is gone: readiness and a read say so, promptly. The window counts from the end of the
      // shutdown, which under load can itself take seconds, and always holds at least one probe.
      do {
        during.push({
          readyz: await timed('/readyz'),
          list: await timed('/v1/schedules?limit=1', { headers: { authorization: `Bearer ${target().stack.keys.test}` } }),
        });
        await sleep(500);
      } while (Date.now() - downAt < DOWN_MS - 1_000);
      await sleep(Math.max(0, DOWN_MS - (Date.now() - downAt)));
      await pg.start();
      const restartedAt = Date.now();
      startedAgainAt = restartedAt;
      // No process restart: the app finds its database again by itself.
      const readyAt = await eventually(async () => ((await timed('/readyz')).status === 200 ? Date.now() : undefined), 60_000, 100);
      return { stoppedAt, downAt, restartedAt, readyAt };
    })();
    fault = restart;
    // The load runs LOAD_MS, and on past the restart by a second or more however long the shutdown took.
    const createsAfterRestart = () => startedAgainAt !== null && Date.now() - startedAgainAt > 1_000;
    for (let n = 0; n < MAX_CREATES && (n < (RATE * LOAD_MS) / 1_000 || !createsAfterRestart()); n++) {
      requests.push(create(n));
      await sleep(Math.max(0, started + ((n + 1) * 1_000) / RATE - Date.now()));
    }
    const outcomes = await Promise.all(requests);
    const { stoppedAt, downAt, restartedAt, readyAt } = await restart;

    // While the database was gone: not ready (naming the database), and a clear 503 for the API.
    expect(during.length).toBeGreaterThan(0);
    for (const { readyz, list } of during) {
      expect(readyz.status).toBe(503);
      expect(readyz.body).toMatchObject({ status: 'not_ready' });
      expect(Object.values(readyz.body.services as Record<string, { database?: boolean }>).some((s) => s.database === false)).toBe(true);
      expect(list).toMatchObject({ status: 503, body: UNAVAILABLE });
    }

    // Every create was answered within the client's timeout: created, or a clear "try again".
    const accepted = outcomes.filter((o) => o.status === 201);
    const unavailable = outcomes.filter((o) => o.status === 503);
    expect(outcomes.filter((o) => o.status !== 201 && o.status !== 503).map((o) => ({ n: o.n, status: o.status, body: o.body }))).toEqual([]);
    for (const o of unavailable) expect(o.body).toEqual(UNAVAILABLE);
    // The fault was felt, and the API came back by itself: creates after the restart succeed.
    const duringOutage = outcomes.filter((o) => o.sentAt >= downAt && o.sentAt + o.ms <= restartedAt);
    expect(duringOutage.length).toBeGreaterThan(0);
    expect(duringOutage.every((o) => o.status === 503)).toBe(true);
    const afterRestart = outcomes.filter((o) => o.sentAt > restartedAt);
    expect(afterRestart.length).toBeGreaterThan(0);
    const recovered = await eventually(async () => {
      const o = await create(-1);
      return o.status === 201 ? o : undefined;
    }, 60_000, 250);
    accepted.push(recovered);

    // The client retries each 503 with its key until it gets a 201 (a key whose request was cut off
    // mid-flight stays claimed for a minute: 409 idempotency_request_in_progress until then). A
    // create that had committed before its 503 is found, not made twice.
    const retriesFrom = Date.now();
    const retried = await Promise.all(
      unavailable.map((o) =>
        eventually(async () => {
          const again = await create(o.n);
          return again.status === 201 ? again : undefined;
        }, 150_000, 1_000),
      ),
    );
    accepted.push(...retried);

    // Nothing accepted is lost: every schedule that got a 201, before or after the outage, fires.
    const acceptedIds = new Set(accepted.map((o) => o.body.id as string));
    const received = () => target().receiver.requests.filter((r) => r.path === '/store');
    const deliveredIds = () => new Set(received().map((r) => r.headers['sched-schedule-id'] as string));
    await eventually(async () => [...acceptedIds].every((id) => deliveredIds().has(id)), 90_000, 250);
    const allDeliveredAt = Date.now();
    // Every request made exactly one schedule, whether it was answered 201 at once or after its 503 was retried.
    expect(acceptedIds.size).toBe(outcomes.length + 1);
    const schedulesPerRequest = new Map<string, Set<string>>();
    for (const r of received()) {
      const ids = schedulesPerRequest.get(r.body) ?? new Set<string>();
      schedulesPerRequest.set(r.body, ids.add(r.headers['sched-schedule-id'] as string));
    }
    expect([...schedulesPerRequest].filter(([, ids]) => ids.size > 1)).toEqual([]);
    expect([...deliveredIds()].filter((id) => !acceptedIds.has(id))).toEqual([]);
    // What the API shows for them agrees (read models caught up after the outage).
    for (const o of [accepted[0], accepted[accepted.length - 1]]) {
      const res = await target().stack.api(`/v1/schedules/${o.body.id}`, { key: target().stack.keys.test });
      expect(res.status).toBe(200);
    }

    const deliveries = received();
    const firstOkAfterRestart = afterRestart.filter((o) => o.status === 201).sort((a, b) => a.sentAt - b.sentAt)[0];
    writeFigures(`store-restart-${target().profile}`, {
      profile: target().profile,
      requests: outcomes.length + 1,
      rate_per_s: RATE,
      fault: `PostgreSQL stopped (fast shutdown) at +${stoppedAt - started} ms (shutdown took ${downAt - stoppedAt} ms), started again at +${restartedAt - started} ms (down ${restartedAt - stoppedAt} ms); no process restarted`,
      created_201: accepted.length - retried.length,
      unavailable_503: unavailable.length,
      retried_503_to_201: retried.length,
      // Creates that had committed before their 503: their retry found them (created before any retry was sent).
      retried_503_found_committed: retried.filter((o) => Date.parse(o.body.created_at as string) < retriesFrom).length,
      other_statuses: 0,
      slowest_answer_ms: Math.max(...outcomes.map((o) => o.ms)),
      probes_during_outage: during.length,
      readyz_during_outage: [...new Set(during.map((d) => d.readyz.status))],
      restart_to_first_201_ms: firstOkAfterRestart ? firstOkAfterRestart.sentAt + firstOkAfterRestart.ms - restartedAt : null,
      restart_to_ready_ms: readyAt - restartedAt,
      accepted_delivered: [...acceptedIds].filter((id) => deliveredIds().has(id)).length,
      lost: [...acceptedIds].filter((id) => !deliveredIds().has(id)).length,
      delivered_without_201: [...deliveredIds()].filter((id) => !acceptedIds.has(id)).length,
      deliveries_received: deliveries.length,
      duplicate_deliveries: deliveries.length - new Set(deliveries.map((r) => r.headers['sched-delivery-id'])).size,
      restart_to_all_delivered_ms: allDeliveredAt - restartedAt,
    });
  };
}

/**
 * SPEC §1 event store, §8 errors and never losing an accepted schedule, under a database restart: the app
 * runs on an embedded PostgreSQL of the suite's own (never the machine's shared server), which is
 * stopped in the middle of a steady stream of schedule creations and started again on the same port
 * and data four seconds later. No process is restarted.
 */
describe('fault: PostgreSQL restart under steady schedule creation (local profile)', () => {
  let target: Target;
  let local: LocalApp;

  beforeAll(async () => {
    const pg = await startOwnPostgres();
    try {
      // Through the socket, as `npm start` reaches its PostgreSQL: while the server is down its socket file is gone.
      const config = { ...loadConfig('local', { ...process.env, PORT: '0', HOST: '127.0.0.1' }), databaseUrl: pg.socketUrl };
      local = await startLocalApp(config, pg.socketUrl, { logger: process.env.E2E_LOG ? ['error', 'warn'] : false });
      const demo = await local.bootstrapDemo();
      await liftRateLimits(local.bus, demo.project_id);
      const stack = withApi(local.url, demo.project_id, demo.keys as Record<Environment, string>, async () => local.close());
      target = { profile: 'local', pg, stack, receiver: await startReceiver() };
    } catch (error) {
      await local?.close();
      await pg.close();
      throw error;
    }
  }, 120_000);

  afterAll(async () => {
    await fault.catch(() => undefined);
    await target?.receiver.close();
    await target?.stack.close();
    await target?.pg.close();
  }, 60_000);

  it(
    'answers 503 and not ready while PostgreSQL is gone, recovers by itself, and delivers every accepted schedule',
    storeRestartScenario(() => target),
    240_000,
  );
});

describeWithNats('fault: PostgreSQL restart under steady schedule creation (distributed profile)', () => {
  let target: Target;

  beforeAll(async () => {
    const pg = await startOwnPostgres();
    try {
      // Every app on the suite's own server (the harness's empty database on the shared one goes unused).
      const stack = await startDistributedStack('flt_store', { DATABASE_URL: pg.url });
      target = { profile: 'distributed', pg, stack, receiver: await startReceiver() };
    } catch (error) {
      await pg.close();
      throw error;
    }
  }, 120_000);

  afterAll(async () => {
    await fault.catch(() => undefined);
    await target?.receiver.close();
    await target?.stack.close();
    await target?.pg.close();
  }, 60_000);

  it(
    'answers 503 and not ready while PostgreSQL is gone, recovers by itself, and delivers every accepted schedule',
    storeRestartScenario(() => target),
    240_000,
  );
});
