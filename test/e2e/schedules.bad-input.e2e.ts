import type { Environment } from '@schedstack/contracts';
import { type ApiStack, startApiStack } from '../support/api-stack';
import { eventually } from '../support/eventually';

/**
 * SPEC §8: malformed requests get a Stripe-style 400 (or 401/403/404/413) naming the offending
 * parameter, with the request id of the Request-Id header — and nothing is written.
 */
interface BadRequest {
  readonly name: string;
  readonly method?: 'GET' | 'POST' | 'DELETE';
  readonly path?: string;
  /** An object is sent as JSON; a string is sent as the raw body. */
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  /** Default: the test key; null sends no Authorization header. */
  readonly key?: string | null;
  readonly status: number;
  readonly type?: string;
  readonly code: string;
  readonly param: string | null;
}

const ENDPOINT = 'https://example.com/hooks/orders';
const valid = { endpoint: ENDPOINT, delay: '30s' };
const cron = { endpoint: ENDPOINT, cron: '0 9 * * *' };
const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString();
const inHours = (h: number) => new Date(Date.now() + h * 3_600_000).toISOString();

/** A POST /v1/schedules that must fail with 400 on `param`. */
const create = (name: string, body: unknown, param: string | null, code = 'parameter_invalid'): BadRequest => ({ name, body, status: 400, code, param });
const unknownField = (name: string, body: object, param: string) => create(name, body, param, 'parameter_unknown');
const withHeaders = (name: string, headers: unknown, param: string) => create(`headers: ${name}`, { ...valid, headers }, param);
const list = (name: string, query: string, param: string, code = 'parameter_invalid'): BadRequest => ({
  name: `list: ${name}`,
  method: 'GET',
  path: `/v1/schedules?${query}`,
  status: 400,
  code,
  param,
});
const upcoming = (name: string, query: string, param: string, code = 'parameter_invalid'): BadRequest => ({
  name: `upcoming: ${name}`,
  method: 'GET',
  path: `/v1/schedules/sch_doesnotexist0000000000/upcoming?${query}`,
  status: 400,
  code,
  param,
});

const BAD_REQUESTS: BadRequest[] = [
  // ── unknown fields: nothing names the environment but the key ──
  unknownField('unknown field', { ...valid, colour: 'red' }, 'colour'),
  unknownField('unknown object field', { ...valid, options: { retry: true } }, 'options'),
  unknownField('client-chosen id', { ...valid, id: 'sch_mine' }, 'id'),
  unknownField('mode', { ...valid, mode: 'live' }, 'mode'),
  unknownField('environment', { ...valid, environment: 'live' }, 'environment'),
  unknownField('object', { ...valid, object: 'schedule' }, 'object'),
  // ── endpoint ──
  create('endpoint missing', { delay: '30s' }, 'endpoint'),
  create('endpoint a number', { ...valid, endpoint: 42 }, 'endpoint'),
  create('endpoint null', { ...valid, endpoint: null }, 'endpoint'),
  create('endpoint empty', { ...valid, endpoint: '' }, 'endpoint'),
  create('endpoint ftp', { ...valid, endpoint: 'ftp://example.com/file' }, 'endpoint'),
  create('endpoint file', { ...valid, endpoint: 'file:///etc/passwd' }, 'endpoint'),
  create('endpoint javascript', { ...valid, endpoint: 'javascript:alert(1)' }, 'endpoint'),
  create('endpoint without scheme', { ...valid, endpoint: 'example.com/hooks' }, 'endpoint'),
  create('endpoint scheme only', { ...valid, endpoint: 'http://' }, 'endpoint'),
  create('endpoint with spaces', { ...valid, endpoint: 'https://exa mple.com/' }, 'endpoint'),
  create('endpoint too long', { ...valid, endpoint: `https://example.com/${'a'.repeat(2048)}` }, 'endpoint'),
  create('endpoint an array', { ...valid, endpoint: [ENDPOINT] }, 'endpoint'),
  // ── method ──
  create('method unknown', { ...valid, method: 'FETCH' }, 'method'),
  create('method lower case', { ...valid, method: 'post' }, 'method'),
  create('method a number', { ...valid, method: 1 }, 'method'),
  create('method CONNECT', { ...valid, method: 'CONNECT' }, 'method'),
  // ── headers ──
  withHeaders('a string', 'content-type: application/json', 'headers'),
  withHeaders('an array', [['content-type', 'application/json']], 'headers'),
  withHeaders('a number', 7, 'headers'),
  withHeaders('number value', { 'x-count': 1 }, 'headers.x-count'),
  withHeaders('null value', { 'x-count': null }, 'headers.x-count'),
  withHeaders('object value', { 'x-count': { n: 1 } }, 'headers.x-count'),
  withHeaders('name with a space', { 'x count': '1' }, 'headers.x count'),
  withHeaders('name with a colon', { 'x:count': '1' }, 'headers.x:count'),
  withHeaders('empty name', { '': '1' }, 'headers.'),
  withHeaders('non-ASCII name', { 'x-größe': '1' }, 'headers.x-größe'),
  withHeaders('Connection', { Connection: 'close' }, 'headers.Connection'),
  withHeaders('Keep-Alive', { 'Keep-Alive': 'timeout=5' }, 'headers.Keep-Alive'),
  withHeaders('Transfer-Encoding', { 'Transfer-Encoding': 'chunked' }, 'headers.Transfer-Encoding'),
  withHeaders('Upgrade', { upgrade: 'websocket' }, 'headers.upgrade'),
  withHeaders('TE', { TE: 'trailers' }, 'headers.TE'),
  withHeaders('Trailer', { trailer: 'x-checksum' }, 'headers.trailer'),
  withHeaders('Proxy-Authorization', { 'Proxy-Authorization': 'Basic eA==' }, 'headers.Proxy-Authorization'),
  withHeaders('Proxy-Connection', { 'proxy-connection': 'keep-alive' }, 'headers.proxy-connection'),
  withHeaders('Host', { Host: 'internal.example.com' }, 'headers.Host'),
  withHeaders('Content-Length', { 'content-length': '10' }, 'headers.content-length'),
  withHeaders('CR LF in a value', { 'x-a': 'ok\r\nx-injected: 1' }, 'headers.x-a'),
  withHeaders('LF in a value', { 'x-a': 'ok\nmore' }, 'headers.x-a'),
  withHeaders('NUL in a value', { 'x-a': 'ok\u0000' }, 'headers.x-a'),
  withHeaders('value too long', { 'x-a': 'v'.repeat(8_193) }, 'headers.x-a'),
  withHeaders('same name twice', { 'X-Trace': '1', 'x-trace': '2' }, 'headers.x-trace'),
  withHeaders('reserved Sched-*', { 'Sched-Delivery-Id': 'dlv_fake' }, 'headers.Sched-Delivery-Id'),
  withHeaders('reserved webhook-signature', { 'webhook-signature': 'v1,abc' }, 'headers.webhook-signature'),
  withHeaders('too many', Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`x-h${i}`, '1'])), 'headers'),
  // ── body ──
  create('body a number', { ...valid, body: 42 }, 'body'),
  create('body an object', { ...valid, body: { order_id: 'ord_1' } }, 'body'),
  create('body an array', { ...valid, body: [1, 2] }, 'body'),
  create('body a boolean', { ...valid, body: true }, 'body'),
  // ── when to fire ──
  create('no trigger', { endpoint: ENDPOINT }, 'delay', 'parameter_missing'),
  create('delay and cron', { ...valid, cron: '* * * * *' }, 'cron', 'parameter_conflict'),
  create('delay and run_at', { ...valid, run_at: inHours(1) }, 'run_at', 'parameter_conflict'),
  create('all three triggers', { ...valid, run_at: inHours(1), cron: '* * * * *' }, 'run_at', 'parameter_conflict'),
  create('delay a number', { endpoint: ENDPOINT, delay: 30 }, 'delay'),
  create('delay empty', { endpoint: ENDPOINT, delay: '' }, 'delay'),
  create('delay without unit', { endpoint: ENDPOINT, delay: '30' }, 'delay'),
  create('delay in words', { endpoint: ENDPOINT, delay: '5 minutes' }, 'delay'),
  create('delay negative', { endpoint: ENDPOINT, delay: '-5s' }, 'delay'),
  create('delay fractional', { endpoint: ENDPOINT, delay: '1.5h' }, 'delay'),
  create('delay units out of order', { endpoint: ENDPOINT, delay: '5m1h' }, 'delay'),
  create('delay in weeks', { endpoint: ENDPOINT, delay: '1w' }, 'delay'),
  create('delay too long', { endpoint: ENDPOINT, delay: `${'9'.repeat(30)}d` }, 'delay'),
  create('run_at in words', { endpoint: ENDPOINT, run_at: 'tomorrow' }, 'run_at'),
  create('run_at month 13', { endpoint: ENDPOINT, run_at: '2030-13-01T00:00:00Z' }, 'run_at'),
  create('run_at 30 February', { endpoint: ENDPOINT, run_at: '2030-02-30T00:00:00Z' }, 'run_at'),
  create('run_at without offset', { endpoint: ENDPOINT, run_at: '2030-05-01T09:00:00' }, 'run_at'),
  create('run_at a date only', { endpoint: ENDPOINT, run_at: '2030-05-01' }, 'run_at'),
  create('run_at a unix timestamp', { endpoint: ENDPOINT, run_at: 1_900_000_000 }, 'run_at'),
  create('run_at 10 minutes ago', { endpoint: ENDPOINT, run_at: minutesAgo(10) }, 'run_at'),
  create('run_at years ago', { endpoint: ENDPOINT, run_at: '2020-01-01T00:00:00Z' }, 'run_at'),
  // ── cron and time zone ──
  create('cron empty', { endpoint: ENDPOINT, cron: '' }, 'cron'),
  create('cron 4 fields', { endpoint: ENDPOINT, cron: '* * * *' }, 'cron'),
  create('cron 7 fields', { endpoint: ENDPOINT, cron: '0 0 0 * * * 2030' }, 'cron'),
  create('cron minute 61', { endpoint: ENDPOINT, cron: '61 * * * *' }, 'cron'),
  create('cron hour 25', { endpoint: ENDPOINT, cron: '0 25 * * *' }, 'cron'),
  create('cron weekday 8', { endpoint: ENDPOINT, cron: '0 9 * * 8' }, 'cron'),
  create('cron in words', { endpoint: ENDPOINT, cron: 'every day' }, 'cron'),
  create('cron nickname', { endpoint: ENDPOINT, cron: '@daily' }, 'cron'),
  create('cron bad weekday name', { endpoint: ENDPOINT, cron: '0 9 * * MON-FOO' }, 'cron'),
  create('cron naming no real date', { endpoint: ENDPOINT, cron: '0 0 30 2 *' }, 'cron'),
  create('cron a number', { endpoint: ENDPOINT, cron: 5 }, 'cron'),
  create('timezone unknown', { ...cron, timezone: 'Mars/Olympus' }, 'timezone'),
  create('timezone misspelt', { ...cron, timezone: 'Europe/Berlinn' }, 'timezone'),
  create('timezone empty', { ...cron, timezone: '' }, 'timezone'),
  create('timezone a number', { ...cron, timezone: 2 }, 'timezone'),
  create('timezone on a one-off', { ...valid, timezone: 'Europe/Berlin' }, 'timezone', 'parameter_unexpected'),
  // ── recurrence settings ──
  create('ends_at in words', { ...cron, ends_at: 'never' }, 'ends_at'),
  create('ends_at in the past', { ...cron, ends_at: minutesAgo(1) }, 'ends_at'),
  create('ends_at before the first fire', { ...cron, cron: '0 0 1 1 *', ends_at: inHours(1) }, 'ends_at'),
  create('ends_at on a one-off', { ...valid, ends_at: inHours(1) }, 'ends_at', 'parameter_unexpected'),
  create('max_fires zero', { ...cron, max_fires: 0 }, 'max_fires'),
  create('max_fires negative', { ...cron, max_fires: -1 }, 'max_fires'),
  create('max_fires fractional', { ...cron, max_fires: 1.5 }, 'max_fires'),
  create('max_fires a string', { ...cron, max_fires: '5' }, 'max_fires'),
  create('max_fires too large', { ...cron, max_fires: 1_000_001 }, 'max_fires'),
  create('max_fires on a one-off', { ...valid, max_fires: 1 }, 'max_fires', 'parameter_unexpected'),
  create('catch_up unknown', { ...cron, catch_up: 'sometimes' }, 'catch_up'),
  create('catch_up a number', { ...cron, catch_up: 1 }, 'catch_up'),
  create('catch_up on a one-off', { ...valid, catch_up: 'skip' }, 'catch_up', 'parameter_unexpected'),
  create('catch_up_window zero', { ...cron, catch_up_window: '0s' }, 'catch_up_window'),
  create('catch_up_window over 7d', { ...cron, catch_up_window: '8d' }, 'catch_up_window'),
  create('catch_up_window in words', { ...cron, catch_up_window: 'an hour' }, 'catch_up_window'),
  create('catch_up_window a number', { ...cron, catch_up_window: 3600 }, 'catch_up_window'),
  create('catch_up_window on a one-off', { ...valid, catch_up_window: '1h' }, 'catch_up_window', 'parameter_unexpected'),
  // ── process and metadata ──
  create('process a number', { ...valid, process: 5 }, 'process'),
  create('process with a space', { ...valid, process: 'my process' }, 'process'),
  create('process too long', { ...valid, process: 'p'.repeat(65) }, 'process'),
  create('metadata a string', { ...valid, metadata: 'vip' }, 'metadata'),
  create('metadata an array', { ...valid, metadata: ['vip'] }, 'metadata'),
  create('metadata nested', { ...valid, metadata: { customer: { id: 1 } } }, 'metadata.customer'),
  create('metadata null value', { ...valid, metadata: { customer: null } }, 'metadata.customer'),
  create('metadata array value', { ...valid, metadata: { tags: ['a'] } }, 'metadata.tags'),
  create('metadata key too long', { ...valid, metadata: { ['k'.repeat(41)]: 'v' } }, `metadata.${'k'.repeat(41)}`),
  create('metadata value too long', { ...valid, metadata: { note: 'n'.repeat(501) } }, 'metadata.note'),
  create('metadata too many keys', { ...valid, metadata: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, i])) }, 'metadata'),
  // ── idempotency key ──
  create('idempotency_key a number', { ...valid, idempotency_key: 42 }, 'idempotency_key'),
  { name: 'Idempotency-Key too long', body: valid, headers: { 'idempotency-key': 'k'.repeat(256) }, status: 400, code: 'parameter_invalid', param: 'Idempotency-Key' },
  // ── the request body itself ──
  { name: 'malformed JSON', body: '{"endpoint": ', status: 400, code: 'body_invalid_json', param: null },
  { name: 'JSON with trailing garbage', body: '{"endpoint": "https://example.com"} x', status: 400, code: 'body_invalid_json', param: null },
  { name: 'single-quoted JSON', body: "{'endpoint': 'https://example.com'}", status: 400, code: 'body_invalid_json', param: null },
  { name: 'a JSON string', body: '"https://example.com"', status: 400, code: 'body_invalid_json', param: null },
  { name: 'a JSON array', body: '[{"endpoint": "https://example.com", "delay": "30s"}]', status: 400, code: 'body_invalid', param: null },
  { name: 'no body at all', body: undefined, method: 'POST', status: 400, code: 'parameter_invalid', param: 'endpoint' },
  {
    name: 'body over 256 KiB',
    body: { ...valid, body: 'x'.repeat(300 * 1024) },
    status: 413,
    code: 'body_too_large',
    param: null,
  },
  // ── list parameters ──
  list('limit 0', 'limit=0', 'limit'),
  list('limit 101', 'limit=101', 'limit'),
  list('limit negative', 'limit=-1', 'limit'),
  list('limit not a number', 'limit=ten', 'limit'),
  list('limit fractional', 'limit=1.5', 'limit'),
  list('limit empty', 'limit=', 'limit'),
  list('limit twice', 'limit=1&limit=2', 'limit'),
  list('state unknown', 'state=running', 'state'),
  list('unknown parameter', 'colour=red', 'colour', 'parameter_unknown'),
  list('environment parameter', 'environment=live', 'environment', 'parameter_unknown'),
  // ── upcoming parameters ──
  upcoming('count 0', 'count=0', 'count'),
  upcoming('count 101', 'count=101', 'count'),
  upcoming('count negative', 'count=-5', 'count'),
  upcoming('count not a number', 'count=all', 'count'),
  upcoming('unknown parameter', 'after=now', 'after', 'parameter_unknown'),
  // ── pause / resume bodies ──
  { name: 'pause: unknown field', method: 'POST', path: '/v1/schedules/sch_doesnotexist0000000000/pause', body: { reason: 'x' }, status: 400, code: 'parameter_unknown', param: 'reason' },
  { name: 'resume: idempotency_key a number', method: 'POST', path: '/v1/schedules/sch_doesnotexist0000000000/resume', body: { idempotency_key: 5 }, status: 400, code: 'parameter_invalid', param: 'idempotency_key' },
  // ── keys and environments ──
  { name: 'no key', body: valid, key: null, status: 401, type: 'authentication_error', code: 'api_key_missing', param: null },
  { name: 'malformed key', body: valid, key: 'not-a-key', status: 401, type: 'authentication_error', code: 'api_key_invalid', param: null },
  { name: 'unknown key', body: valid, key: `sk_test_${'0'.repeat(32)}`, status: 401, type: 'authentication_error', code: 'api_key_invalid', param: null },
  { name: 'basic auth', body: valid, key: null, headers: { authorization: 'Basic dXNlcjpwYXNz' }, status: 401, type: 'authentication_error', code: 'api_key_invalid', param: null },
  { name: 'Sched-Environment of another environment', body: valid, headers: { 'sched-environment': 'live' }, status: 403, type: 'permission_error', code: 'environment_mismatch', param: null },
  // ── unknown routes and ids ──
  { name: 'unknown route', method: 'GET', path: '/v1/scheduls', status: 404, code: 'route_not_found', param: null },
  { name: 'pause an unknown id', method: 'POST', path: '/v1/schedules/sch_doesnotexist0000000000/pause', status: 404, code: 'resource_missing', param: 'id' },
  { name: 'cancel a malformed id', method: 'DELETE', path: '/v1/schedules/..%2Fapi_key-x', status: 404, code: 'resource_missing', param: 'id' },
];

describe('bad input (SPEC §8): a table of malformed requests', () => {
  let stack: ApiStack;
  let before: Record<string, unknown>;

  /** Everything a client can see was written, in every environment. */
  const snapshot = async () => {
    const seen: Record<string, unknown> = {};
    for (const environment of ['live', 'sandbox', 'test'] as Environment[]) {
      seen[`schedules.${environment}`] = (await stack.api('/v1/schedules?limit=100', { key: stack.keys[environment] })).body;
      seen[`deliveries.${environment}`] = (await stack.api('/v1/deliveries?limit=100', { key: stack.keys[environment] })).body;
    }
    return seen;
  };

  beforeAll(async () => {
    stack = await startApiStack('bad_input');
    // One real schedule, so "nothing changed" is checked against a non-empty list.
    const seeded = await stack.api('/v1/schedules', { key: stack.keys.test, body: { ...cron } });
    expect(seeded.status).toBe(201);
    // The dispatcher projects its delivery asynchronously: wait for it, so the snapshot is settled.
    await eventually(async () => (await stack.api(`/v1/deliveries?schedule=${seeded.body.id}`, { key: stack.keys.test })).body.data?.length === 1);
    before = await snapshot();
  });

  afterAll(() => stack?.close());

  it('holds well over 100 cases', () => {
    expect(BAD_REQUESTS.length).toBeGreaterThanOrEqual(100);
    expect(new Set(BAD_REQUESTS.map((r) => r.name)).size).toBe(BAD_REQUESTS.length);
  });

  it.each(BAD_REQUESTS.map((r) => [r.name, r] as const))('%s', async (_name, bad) => {
    const headers = { ...(bad.headers ?? {}) };
    const key = bad.key === undefined ? stack.keys.test : bad.key;
    const res = await stack.api(bad.path ?? '/v1/schedules', {
      method: bad.method ?? 'POST',
      key: key ?? undefined,
      body: bad.body,
      headers,
    });
    expect({ status: res.status, type: res.body?.error?.type, code: res.body?.error?.code, param: res.body?.error?.param }).toEqual({
      status: bad.status,
      type: bad.type ?? 'invalid_request_error',
      code: bad.code,
      param: bad.param,
    });
    expect(res.body.error.message).toEqual(expect.any(String));
    expect(res.body.error.request_id).toMatch(/^req_/);
    expect(res.body.error.request_id).toBe(res.headers.get('request-id'));
  });

  it('wrote nothing: every list in every environment is unchanged', async () => {
    expect(await snapshot()).toEqual(before);
  });
});
