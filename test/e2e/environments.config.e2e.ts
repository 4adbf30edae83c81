import type { ClientProxy } from '@nestjs/microservices';
import { type LimitsView, PATTERNS, type ResolvedProcess } from '@schedstack/contracts';
import { request } from '@schedstack/platform';
import { startLocalStack, type TestStack } from '../support';

/**
 * SPEC §5 configuration resources and dataset rows through HTTP: CRUD with versions per
 * environment, isolation between environments, and a 400 naming the field for bad input on every
 * write route. Also the query patterns other services call (process by name, metadata, limits).
 */

const RESOURCES = [
  { path: 'processes', object: 'process', prefix: 'proc', body: { name: 'billing', timeout: '10s' }, patch: { vendor: true }, key: 'name' },
  { path: 'themes', object: 'theme', prefix: 'thm', body: { name: 'default', colors: { primary: '#0a66c2' } }, patch: { product_name: 'Acme' }, key: 'name' },
  { path: 'fields', object: 'field', prefix: 'fld', body: { name: 'customer_id', type: 'string' }, patch: { required: true }, key: 'name' },
  { path: 'translations', object: 'translation', prefix: 'trn', body: { locale: 'de', messages: { hello: 'Hallo' } }, patch: { messages: { hello: 'Servus' } }, key: 'locale' },
  {
    path: 'dataset-schemas',
    object: 'dataset_schema',
    prefix: 'dss',
    body: { name: 'customers', fields: [{ name: 'email', type: 'string', required: true }] },
    patch: { fields: [{ name: 'email', type: 'string', required: true }, { name: 'age', type: 'number' }] },
    key: 'name',
  },
] as const;

/** Each write route with bodies that must be refused, and the field the 400 must name. */
const BAD_INPUTS: readonly (readonly [string, 'POST' | 'PATCH', unknown, string])[] = [
  ['processes', 'POST', {}, 'name'],
  ['processes', 'POST', { name: 'has space' }, 'name'],
  ['processes', 'POST', { name: 'p', max_attempts: 'three' }, 'max_attempts'],
  ['processes', 'POST', { name: 'p', max_attempts: 101 }, 'max_attempts'],
  ['processes', 'POST', { name: 'p', timeout: 'soon' }, 'timeout'],
  ['processes', 'POST', { name: 'p', backoff: { initial: '1s' } }, 'backoff.max'],
  ['processes', 'POST', { name: 'p', backoff: { initial: '2h', max: '1h' } }, 'backoff.initial'],
  ['processes', 'POST', { name: 'p', rate_limit: { requests: 0, per: '1s' } }, 'rate_limit.requests'],
  ['processes', 'POST', { name: 'p', breaker: { failure_threshold: 3, cool_down: 30 } }, 'breaker.cool_down'],
  ['processes', 'POST', { name: 'p', headers: { Connection: 'close' } }, 'headers.Connection'],
  ['processes', 'POST', { name: 'p', vendor: 'yes' }, 'vendor'],
  ['processes', 'POST', { name: 'p', retries: 3 }, 'retries'],
  ['processes', 'PATCH', { timeout: '0s' }, 'timeout'],
  ['themes', 'POST', { name: 't', colors: { primary: 'blue' } }, 'colors.primary'],
  ['themes', 'POST', { name: 't', logo_url: 'javascript:alert(1)' }, 'logo_url'],
  ['themes', 'PATCH', { colors: 'blue' }, 'colors'],
  ['fields', 'POST', { name: 'f', type: 'uuid' }, 'type'],
  ['fields', 'POST', { name: 'f', type: 'string', required: 'no' }, 'required'],
  ['fields', 'PATCH', { type: 'text' }, 'type'],
  ['translations', 'POST', { locale: 'Deutsch' }, 'locale'],
  ['translations', 'POST', { locale: 'fr', messages: { hello: 1 } }, 'messages.hello'],
  ['translations', 'PATCH', { locale: null }, 'locale'],
  ['dataset-schemas', 'POST', { name: 'orders' }, 'fields'],
  ['dataset-schemas', 'POST', { name: 'Orders', fields: [{ name: 'a', type: 'string' }] }, 'name'],
  ['dataset-schemas', 'POST', { name: 'orders', fields: [{ name: 'a', type: 'json' }] }, 'fields.0.type'],
  ['dataset-schemas', 'POST', { name: 'orders', fields: [{ name: 'a', type: 'string' }, { name: 'a', type: 'number' }] }, 'fields[1].name'],
  ['dataset-schemas', 'PATCH', { fields: [] }, 'fields'],
];

describe('environments — configuration resources and dataset rows (SPEC §5)', () => {
  let stack: TestStack;
  let bus: ClientProxy;

  beforeAll(async () => {
    stack = await startLocalStack('env_config');
    bus = stack.bus as ClientProxy;
  }, 60_000);

  afterAll(() => stack?.close());

  describe.each(RESOURCES)('/v1/$path', ({ path, object, prefix, body, patch, key }) => {
    it('creates, reads, lists, changes (with a new version) and deletes, per environment', async () => {
      const created = await stack.api(`/v1/${path}`, { key: stack.keys.test, body });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ object, mode: 'test', version: 1, ...body });
      expect(created.body.id).toMatch(new RegExp(`^${prefix}_[0-9A-Za-z]{22}$`));
      expect(Object.keys(created.body).slice(0, 4)).toEqual(['id', 'object', 'mode', 'version']);
      expect(created.body.created_at).toBe(created.body.updated_at);

      expect((await stack.api(`/v1/${path}/${created.body.id}`, { key: stack.keys.test })).body).toEqual(created.body);
      const listed = await stack.api(`/v1/${path}`, { key: stack.keys.test });
      expect(listed.body).toMatchObject({ object: 'list', has_more: false });
      expect(listed.body.data.map((o: { id: string }) => o.id)).toContain(created.body.id);

      const changed = await stack.api(`/v1/${path}/${created.body.id}`, { key: stack.keys.test, method: 'PATCH', body: patch });
      expect(changed.status).toBe(200);
      expect(changed.body).toMatchObject({ id: created.body.id, version: 2, ...patch, created_at: created.body.created_at });
      const unchanged = await stack.api(`/v1/${path}/${created.body.id}`, { key: stack.keys.test, method: 'PATCH', body: patch });
      expect(unchanged.body.version).toBe(2);

      const twin = await stack.api(`/v1/${path}`, { key: stack.keys.test, body });
      expect(twin.status).toBe(409);
      expect(twin.body.error).toMatchObject({ code: 'resource_exists', param: key });
      expect((await stack.api(`/v1/${path}`, { key: stack.keys.sandbox, body })).status).toBe(201);

      expect((await stack.api(`/v1/${path}/${created.body.id}`, { key: stack.keys.live })).status).toBe(404);
      const deleted = await stack.api(`/v1/${path}/${created.body.id}`, { key: stack.keys.test, method: 'DELETE' });
      expect(deleted.body).toEqual({ id: created.body.id, object, deleted: true });
      expect((await stack.api(`/v1/${path}/${created.body.id}`, { key: stack.keys.test })).status).toBe(404);
      expect((await stack.api(`/v1/${path}/${created.body.id}`, { key: stack.keys.test, method: 'DELETE' })).status).toBe(404);
    });
  });

  it.each(BAD_INPUTS)('/v1/%s %s %j → 400 naming %s', async (path, method, body, param) => {
    let target = `/v1/${path}`;
    if (method === 'PATCH') {
      const fixture = RESOURCES.find((r) => r.path === path) as (typeof RESOURCES)[number];
      const created = await stack.api(`/v1/${path}`, { key: stack.keys.live, body: { ...fixture.body, [fixture.key]: `${fixture.key === 'locale' ? 'it' : 'x'}-${Math.random().toString(36).slice(2, 8)}` } });
      expect(created.status).toBe(201);
      target = `/v1/${path}/${created.body.id}`;
    }
    const res = await stack.api(target, { key: stack.keys.live, method, body });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ type: 'invalid_request_error', param });
  });

  it('answers 404 for an id of another kind, as for an unknown id', async () => {
    const theme = await stack.api('/v1/themes', { key: stack.keys.live, body: { name: 'kind-check' } });
    const asProcess = await stack.api(`/v1/processes/${theme.body.id}`, { key: stack.keys.live });
    expect(asProcess.status).toBe(404);
    expect(asProcess.body.error.code).toBe('resource_missing');
  });

  describe('dataset rows', () => {
    let schema: { id: string; name: string };

    beforeAll(async () => {
      const created = await stack.api('/v1/dataset-schemas', {
        key: stack.keys.sandbox,
        body: {
          name: 'contacts',
          fields: [
            { name: 'email', type: 'string', required: true },
            { name: 'score', type: 'number' },
            { name: 'active', type: 'boolean' },
            { name: 'since', type: 'date' },
          ],
        },
      });
      schema = created.body;
    });

    it('stores a row validated against its schema, addressed by schema name or id', async () => {
      const row = await stack.api(`/v1/datasets/${schema.name}/rows`, { key: stack.keys.sandbox, body: { email: 'a@example.com', score: 4.5, active: true, since: '2026-01-31' } });
      expect(row.status).toBe(201);
      expect(row.body).toEqual({
        id: expect.stringMatching(/^row_/),
        object: 'dataset_row',
        mode: 'sandbox',
        schema: schema.id,
        data: { email: 'a@example.com', score: 4.5, active: true, since: '2026-01-31' },
        created_at: expect.any(String),
      });
      const byName = await stack.api(`/v1/datasets/${schema.name}/rows`, { key: stack.keys.sandbox });
      const byId = await stack.api(`/v1/datasets/${schema.id}/rows`, { key: stack.keys.sandbox });
      expect(byName.body.data.map((r: { id: string }) => r.id)).toContain(row.body.id);
      expect(byId.body).toEqual(byName.body);
    });

    it.each([
      [{}, 'email', 'parameter_missing'],
      [{ email: 'a', score: 'high' }, 'score', 'parameter_invalid'],
      [{ email: 'a', active: 1 }, 'active', 'parameter_invalid'],
      [{ email: 'a', since: 'yesterday' }, 'since', 'parameter_invalid'],
      [{ email: 'a', phone: '123' }, 'phone', 'parameter_unknown'],
      // The gateway refuses a body that is not a JSON object before any route sees it.
      [['a'], null, 'body_invalid'],
    ])('refuses row %j: 400 naming %s', async (body, param, code) => {
      const res = await stack.api(`/v1/datasets/${schema.name}/rows`, { key: stack.keys.sandbox, body });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ param, code });
    });

    it('keeps rows in their environment: the schema is unknown elsewhere', async () => {
      const fromTest = await stack.api(`/v1/datasets/${schema.name}/rows`, { key: stack.keys.test });
      expect(fromTest.status).toBe(404);
      expect(fromTest.body.error.param).toBe('schema');
      expect((await stack.api(`/v1/datasets/${schema.id}/rows`, { key: stack.keys.live, body: { email: 'x' } })).status).toBe(404);
    });
  });

  describe('query patterns for other services', () => {
    it('resolves a process by name with its delivery policy in milliseconds (environments.processes.get_by_name)', async () => {
      await stack.api('/v1/processes', {
        key: stack.keys.sandbox,
        body: { name: 'vendor-api', max_attempts: 3, backoff: { initial: '2s', max: '1m' }, timeout: '5s', vendor: true, headers: { 'x-vendor': 'acme' } },
      });
      const scope = { projectId: stack.projectId, environment: 'sandbox' };
      const resolved = await request<ResolvedProcess | null>(bus, PATTERNS.environments.getProcessByName, { scope, name: 'vendor-api' });
      expect(resolved?.process).toMatchObject({ object: 'process', name: 'vendor-api', mode: 'sandbox' });
      expect(resolved?.policy).toEqual({
        process: 'vendor-api',
        max_attempts: 3,
        backoff: { initial_ms: 2_000, max_ms: 60_000 },
        timeout_ms: 5_000,
        headers: { 'x-vendor': 'acme' },
        vendor: true,
      });
      expect(await request(bus, PATTERNS.environments.getProcessByName, { scope: { ...scope, environment: 'test' }, name: 'vendor-api' })).toBeNull();
    });

    it('validates schedule metadata against the field definitions (environments.fields.validate_metadata)', async () => {
      const scope = { projectId: stack.projectId, environment: 'sandbox' };
      for (const field of (await stack.api('/v1/fields?limit=100', { key: stack.keys.sandbox })).body.data) {
        await stack.api(`/v1/fields/${field.id}`, { key: stack.keys.sandbox, method: 'DELETE' });
      }
      expect(await request(bus, PATTERNS.environments.validateMetadata, { scope, metadata: { anything: 'goes' } })).toEqual({ valid: true });
      await stack.api('/v1/fields', { key: stack.keys.sandbox, body: { name: 'tenant', type: 'string', required: true } });
      await expect(request(bus, PATTERNS.environments.validateMetadata, { scope, metadata: { other: 1 } })).rejects.toMatchObject({
        body: expect.objectContaining({ status: 400, param: 'metadata.other' }),
      });
      await expect(request(bus, PATTERNS.environments.validateMetadata, { scope, metadata: {} })).rejects.toMatchObject({
        body: expect.objectContaining({ param: 'metadata.tenant', code: 'parameter_missing' }),
      });
      expect(await request(bus, PATTERNS.environments.validateMetadata, { scope, metadata: { tenant: 't1' } })).toEqual({ valid: true });
    });

    it('answers an environment’s limits (environments.limits.get), as GET /v1/limits does', async () => {
      const scope = { projectId: stack.projectId, environment: 'test' };
      const viaBus = await request<LimitsView>(bus, PATTERNS.environments.getLimits, { scope });
      expect(viaBus).toEqual((await stack.api('/v1/limits', { key: stack.keys.test })).body);
      expect(viaBus).toMatchObject({ object: 'limits', mode: 'test', active_schedules: 1_000, deliveries_per_day: 10_000 });
    });
  });
});
