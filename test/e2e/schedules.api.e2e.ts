import { request as httpRequest } from 'node:http';
import { type Receiver, startReceiver } from '@schedstack/testing';
import { DateTime } from 'luxon';
import { type ApiStack, startApiStack } from '../support/api-stack';
import { eventually } from '../support/eventually';

const VIEW_KEYS = [
  'id', 'object', 'mode', 'endpoint', 'method', 'headers', 'body', 'delay', 'run_at', 'cron', 'timezone',
  'catch_up', 'catch_up_window', 'ends_at', 'max_fires', 'fire_count', 'process', 'metadata', 'state', 'next_fire_at', 'created_at',
];

/** A raw HTTP request, for headers fetch will not send (Host). */
function rawRequest(url: string, path: string, headers: Record<string, string>): Promise<{ status: number; body: { error?: Record<string, unknown> } }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}${path}`, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The error body with what legitimately differs per request (its id, and the id it names) blanked out. */
const comparable = (body: { error: { request_id: string; message: string } }, id: string) =>
  JSON.stringify({ ...body, error: { ...body.error, request_id: 'req', message: body.error.message.replace(id, 'ID') } });

describe('schedules API (SPEC §3, local profile)', () => {
  let stack: ApiStack;
  let receiver: Receiver;

  beforeAll(async () => {
    stack = await startApiStack('schedules_api');
    receiver = await startReceiver();
  });

  afterAll(async () => {
    await receiver?.close();
    await stack?.close();
  });

  const create = async (body: Record<string, unknown>, key = stack.keys.test) => {
    const res = await stack.api('/v1/schedules', { key, body });
    expect(res.status).toBe(201);
    return res.body;
  };
  const arrivalsAt = (path: string) => receiver.requests.filter((r) => r.path === path);

  describe('creating', () => {
    it('creates a one-off schedule from a delay, with the full view in a stable key order', async () => {
      const schedule = await create({ endpoint: `${receiver.url}/never`, delay: '1h', headers: { 'x-trace': 'abc' }, body: 'hi' });
      expect(Object.keys(schedule)).toEqual(VIEW_KEYS);
      expect(schedule).toMatchObject({
        object: 'schedule',
        mode: 'test',
        method: 'POST',
        headers: { 'x-trace': 'abc' },
        body: 'hi',
        delay: '1h',
        cron: null,
        timezone: null,
        catch_up: null,
        catch_up_window: null,
        ends_at: null,
        max_fires: null,
        fire_count: 1,
        process: null,
        metadata: {},
        state: 'active',
      });
      expect(Date.parse(schedule.next_fire_at) - Date.parse(schedule.created_at)).toBe(3_600_000);
      expect(schedule.run_at).toBe(schedule.next_fire_at);
    });

    it('creates a one-off schedule at an RFC 3339 run_at with an offset', async () => {
      const runAt = DateTime.utc().plus({ days: 2 }).startOf('second').setZone('UTC+2');
      const schedule = await create({ endpoint: `${receiver.url}/never`, method: 'PUT', run_at: runAt.toISO({ suppressMilliseconds: true }) });
      expect(schedule).toMatchObject({ method: 'PUT', delay: null, run_at: runAt.toUTC().toISO(), next_fire_at: runAt.toUTC().toISO() });
    });

    it('creates a cron schedule in its time zone with its recurrence settings, process and metadata', async () => {
      // A schedule names a process that exists in its environment.
      expect((await stack.api('/v1/processes', { key: stack.keys.test, body: { name: 'billing' } })).status).toBe(201);
      const endsAt = DateTime.utc().plus({ years: 1 }).startOf('second').toISO();
      const schedule = await create({
        endpoint: `${receiver.url}/never`,
        cron: '0 9 * * 1-5',
        timezone: 'Europe/Berlin',
        ends_at: endsAt,
        max_fires: 10,
        catch_up: 'all',
        catch_up_window: '30m',
        process: 'billing',
        metadata: { order_id: 'ord_123', priority: 2, vip: true },
      });
      expect(schedule).toMatchObject({
        cron: '0 9 * * 1-5',
        timezone: 'Europe/Berlin',
        ends_at: endsAt,
        max_fires: 10,
        catch_up: 'all',
        catch_up_window: '30m',
        process: 'billing',
        metadata: { order_id: 'ord_123', priority: 2, vip: true },
        fire_count: 1,
      });
      const nextLocal = DateTime.fromISO(schedule.next_fire_at, { zone: 'Europe/Berlin' });
      expect([nextLocal.hour, nextLocal.minute, nextLocal.weekday <= 5]).toEqual([9, 0, true]);
    });

    it('defaults a cron schedule to UTC, coalescing catch-up within 1h', async () => {
      const schedule = await create({ endpoint: `${receiver.url}/never`, cron: '0 0 1 1 *' });
      expect(schedule).toMatchObject({ timezone: 'UTC', catch_up: 'coalesce', catch_up_window: '1h' });
    });

    it('accepts a run_at up to 5 minutes in the past and fires it at once, then completes', async () => {
      const schedule = await create({ endpoint: `${receiver.url}/past`, run_at: new Date(Date.now() - 60_000).toISOString() });
      await eventually(async () => arrivalsAt('/past').length === 1);
      const done = await eventually(async () => {
        const res = await stack.api(`/v1/schedules/${schedule.id}`, { key: stack.keys.test });
        return res.body.state === 'completed' ? res.body : undefined;
      });
      expect(done).toMatchObject({ next_fire_at: null, fire_count: 1 });
    });
  });

  describe('listing', () => {
    it('pages newest first with limit and starting_after, and filters by state', async () => {
      // A fresh project: a list nobody else writes to.
      const { keys } = await stack.otherProject();
      const created = [];
      for (let i = 0; i < 5; i++) created.push(await create({ endpoint: `${receiver.url}/never`, delay: `${i + 1}h` }, keys.sandbox));
      const newestFirst = created.map((s) => s.id).reverse();

      const page1 = await stack.api('/v1/schedules?limit=2', { key: keys.sandbox });
      expect(page1.status).toBe(200);
      expect(page1.body).toMatchObject({ object: 'list', has_more: true });
      expect(page1.body.data.map((s: { id: string }) => s.id)).toEqual(newestFirst.slice(0, 2));
      const page2 = await stack.api(`/v1/schedules?limit=2&starting_after=${newestFirst[1]}`, { key: keys.sandbox });
      expect(page2.body.data.map((s: { id: string }) => s.id)).toEqual(newestFirst.slice(2, 4));
      const page3 = await stack.api(`/v1/schedules?limit=2&starting_after=${newestFirst[3]}`, { key: keys.sandbox });
      expect(page3.body).toMatchObject({ has_more: false });
      expect(page3.body.data.map((s: { id: string }) => s.id)).toEqual(newestFirst.slice(4));
      const everything = await stack.api('/v1/schedules?limit=100', { key: keys.sandbox });
      expect(everything.body.data).toHaveLength(5);
      expect((await stack.api('/v1/schedules', { key: keys.sandbox })).body.data).toHaveLength(5);

      await stack.api(`/v1/schedules/${created[0].id}/pause`, { key: keys.sandbox, method: 'POST' });
      await stack.api(`/v1/schedules/${created[1].id}`, { key: keys.sandbox, method: 'DELETE' });
      const byState = async (state: string) =>
        (await stack.api(`/v1/schedules?state=${state}`, { key: keys.sandbox })).body.data.map((s: { id: string }) => s.id);
      expect(await byState('paused')).toEqual([created[0].id]);
      expect(await byState('canceled')).toEqual([created[1].id]);
      expect(await byState('active')).toEqual(newestFirst.slice(0, 3));
      expect(await byState('completed')).toEqual([]);
      // Another environment of the same project sees none of them.
      expect((await stack.api('/v1/schedules', { key: keys.live })).body.data).toEqual([]);
    });
  });

  describe('firing, pausing, resuming and canceling', () => {
    it('fires a cron schedule with a seconds field every second', async () => {
      const schedule = await create({ endpoint: `${receiver.url}/every-second`, cron: '*/1 * * * * *' });
      const arrived = await eventually(async () => (arrivalsAt('/every-second').length >= 4 ? arrivalsAt('/every-second') : undefined));
      const deliveryIds = arrived.map((r) => r.headers['sched-delivery-id']);
      expect(new Set(deliveryIds).size).toBe(deliveryIds.length);
      expect(arrived.every((r) => r.headers['sched-schedule-id'] === schedule.id)).toBe(true);
      const fetched = await stack.api(`/v1/schedules/${schedule.id}`, { key: stack.keys.test });
      expect(fetched.body.fire_count).toBeGreaterThanOrEqual(4);
      await stack.api(`/v1/schedules/${schedule.id}`, { key: stack.keys.test, method: 'DELETE' });
    });

    it('does not fire a paused schedule, fires it again once resumed, and stops for good once canceled', async () => {
      const schedule = await create({ endpoint: `${receiver.url}/pausable`, cron: '*/1 * * * * *' });
      await eventually(async () => arrivalsAt('/pausable').length >= 1);

      const paused = await stack.api(`/v1/schedules/${schedule.id}/pause`, { key: stack.keys.test, method: 'POST' });
      expect(paused.status).toBe(200);
      expect(paused.body).toMatchObject({ id: schedule.id, state: 'paused', next_fire_at: null });
      expect(await stack.api(`/v1/schedules/${schedule.id}/upcoming`, { key: stack.keys.test }).then((r) => r.body.data)).toEqual([]);
      // Fires already on their way when the pause landed may still arrive; after a first control
      // fire nothing more may. Two control fires a few seconds apart bracket the silence.
      const control = async (path: string) => {
        await create({ endpoint: `${receiver.url}${path}`, delay: '2s' });
        await eventually(async () => arrivalsAt(path).length === 1);
      };
      await control('/control-1');
      const whilePaused = arrivalsAt('/pausable').length;
      await control('/control-2');
      expect(arrivalsAt('/pausable').length).toBe(whilePaused);
      // A second pause changes nothing.
      expect((await stack.api(`/v1/schedules/${schedule.id}/pause`, { key: stack.keys.test, method: 'POST', body: {} })).body.state).toBe('paused');

      const resumed = await stack.api(`/v1/schedules/${schedule.id}/resume`, { key: stack.keys.test, method: 'POST' });
      expect(resumed.status).toBe(200);
      expect(resumed.body.state).toBe('active');
      expect(Date.parse(resumed.body.next_fire_at)).toBeGreaterThan(Date.parse(paused.body.created_at));
      await eventually(async () => arrivalsAt('/pausable').length >= whilePaused + 2);

      const canceled = await stack.api(`/v1/schedules/${schedule.id}`, { key: stack.keys.test, method: 'DELETE' });
      expect(canceled.status).toBe(200);
      expect(canceled.body).toMatchObject({ state: 'canceled', next_fire_at: null });
      await control('/control-3');
      const afterCancel = arrivalsAt('/pausable').length;
      await control('/control-4');
      expect(arrivalsAt('/pausable').length).toBe(afterCancel);
      // Canceling twice changes nothing; a canceled schedule cannot be resumed or paused.
      expect((await stack.api(`/v1/schedules/${schedule.id}`, { key: stack.keys.test, method: 'DELETE' })).body.state).toBe('canceled');
      const resumeCanceled = await stack.api(`/v1/schedules/${schedule.id}/resume`, { key: stack.keys.test, method: 'POST' });
      expect(resumeCanceled.status).toBe(409);
      expect(resumeCanceled.body.error).toMatchObject({ type: 'invalid_request_error', code: 'schedule_canceled' });
      expect((await stack.api(`/v1/schedules/${schedule.id}/pause`, { key: stack.keys.test, method: 'POST' })).status).toBe(409);
    });

    it('withdraws the pending fire of a paused one-off schedule', async () => {
      const schedule = await create({ endpoint: `${receiver.url}/paused-once`, delay: '2s' });
      await stack.api(`/v1/schedules/${schedule.id}/pause`, { key: stack.keys.test, method: 'POST' });
      const deliveries = await eventually(async () => {
        const res = await stack.api(`/v1/deliveries?schedule=${schedule.id}`, { key: stack.keys.test });
        return res.body.data?.[0]?.state === 'canceled' ? res.body.data : undefined;
      });
      expect(deliveries).toHaveLength(1);
      await create({ endpoint: `${receiver.url}/control-once`, delay: '3s' });
      await eventually(async () => arrivalsAt('/control-once').length === 1);
      expect(arrivalsAt('/paused-once')).toEqual([]);
    });

    it('completes a cron schedule after max_fires, having fired exactly that often', async () => {
      const schedule = await create({ endpoint: `${receiver.url}/twice`, cron: '*/1 * * * * *', max_fires: 2 });
      const done = await eventually(async () => {
        const res = await stack.api(`/v1/schedules/${schedule.id}`, { key: stack.keys.test });
        return res.body.state === 'completed' ? res.body : undefined;
      });
      expect(done).toMatchObject({ fire_count: 2, next_fire_at: null });
      await eventually(async () => arrivalsAt('/twice').length === 2);
      const deliveries = await stack.api(`/v1/deliveries?schedule=${schedule.id}`, { key: stack.keys.test });
      expect(deliveries.body.data).toHaveLength(2);
    });

    it('completes at ends_at', async () => {
      const schedule = await create({ endpoint: `${receiver.url}/until`, cron: '*/1 * * * * *', ends_at: new Date(Date.now() + 2_500).toISOString() });
      const done = await eventually(async () => {
        const res = await stack.api(`/v1/schedules/${schedule.id}`, { key: stack.keys.test });
        return res.body.state === 'completed' ? res.body : undefined;
      });
      expect(done.fire_count).toBeGreaterThanOrEqual(1);
      await eventually(async () => arrivalsAt('/until').length === done.fire_count);
      const deliveries = await stack.api(`/v1/deliveries?schedule=${schedule.id}&limit=100`, { key: stack.keys.test });
      expect(deliveries.body.data).toHaveLength(done.fire_count);
      for (const delivery of deliveries.body.data) expect(Date.parse(delivery.scheduled_for)).toBeLessThanOrEqual(Date.parse(schedule.ends_at));
    });
  });

  describe('upcoming fires', () => {
    /** Last Sunday of a month in a year, as an ISO date. */
    const lastSunday = (year: number, month: number) => {
      const end = DateTime.utc(year, month, 1).endOf('month');
      return end.minus({ days: end.weekday % 7 }).toISODate();
    };

    it('shifts the spring-forward fire to the end of the gap and marks it dst_shifted', async () => {
      // Sundays of March at 02:30 Berlin: the last one is the changeover, when 02:30 does not exist.
      const schedule = await create({ endpoint: `${receiver.url}/never`, cron: '30 2 * 3 0', timezone: 'Europe/Berlin' });
      const res = await stack.api(`/v1/schedules/${schedule.id}/upcoming?count=9`, { key: stack.keys.test });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ object: 'list', has_more: true });
      expect(res.body.data).toHaveLength(9);
      expect(res.body.data[0].fire_at).toBe(schedule.next_fire_at);
      for (const fire of res.body.data) {
        const local = DateTime.fromISO(fire.fire_at, { zone: 'Europe/Berlin' });
        if (local.toISODate() === lastSunday(local.year, 3)) {
          expect(fire).toEqual({ fire_at: `${local.toISODate()}T01:00:00.000Z`, fire_kind: 'dst_shifted' });
        } else {
          expect([fire.fire_kind, local.hour, local.minute, local.weekday]).toEqual(['first', 2, 30, 7]);
        }
      }
      expect(res.body.data.filter((f: { fire_kind: string }) => f.fire_kind === 'dst_shifted').length).toBeGreaterThanOrEqual(1);
    });

    it('fires a repeated fall-back time once, at its first occurrence', async () => {
      const schedule = await create({ endpoint: `${receiver.url}/never`, cron: '30 2 * 10 0', timezone: 'Europe/Berlin' });
      const res = await stack.api(`/v1/schedules/${schedule.id}/upcoming?count=10`, { key: stack.keys.test });
      const instants = res.body.data.map((f: { fire_at: string }) => f.fire_at);
      expect(new Set(instants).size).toBe(10);
      const changeover = res.body.data.find((f: { fire_at: string }) => {
        const local = DateTime.fromISO(f.fire_at, { zone: 'Europe/Berlin' });
        return local.toISODate() === lastSunday(local.year, 10);
      });
      // 02:30 CEST (UTC+2), not 02:30 CET an hour later.
      expect(changeover.fire_at).toMatch(/T00:30:00\.000Z$/);
      expect(changeover.fire_kind).toBe('first');
    });

    it('lists 10 fires by default, at most 100, and respects max_fires', async () => {
      const daily = await create({ endpoint: `${receiver.url}/never`, cron: '0 12 * * *' });
      expect((await stack.api(`/v1/schedules/${daily.id}/upcoming`, { key: stack.keys.test })).body.data).toHaveLength(10);
      expect((await stack.api(`/v1/schedules/${daily.id}/upcoming?count=100`, { key: stack.keys.test })).body.data).toHaveLength(100);
      const limited = await create({ endpoint: `${receiver.url}/never`, cron: '0 12 * * *', max_fires: 3 });
      const res = await stack.api(`/v1/schedules/${limited.id}/upcoming?count=20`, { key: stack.keys.test });
      expect(res.body).toMatchObject({ has_more: false });
      expect(res.body.data).toHaveLength(3);
    });
  });

  describe('keys decide the environment; ids of other environments and projects do not exist', () => {
    const operations = (id: string) =>
      [
        [`/v1/schedules/${id}`, 'GET'],
        [`/v1/schedules/${id}/pause`, 'POST'],
        [`/v1/schedules/${id}/resume`, 'POST'],
        [`/v1/schedules/${id}/upcoming`, 'GET'],
        [`/v1/schedules/${id}`, 'DELETE'],
      ] as const;

    it('answers 404 for an id of another environment exactly as for an unknown id, and changes nothing', async () => {
      const live = await create({ endpoint: `${receiver.url}/never`, delay: '1h' }, stack.keys.live);
      const unknownId = 'sch_' + 'x'.repeat(22);
      for (const key of [stack.keys.test, stack.keys.sandbox]) {
        for (const [[path, method], [unknownPath]] of operations(live.id).map((op, i) => [op, operations(unknownId)[i]] as const)) {
          const other = await stack.api(path, { key, method });
          const unknown = await stack.api(unknownPath, { key, method });
          expect([other.status, unknown.status]).toEqual([404, 404]);
          expect(other.body.error).toMatchObject({ type: 'invalid_request_error', code: 'resource_missing', param: 'id' });
          expect(other.body.error.request_id).toBe(other.headers.get('request-id'));
          expect(comparable(other.body, live.id)).toBe(comparable(unknown.body, unknownId));
        }
      }
      const still = await stack.api(`/v1/schedules/${live.id}`, { key: stack.keys.live });
      expect(still.body).toEqual(live);
    });

    it('answers 404 for an id of another project', async () => {
      const { keys } = await stack.otherProject();
      const theirs = await create({ endpoint: `${receiver.url}/never`, delay: '1h' }, keys.test);
      for (const [path, method] of operations(theirs.id)) {
        const res = await stack.api(path, { key: stack.keys.test, method });
        expect(res.status).toBe(404);
        expect(res.body.error.code).toBe('resource_missing');
      }
      expect((await stack.api(`/v1/schedules/${theirs.id}`, { key: keys.test })).body.state).toBe('active');
      const mine = (await stack.api('/v1/schedules?limit=100', { key: stack.keys.test })).body.data.map((s: { id: string }) => s.id);
      expect(mine).not.toContain(theirs.id);
    });

    it('refuses a key of another environment on a sandbox- or test- host with 403 environment_mismatch', async () => {
      for (const [host, key] of [
        ['sandbox-api.example.com', stack.keys.test],
        ['sandbox-api.example.com', stack.keys.live],
        ['test-api.example.com', stack.keys.sandbox],
      ] as const) {
        const res = await rawRequest(stack.url, '/v1/schedules', { host, authorization: `Bearer ${key}` });
        expect(res.status).toBe(403);
        expect(res.body.error).toMatchObject({ type: 'permission_error', code: 'environment_mismatch' });
      }
      const matching = await rawRequest(stack.url, '/v1/schedules', { host: 'sandbox-api.example.com', authorization: `Bearer ${stack.keys.sandbox}` });
      expect(matching.status).toBe(200);
      const plain = await rawRequest(stack.url, '/v1/schedules', { host: 'api.example.com', authorization: `Bearer ${stack.keys.live}` });
      expect(plain.status).toBe(200);
    });

    it('refuses a Sched-Environment header that names another environment than the key', async () => {
      const res = await stack.api('/v1/schedules', { key: stack.keys.test, headers: { 'sched-environment': 'live' } });
      expect(res.status).toBe(403);
      expect(res.body.error).toMatchObject({ type: 'permission_error', code: 'environment_mismatch' });
      expect((await stack.api('/v1/schedules', { key: stack.keys.test, headers: { 'sched-environment': 'test' } })).status).toBe(200);
    });

    it('echoes the mode of the key on every schedule', async () => {
      for (const mode of ['live', 'sandbox', 'test'] as const) {
        expect((await create({ endpoint: `${receiver.url}/never`, delay: '1h' }, stack.keys[mode])).mode).toBe(mode);
      }
    });
  });
});
