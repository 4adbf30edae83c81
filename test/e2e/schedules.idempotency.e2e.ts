import { randomUUID } from 'node:crypto';
import type { Environment } from '@schedstack/contracts';
import { Client } from 'pg';
import { type ApiStack, startApiStack } from '../support/api-stack';

/** SPEC §3 idempotency, Stripe semantics, through the gateway. */
describe('idempotent requests', () => {
  let stack: ApiStack;

  beforeAll(async () => {
    stack = await startApiStack('idempotency');
  });

  afterAll(() => stack?.close());

  const endpoint = () => `https://example.com/hooks/${randomUUID()}`;
  const schedulesTo = async (url: string, environment: Environment = 'test') => {
    const res = await stack.api('/v1/schedules?limit=100', { key: stack.keys[environment] });
    return (res.body.data as { id: string; endpoint: string }[]).filter((s) => s.endpoint === url);
  };
  const post = (path: string, body: unknown, idempotencyKey?: string, environment: Environment = 'test') =>
    stack.api(path, { key: stack.keys[environment], method: 'POST', body, headers: idempotencyKey ? { 'idempotency-key': idempotencyKey } : {} });

  it('replays the original status and body with Idempotent-Replayed when the key and request repeat', async () => {
    const url = endpoint();
    const key = randomUUID();
    const first = await post('/v1/schedules', { endpoint: url, delay: '1h' }, key);
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const again = await post('/v1/schedules', { endpoint: url, delay: '1h' }, key);
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(JSON.stringify(again.body)).toBe(JSON.stringify(first.body));
    expect(again.headers.get('request-id')).not.toBe(first.headers.get('request-id'));
    expect(await schedulesTo(url)).toHaveLength(1);
  });

  it('treats the body field idempotency_key like the header, whatever the key order or spacing of the JSON', async () => {
    const url = endpoint();
    const key = randomUUID();
    const first = await post('/v1/schedules', { endpoint: url, delay: '1h', headers: { a: '1', b: '2' }, idempotency_key: key });
    expect(first.status).toBe(201);
    const reordered = `{ "headers": {"b":"2", "a":"1"},\n "delay": "1h", "endpoint": ${JSON.stringify(url)} }`;
    const again = await post('/v1/schedules', reordered, key);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body.id).toBe(first.body.id);
    expect(await schedulesTo(url)).toHaveLength(1);
  });

  it('answers 409 idempotency_key_reused when the key comes back with a different request, and writes nothing', async () => {
    const url = endpoint();
    const key = randomUUID();
    expect((await post('/v1/schedules', { endpoint: url, delay: '1h' }, key)).status).toBe(201);
    for (const [path, body] of [
      ['/v1/schedules', { endpoint: url, delay: '2h' }],
      ['/v1/schedules', { endpoint: url, delay: '1h', method: 'PUT' }],
      ['/v1/schedules/sch_doesnotexist0000000000/pause', {}],
    ] as const) {
      const reused = await post(path, body, key);
      expect(reused.status).toBe(409);
      expect(reused.body.error).toMatchObject({ type: 'idempotency_error', code: 'idempotency_key_reused', request_id: reused.headers.get('request-id') });
    }
    expect(await schedulesTo(url)).toHaveLength(1);
  });

  it('creates exactly one schedule for 20 concurrent identical requests', async () => {
    const url = endpoint();
    const key = randomUUID();
    const responses = await Promise.all(Array.from({ length: 20 }, () => post('/v1/schedules', { endpoint: url, cron: '0 9 * * *' }, key)));
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(201));
    expect(new Set(responses.map((r) => r.body.id)).size).toBe(1);
    expect(responses.filter((r) => r.headers.get('idempotent-replayed') === 'true')).toHaveLength(19);
    expect(await schedulesTo(url)).toHaveLength(1);
  });

  it('gives a live key and a test key with the same idempotency key independent schedules', async () => {
    const url = endpoint();
    const key = randomUUID();
    const live = await post('/v1/schedules', { endpoint: url, delay: '1h' }, key, 'live');
    const test = await post('/v1/schedules', { endpoint: url, delay: '1h' }, key, 'test');
    expect([live.status, test.status]).toEqual([201, 201]);
    expect(test.headers.get('idempotent-replayed')).toBeNull();
    expect(live.body.id).not.toBe(test.body.id);
    expect([live.body.mode, test.body.mode]).toEqual(['live', 'test']);
    expect(await schedulesTo(url, 'live')).toHaveLength(1);
    expect(await schedulesTo(url, 'test')).toHaveLength(1);
  });

  /** Runs one statement on the stack's database (for what no API shows: the gateway's idempotency records). */
  const onDatabase = async (sql: string, params: unknown[]) => {
    const db = new Client({ connectionString: stack.databaseUrl });
    await db.connect();
    try {
      return await db.query(sql, params);
    } finally {
      await db.end();
    }
  };
  /**
   * The state a 5xx leaves behind (IdempotencyStore.release): the key given back with nothing
   * stored, while the create may have committed — the connection failed around the commit, say.
   */
  const releaseKey = async (key: string) => {
    const { rowCount } = await onDatabase('UPDATE gw_idempotency SET status = NULL, response = NULL, released = true WHERE key = $1', [key]);
    expect(rowCount).toBe(1);
  };

  it('answers a retry after an unknown outcome with the schedule the first attempt committed, not a second one', async () => {
    const url = endpoint();
    const key = randomUUID();
    const first = await post('/v1/schedules', { endpoint: url, cron: '0 9 * * *', timezone: 'Europe/Berlin' }, key);
    expect(first.status).toBe(201);
    await releaseKey(key);
    const retried = await post('/v1/schedules', { endpoint: url, cron: '0 9 * * *', timezone: 'Europe/Berlin' }, key);
    expect(retried.status).toBe(201);
    expect(JSON.stringify(retried.body)).toBe(JSON.stringify(first.body));
    expect(await schedulesTo(url)).toHaveLength(1);
    // Its answer is stored again: a further retry is a plain replay.
    const replayed = await post('/v1/schedules', { endpoint: url, cron: '0 9 * * *', timezone: 'Europe/Berlin' }, key);
    expect(replayed.headers.get('idempotent-replayed')).toBe('true');
    expect(replayed.body.id).toBe(first.body.id);
  });

  it('still creates a new schedule for a different request under a released key, and for the same request without a key', async () => {
    const url = endpoint();
    const key = randomUUID();
    const first = await post('/v1/schedules', { endpoint: url, delay: '1h' }, key);
    await releaseKey(key);
    const other = await post('/v1/schedules', { endpoint: url, delay: '2h' }, key);
    expect([first.status, other.status]).toEqual([201, 201]);
    expect(other.body.id).not.toBe(first.body.id);
    const unkeyed = await Promise.all([post('/v1/schedules', { endpoint: url, delay: '1h' }), post('/v1/schedules', { endpoint: url, delay: '1h' })]);
    expect(unkeyed.map((r) => r.status)).toEqual([201, 201]);
    expect(new Set([first.body.id, ...unkeyed.map((r) => r.body.id)]).size).toBe(3);
    expect(await schedulesTo(url)).toHaveLength(4);
  });

  it('creates a new schedule once the key has expired (24 h), like any new request', async () => {
    const url = endpoint();
    const key = randomUUID();
    const first = await post('/v1/schedules', { endpoint: url, delay: '1h' }, key);
    expect(first.status).toBe(201);
    await onDatabase(`UPDATE gw_idempotency SET created_at = now() - interval '24 hours 1 minute' WHERE key = $1`, [key]);
    const later = await post('/v1/schedules', { endpoint: url, delay: '1h' }, key);
    expect(later.status).toBe(201);
    expect(later.headers.get('idempotent-replayed')).toBeNull();
    expect(later.body.id).not.toBe(first.body.id);
    expect(await schedulesTo(url)).toHaveLength(2);
  });

  it('answers the retry with its schedule even when the first attempt used up the active-schedules quota', async () => {
    const url = endpoint();
    const key = randomUUID();
    const first = await post('/v1/schedules', { endpoint: url, delay: '1h' }, key, 'live');
    expect(first.status).toBe(201);
    const active = await stack.api('/v1/schedules?limit=100', { key: stack.keys.live });
    const quota = (active.body.data as { state: string }[]).filter((s) => s.state === 'active' || s.state === 'paused').length;
    const limit = (active_schedules: number | null) => stack.api('/v1/limits', { key: stack.keys.live, method: 'PATCH', body: { active_schedules } });
    expect((await limit(quota)).status).toBe(200);
    try {
      const fresh = await post('/v1/schedules', { endpoint: url, delay: '1h' }, undefined, 'live');
      expect(fresh.status).toBe(429);
      expect(fresh.body.error.code).toBe('quota_exceeded');
      await releaseKey(key);
      const retried = await post('/v1/schedules', { endpoint: url, delay: '1h' }, key, 'live');
      expect(retried.status).toBe(201);
      expect(retried.body.id).toBe(first.body.id);
    } finally {
      await limit(null);
    }
    expect(await schedulesTo(url, 'live')).toHaveLength(1);
  });

  it('does not keep a request that failed validation, so the corrected retry with the same key runs', async () => {
    const url = endpoint();
    const key = randomUUID();
    const bad = await post('/v1/schedules', { endpoint: url, delay: 'soon' }, key);
    expect(bad.status).toBe(400);
    expect(bad.body.error.param).toBe('delay');
    const unknownField = await post('/v1/schedules', { endpoint: url, delay: '1h', colour: 'red' }, key);
    expect(unknownField.status).toBe(400);
    const fixed = await post('/v1/schedules', { endpoint: url, delay: '1h' }, key);
    expect(fixed.status).toBe(201);
    expect(fixed.headers.get('idempotent-replayed')).toBeNull();
  });

  it('replays pause and resume, and a stored 404, with a fresh request id', async () => {
    const created = await post('/v1/schedules', { endpoint: endpoint(), delay: '1h' });
    const pauseKey = randomUUID();
    const paused = await post(`/v1/schedules/${created.body.id}/pause`, undefined, pauseKey);
    expect(paused.status).toBe(200);
    await post(`/v1/schedules/${created.body.id}/resume`, undefined);
    const replayed = await post(`/v1/schedules/${created.body.id}/pause`, undefined, pauseKey);
    expect(replayed.status).toBe(200);
    expect(replayed.headers.get('idempotent-replayed')).toBe('true');
    expect(replayed.body).toEqual(paused.body);
    // The replay did not pause it again: the schedule is still active after the resume.
    expect((await stack.api(`/v1/schedules/${created.body.id}`, { key: stack.keys.test })).body.state).toBe('active');

    const missingKey = randomUUID();
    const missing = await post('/v1/schedules/sch_doesnotexist0000000000/pause', undefined, missingKey);
    const missingAgain = await post('/v1/schedules/sch_doesnotexist0000000000/pause', undefined, missingKey);
    expect([missing.status, missingAgain.status]).toEqual([404, 404]);
    expect(missingAgain.headers.get('idempotent-replayed')).toBe('true');
    expect(missingAgain.body.error.request_id).toBe(missingAgain.headers.get('request-id'));
    expect({ ...missingAgain.body.error, request_id: null }).toEqual({ ...missing.body.error, request_id: null });
  });

  it('refuses malformed idempotency keys, and a header and body field that disagree', async () => {
    const tooLong = await post('/v1/schedules', { endpoint: endpoint(), delay: '1h' }, 'k'.repeat(256));
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.error).toMatchObject({ code: 'parameter_invalid', param: 'Idempotency-Key' });
    const notString = await post('/v1/schedules', { endpoint: endpoint(), delay: '1h', idempotency_key: 42 });
    expect(notString.status).toBe(400);
    expect(notString.body.error.param).toBe('idempotency_key');
    const disagree = await post('/v1/schedules', { endpoint: endpoint(), delay: '1h', idempotency_key: 'a' }, 'b');
    expect(disagree.status).toBe(400);
    expect(disagree.body.error.param).toBe('idempotency_key');
  });
});
