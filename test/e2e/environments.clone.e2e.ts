import type { Environment } from '@schedstack/contracts';
import { startLocalStack, type TestStack } from '../support';

/**
 * SPEC §5 clone through HTTP: live's configuration replayed into sandbox and test, client data
 * untouched on both sides, dry-run diffs, idempotent repeats, forbidden directions and
 * concurrent clones of one target.
 */

const COLLECTIONS = ['processes', 'themes', 'fields', 'translations', 'dataset-schemas'] as const;
type Collection = (typeof COLLECTIONS)[number];
type ConfigObject = Record<string, unknown> & { id: string };

/** What "equal configuration" compares: ids and specs, not the environment's own mode, version or timestamps. */
const specOf = ({ mode: _mode, version: _version, created_at: _created, updated_at: _updated, object: _object, ...spec }: ConfigObject) => spec;

describe('environments — clone live → sandbox/test (SPEC §5)', () => {
  let stack: TestStack;
  let ownerSession: string;
  const idempotentScheduleIds = {} as Record<Environment, string>;
  const key = (environment: Environment) => stack.keys[environment];

  const list = async (environment: Environment, path: string) => {
    const res = await stack.api(`${path}${path.includes('?') ? '&' : '?'}limit=100`, { key: key(environment) });
    expect(res.status).toBe(200);
    return res.body.data as ConfigObject[];
  };
  const configOf = async (environment: Environment) => {
    const out = {} as Record<Collection, ConfigObject[]>;
    for (const collection of COLLECTIONS) out[collection] = (await list(environment, `/v1/${collection}`)).map(specOf).sort((a, b) => (a.id < b.id ? -1 : 1)) as ConfigObject[];
    return out;
  };
  const create = async (environment: Environment, collection: Collection, body: object) => {
    const res = await stack.api(`/v1/${collection}`, { key: key(environment), body });
    expect(res.status).toBe(201);
    return res.body as ConfigObject;
  };
  const clone = (target: string, body: object = {}, credential = key('live'), headers: Record<string, string> = {}) =>
    stack.api(`/v1/environments/${target}/clone`, { key: credential, body, headers });

  /** Everything a clone must never touch, per environment, as the API shows it. */
  const clientDataOf = async (environment: Environment) => ({
    schedules: await list(environment, '/v1/schedules'),
    apiKeys: await list(environment, '/v1/api-keys'),
    rows: await list(environment, `/v1/datasets/${environment}-own/rows`),
  });

  const idempotentSchedule = (environment: Environment) =>
    stack.api('/v1/schedules', { key: key(environment), headers: { 'idempotency-key': 'clone-suite' }, body: { endpoint: 'http://127.0.0.1:9/never', delay: '1h' } });

  beforeAll(async () => {
    stack = await startLocalStack('env_clone');
    const owner = stack.owner as { email: string; password: string };
    ownerSession = (await stack.api('/v1/sessions', { body: owner })).body.token;

    // Configuration in live.
    await create('live', 'processes', { name: 'billing-vendor', max_attempts: 3, backoff: { initial: '1s', max: '1m' }, timeout: '10s', vendor: true, headers: { 'x-source': 'sched' } });
    await create('live', 'processes', { name: 'internal', rate_limit: { requests: 5, per: '1s' }, breaker: { failure_threshold: 3, cool_down: '30s' } });
    await create('live', 'themes', { name: 'brand', product_name: 'Acme', logo_url: 'https://example.com/logo.svg', colors: { primary: '#112233' } });
    await create('live', 'fields', { name: 'tenant', type: 'string', required: true });
    await create('live', 'translations', { locale: 'en', messages: { 'delivery.failed': 'Delivery failed' } });
    await create('live', 'dataset-schemas', { name: 'customers', fields: [{ name: 'email', type: 'string', required: true }] });

    // Client data in all three environments: a schema of their own with rows, a key, schedules, an idempotency record.
    for (const environment of ['live', 'sandbox', 'test'] as const) {
      await create(environment, 'dataset-schemas', { name: `${environment}-own`, fields: [{ name: 'n', type: 'number' }] });
      expect((await stack.api(`/v1/datasets/${environment}-own/rows`, { key: key(environment), body: { n: 1 } })).status).toBe(201);
      expect((await stack.api('/v1/api-keys', { key: key(environment), body: { name: `${environment} extra` } })).status).toBe(201);
      const scheduled = await idempotentSchedule(environment);
      expect(scheduled.status).toBe(201);
      idempotentScheduleIds[environment] = scheduled.body.id;
    }
    // Live's customers get rows too: they must never arrive in the targets.
    expect((await stack.api('/v1/datasets/customers/rows', { key: key('live'), body: { email: 'real@customer.example' } })).status).toBe(201);
    // Configuration only the target has, which the clone must remove.
    await create('sandbox', 'processes', { name: 'sandbox-experiment' });
  }, 90_000);

  afterAll(() => stack?.close());

  it('shows a dry run’s diff and changes nothing', async () => {
    const before = await configOf('sandbox');
    const res = await clone('sandbox', { dry_run: true });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ object: 'environment_clone', source: 'live', target: 'sandbox', dry_run: true, applied: false });
    expect(res.body.source_position).toMatch(/^\d+\/\d+$/);
    expect(Object.keys(res.body.diff)).toEqual([...COLLECTIONS]);
    expect(res.body.diff.processes.added.map((p: { name: string }) => p.name).sort()).toEqual(['billing-vendor', 'internal']);
    expect(res.body.diff.processes.removed.map((p: { name: string }) => p.name)).toEqual(['sandbox-experiment']);
    // sandbox-own is sandbox's own dataset schema (config), so live's clone would remove it as well.
    expect(res.body.diff['dataset-schemas'].removed.map((s: { name: string }) => s.name)).toEqual(['sandbox-own']);
    expect(res.body.diff.themes.added[0]).toEqual({ id: expect.stringMatching(/^thm_/), name: 'brand', product_name: 'Acme', logo_url: 'https://example.com/logo.svg', colors: { primary: '#112233' } });
    expect(await configOf('sandbox')).toEqual(before);
  });

  it('makes the target’s configuration equal to live’s, removes target-only config, and leaves client data alone', async () => {
    const clientBefore = { live: await clientDataOf('live'), sandbox: await clientDataOf('sandbox'), test: await clientDataOf('test') };
    const liveRowsBefore = await list('live', '/v1/datasets/customers/rows');

    for (const target of ['sandbox', 'test'] as const) {
      const res = await clone(target);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ target, dry_run: false, applied: true });
      expect(res.body.diff.processes.added).toHaveLength(2);
    }
    const live = await configOf('live');
    expect(await configOf('sandbox')).toEqual(live);
    expect(await configOf('test')).toEqual(live);
    const sandboxProcesses = await list('sandbox', '/v1/processes');
    expect(sandboxProcesses.every((p) => p.mode === 'sandbox' && p.version === 1)).toBe(true);
    expect(sandboxProcesses.map((p) => p.name)).not.toContain('sandbox-experiment');

    // Dataset schemas arrive without rows; live's rows stay in live.
    expect(await list('sandbox', '/v1/datasets/customers/rows')).toEqual([]);
    expect(await list('test', '/v1/datasets/customers/rows')).toEqual([]);
    expect(await list('live', '/v1/datasets/customers/rows')).toEqual(liveRowsBefore);

    // Keys, schedules and live's own rows are untouched.
    expect(await clientDataOf('live')).toEqual(clientBefore.live);
    for (const target of ['sandbox', 'test'] as const) {
      expect(await list(target, '/v1/schedules')).toEqual(clientBefore[target].schedules);
      expect(await list(target, '/v1/api-keys')).toEqual(clientBefore[target].apiKeys);
    }
    // Idempotency records survive in each environment: the same key replays the original schedule.
    for (const environment of ['live', 'sandbox', 'test'] as const) {
      const replay = await idempotentSchedule(environment);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(replay.body.id).toBe(idempotentScheduleIds[environment]);
    }
    // Keys still work where they belong.
    expect((await stack.api('/v1/limits', { key: key('sandbox') })).body.mode).toBe('sandbox');
  });

  it('diffs a change in live with before/after, then brings it over; a repeat appends nothing', async () => {
    const [billing] = (await list('live', '/v1/processes')).filter((p) => p.name === 'billing-vendor');
    const [theme] = await list('live', '/v1/themes');
    // The target's own rows of a schema it got from live must survive the next clone.
    const sandboxRow = await stack.api('/v1/datasets/customers/rows', { key: key('sandbox'), body: { email: 'tester@example.com' } });
    expect(sandboxRow.status).toBe(201);
    expect((await stack.api(`/v1/processes/${billing.id}`, { key: key('live'), method: 'PATCH', body: { timeout: '20s', vendor: false } })).status).toBe(200);
    expect((await stack.api(`/v1/themes/${theme.id}`, { key: key('live'), method: 'DELETE' })).status).toBe(200);
    await create('live', 'fields', { name: 'region', type: 'string' });

    const before = await configOf('sandbox');
    const dry = await clone('sandbox', { dry_run: true });
    expect(dry.body.diff.processes).toEqual({
      added: [],
      changed: [{ id: billing.id, before: expect.objectContaining({ timeout: '10s', vendor: true }), after: expect.objectContaining({ timeout: '20s', vendor: false }) }],
      removed: [],
    });
    expect(dry.body.diff.themes.removed).toEqual([expect.objectContaining({ id: theme.id, name: 'brand' })]);
    expect(dry.body.diff.fields.added).toEqual([expect.objectContaining({ name: 'region', type: 'string', required: false })]);
    expect(dry.body.diff.translations).toEqual({ added: [], changed: [], removed: [] });
    expect(await configOf('sandbox')).toEqual(before);

    const applied = await clone('sandbox');
    expect(applied.body.applied).toBe(true);
    expect(applied.body.diff).toEqual(dry.body.diff);
    expect(applied.body.source_position).toBe(dry.body.source_position);
    expect(await configOf('sandbox')).toEqual(await configOf('live'));
    const sandboxBilling = (await list('sandbox', '/v1/processes')).find((p) => p.id === billing.id) as ConfigObject;
    expect(sandboxBilling.version).toBe(2);
    expect(await list('sandbox', '/v1/datasets/customers/rows')).toEqual([sandboxRow.body]);

    const again = await clone('sandbox');
    expect(again.body).toMatchObject({ applied: false, source_position: applied.body.source_position });
    for (const collection of COLLECTIONS) expect(again.body.diff[collection]).toEqual({ added: [], changed: [], removed: [] });
    expect((await list('sandbox', '/v1/processes')).find((p) => p.id === billing.id)).toEqual(sandboxBilling);
  });

  it('refuses every other direction with 400 clone_direction_not_allowed', async () => {
    for (const [target, body, param] of [
      ['live', {}, 'environment'],
      ['production', {}, 'environment'],
      ['test', { source: 'sandbox' }, 'source'],
      ['sandbox', { source: 'test' }, 'source'],
      ['sandbox', { source: 'sandbox' }, 'source'],
    ] as const) {
      const res = await clone(target, body);
      expect({ target, body, status: res.status, code: res.body.error?.code, param: res.body.error?.param }).toEqual({
        target,
        body,
        status: 400,
        code: 'clone_direction_not_allowed',
        param,
      });
    }
  });

  it('needs a live key or an owner/admin session', async () => {
    for (const credential of [key('sandbox'), key('test')]) expect((await clone('sandbox', { dry_run: true }, credential)).status).toBe(403);
    expect((await clone('test', { dry_run: true }, ownerSession)).status).toBe(200);
    expect((await clone('test', { dry_run: true }, ownerSession, { 'sched-environment': 'sandbox' })).status).toBe(200);
  });

  it('answers 400 naming the field for a bad clone body', async () => {
    const res = await clone('test', { dry_run: 'yes' });
    expect(res.status).toBe(400);
    expect(res.body.error.param).toBe('dry_run');
    const unknown = await clone('test', { include: ['keys'] });
    expect(unknown.body.error.param).toBe('include');
  });

  it('serialises concurrent clones of one target: exactly one applies the change, and the result equals live', async () => {
    await create('live', 'translations', { locale: 'fr', messages: { hello: 'Bonjour' } });
    await create('live', 'processes', { name: 'concurrent' });
    const results = await Promise.all(Array.from({ length: 5 }, () => clone('test')));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(results.filter((r) => r.body.applied)).toHaveLength(1);
    const winner = results.find((r) => r.body.applied);
    expect(winner?.body.diff.translations.added).toEqual([expect.objectContaining({ locale: 'fr' })]);
    expect(await configOf('test')).toEqual(await configOf('live'));
    const processes = await list('test', '/v1/processes');
    expect(processes.filter((p) => p.name === 'concurrent')).toHaveLength(1);
  });
});
