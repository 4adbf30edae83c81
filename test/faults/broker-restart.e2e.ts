import { subjectForEvent } from '@schedstack/messaging';
import { describeWithNats, type OwnNatsServer, type Receiver, startOwnNatsServer, startReceiver } from '@schedstack/testing';
import { connect } from 'nats';
import { Pool } from 'pg';
import { type DistributedStack, eventually, startDistributedStack } from '../support';
import { sleep, writeFigures } from './figures';
import { CLIENT_TIMEOUT_MS, type Outcome, timedRequest } from './requests';

/** Schedules created per second through the API, for LOAD_MS. */
const RATE = 20;
const LOAD_MS = 15_000;
/** The broker goes down this far into the load, and stays down for DOWN_MS. */
const STOP_AT_MS = 4_000;
const DOWN_MS = 3_000;
/** Longer than nats.js's default reconnect budget (10 attempts, 2 s apart), after which a client gives up for good. */
const LONG_OUTAGE_MS = 30_000;


/**
 * SPEC §1 relay and projections, §8 never losing an accepted schedule, under a broker restart: the
 * distributed profile runs against a NATS server of the suite's own (never the machine's shared
 * one), which is stopped with SIGTERM in the middle of a steady stream of schedule creations and
 * started again on the same port and JetStream store three seconds later.
 */
describeWithNats('fault: NATS restart under steady schedule creation (distributed profile)', () => {
  let nats: OwnNatsServer;
  let stack: DistributedStack;
  let receiver: Receiver;
  let pool: Pool;
  /** The stop-and-start of the broker, awaited before teardown even when a test failed midway. */
  let fault: Promise<unknown> = Promise.resolve();

  beforeAll(async () => {
    nats = await startOwnNatsServer();
    stack = await startDistributedStack('flt_broker', { NATS_URL: nats.url });
    receiver = await startReceiver();
    pool = new Pool({ connectionString: stack.env.DATABASE_URL, max: 4 });
  }, 120_000);

  afterAll(async () => {
    await fault.catch(() => undefined);
    await receiver?.close();
    await pool?.end();
    // The stack first: its teardown deletes its stream on this server.
    await stack?.close();
    await nats?.close();
  }, 60_000);

  const create = async (n: number): Promise<Outcome> => ({
    n,
    ...(await timedRequest(`${stack.url}/v1/schedules`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.keys.test}`, 'content-type': 'application/json' },
      body: JSON.stringify({ endpoint: `${receiver.url}/broker`, body: JSON.stringify({ n }), delay: '4s' }),
    })),
  });

  it('loses no accepted schedule, answers 201 or 503 (never 500, never a hang), relays without duplicates, and projections converge', async () => {
    const started = Date.now();
    const requests: Promise<Outcome>[] = [];
    const restart = (async () => {
      await sleep(STOP_AT_MS);
      const stoppedAt = Date.now();
      await nats.stop();
      await sleep(DOWN_MS);
      await nats.start();
      return { stoppedAt, restartedAt: Date.now() };
    })();
    fault = restart;
    for (let n = 0; n < (RATE * LOAD_MS) / 1_000; n++) {
      requests.push(create(n));
      await sleep(Math.max(0, started + ((n + 1) * 1_000) / RATE - Date.now()));
    }
    const outcomes = await Promise.all(requests);
    const { stoppedAt, restartedAt } = await restart;

    const byStatus = (s: Outcome['status']) => outcomes.filter((o) => o.status === s);
    const accepted = byStatus(201);
    const unavailable = byStatus(503);
    const failed = byStatus(500);
    const other = outcomes.filter((o) => o.status !== 201 && o.status !== 503 && o.status !== 500);
    // Answered within the client's timeout, and with success or a clear "try again" (500: see below).
    expect(other.map((o) => ({ n: o.n, status: o.status, body: o.body }))).toEqual([]);
    for (const o of unavailable) {
      expect(o.body).toEqual({
        error: { type: 'api_error', code: 'service_unavailable', message: expect.any(String), param: null, request_id: expect.stringMatching(/^req_/) },
      });
    }
    expect(accepted.length).toBeGreaterThan(0);

    // Every accepted schedule fires, after the restart included.
    const acceptedIds = new Set(accepted.map((o) => o.body.id as string));
    const received = () => receiver.requests.filter((r) => r.path === '/broker');
    const deliveredIds = () => new Set(received().map((r) => r.headers['sched-schedule-id'] as string));
    const deliveredNs = () => new Set(received().map((r) => (JSON.parse(r.body) as { n: number }).n));
    await eventually(async () => [...acceptedIds].every((id) => deliveredIds().has(id)), 120_000, 250);
    const deliveredAt = Date.now();

    // A create that waited longer than 5 s for its read model (the relay resumes a few seconds after
    // the broker) is a 503 service_unavailable, like the outage itself: never a 500.
    expect(failed).toEqual([]);
    const failedButFired = failed.filter((o) => deliveredNs().has(o.n)).length;

    // The relay resumed without gaps or duplicates: the stream holds each relayable event of the store exactly once.
    const nc = await connect({ servers: nats.url });
    try {
      const jsm = await nc.jetstreamManager();
      const streamName = stack.env.SCHEDSTACK_EVENTS_STREAM as string;
      const storeIds = async () => {
        const { rows } = await pool.query<{ event_id: string; stream_name: string; type: string }>(`SELECT event_id, stream_name, type FROM es_events`);
        return rows.filter((r) => subjectForEvent('x', { streamName: r.stream_name, type: r.type }) !== null).map((r) => r.event_id);
      };
      const relayed = await eventually(async () => {
        const info = await jsm.streams.info(streamName);
        const expected = await storeIds();
        return info.state.messages === expected.length ? { info, expected } : undefined;
      }, 60_000, 500);
      const msgIds: string[] = [];
      for (let seq = relayed.info.state.first_seq; seq <= relayed.info.state.last_seq; seq++) {
        const message = await jsm.streams.getMessage(streamName, { seq });
        msgIds.push(message.header.get('Nats-Msg-Id'));
      }
      expect(msgIds).toHaveLength(relayed.info.state.messages);
      expect(new Set(msgIds).size).toBe(msgIds.length);
      expect(new Set(msgIds)).toEqual(new Set(relayed.expected));

      // Projections converge to the event store: read-model rows against the events they fold.
      const events = async (type: string) => Number((await pool.query<{ n: string }>(`SELECT count(*) AS n FROM es_events WHERE type = $1`, [type])).rows[0].n);
      const rows = async (sql: string) => Number((await pool.query<{ n: string }>(sql)).rows[0].n);
      const converged = await eventually(async () => {
        const figures = {
          schedules_created: await events('schedule.created'),
          schedules_in_read_model: await rows(`SELECT count(*) AS n FROM sch_schedules`),
          fires_planned: await events('schedule.fire_planned'),
          deliveries_in_read_model: await rows(`SELECT count(*) AS n FROM dsp_deliveries`),
          attempts_recorded: await events('delivery.attempted'),
          attempts_in_read_model: await rows(`SELECT coalesce(sum(jsonb_array_length(view->'attempts')), 0) AS n FROM dsp_deliveries`),
        };
        const ok =
          figures.schedules_created === figures.schedules_in_read_model &&
          figures.fires_planned === figures.deliveries_in_read_model &&
          figures.attempts_recorded === figures.attempts_in_read_model;
        return ok ? figures : undefined;
      }, 60_000, 500);
      expect(converged.schedules_created).toBeGreaterThanOrEqual(accepted.length);

      // Through the API too: every accepted schedule is there.
      for (const o of accepted.slice(0, 5).concat(accepted.slice(-5))) {
        const res = await stack.api(`/v1/schedules/${o.body.id}`, { key: stack.keys.test });
        expect(res.status).toBe(200);
      }

      const deliveries = received();
      const deliveredSchedules = deliveredIds();
      writeFigures('broker-restart', {
        requests: outcomes.length,
        rate_per_s: RATE,
        fault: `nats-server SIGTERM at +${stoppedAt - started} ms, started again at +${restartedAt - started} ms (down ${restartedAt - stoppedAt} ms)`,
        created_201: accepted.length,
        unavailable_503: unavailable.length,
        answered_500_projection_wait_known_gap: failed.length,
        of_which_created_and_fired: failedButFired,
        other_statuses: other.length,
        slowest_answer_ms: Math.max(...outcomes.map((o) => o.ms)),
        accepted_delivered: [...acceptedIds].filter((id) => deliveredSchedules.has(id)).length,
        lost: [...acceptedIds].filter((id) => !deliveredSchedules.has(id)).length,
        delivered_without_201: [...deliveredSchedules].filter((id) => !acceptedIds.has(id)).length,
        deliveries_received: deliveries.length,
        duplicate_deliveries: deliveries.length - new Set(deliveries.map((r) => r.headers['sched-delivery-id'])).size,
        stream_messages: relayed.info.state.messages,
        stream_duplicates: msgIds.length - new Set(msgIds).size,
        relayable_events_in_store: relayed.expected.length,
        ...converged,
        restart_to_all_delivered_ms: deliveredAt - restartedAt,
      });
    } finally {
      await nc.close();
    }
  }, 240_000);

  it('recovers by itself from a broker outage longer than the NATS client default reconnect budget', async () => {
    const readyz = async () => {
      const res = await fetch(`${stack.url}/readyz`, { signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS) });
      return { status: res.status, body: (await res.json()) as { status: string } };
    };
    await nats.stop();
    const stoppedAt = Date.now();
    const restart = (async () => {
      await sleep(LONG_OUTAGE_MS);
      await nats.start();
      return Date.now();
    })();
    fault = restart;
    // While the broker is gone: not ready, and a clear 503 for the API — promptly, not a hang.
    expect(await readyz()).toMatchObject({ status: 503, body: { status: 'not_ready' } });
    const during = await create(-1);
    expect(during).toMatchObject({ status: 503, body: { error: { type: 'api_error', code: 'service_unavailable' } } });
    const restartedAt = await restart;

    // No process is restarted: every service reconnects on its own.
    await eventually(async () => (await readyz()).status === 200, 60_000, 500);
    const readyAt = Date.now();
    const after = await eventually(async () => {
      const o = await create(-2);
      return o.status === 201 ? o : undefined;
    }, 60_000, 500);
    await eventually(async () => receiver.requests.some((r) => r.headers['sched-schedule-id'] === after.body.id), 60_000, 250);
    writeFigures('broker-long-outage', {
      fault: `nats-server stopped (SIGTERM) for ${restartedAt - stoppedAt} ms`,
      during_outage: { readyz: 503, create: during.status, create_answer_ms: during.ms },
      restart_to_ready_ms: readyAt - restartedAt,
      restart_to_first_delivery_ms: Date.now() - restartedAt,
    });
  }, 180_000);
});
