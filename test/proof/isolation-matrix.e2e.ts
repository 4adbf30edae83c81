import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ENVIRONMENTS, type Environment } from '@schedstack/contracts';
import { type ApiStack, startApiStack } from '../support/api-stack';
import {
  closeRawAgent,
  errorShapeProblems,
  missingLike,
  NON_RESOURCE_PARAMS,
  pathFor,
  rawRequest,
  RESOURCES,
  resourceOf,
  type Route,
  routeTable,
  unique,
  VALID_BODIES,
  withoutRequestIds,
  YEARLY,
} from './proof-support';

/**
 * SPEC §2 isolation, generated from the gateway's route table: for every route with a path
 * parameter, a resource made in (project A, live) is asked for with the key of every other
 * environment of A and of every environment of a second project B. Each must get exactly the
 * answer an unknown id gets (404, or the 403 the spec gives that route); lists never show it.
 * A route whose resource this suite cannot make fails it: "add a fixture for <route>".
 */

const REPORT = path.resolve(__dirname, '..', '..', 'tmp', 'proof', 'isolation.json');

/** Lists that show the same rows in every environment of a project, by the spec (not a leak). */
const SHARED_ACROSS_ENVIRONMENTS: Record<string, string> = {
  '/v1/members': 'users and roles are global per project, inherited read-only by sandbox and test (SPEC §2)',
};

/** 403 answers the spec gives a route in some environments before any lookup, for every id (an unknown id gets it too). */
const SPEC_403: Record<string, { environments: readonly Environment[]; code: string; why: string }> = {
  '/v1/members/:user': { environments: ['sandbox', 'test'], code: 'permissions_managed_in_live', why: 'member writes go through live only (SPEC §2)' },
};

interface Caller {
  readonly name: string;
  readonly key: string;
  readonly environment: Environment;
  readonly sameProject: boolean;
}

describe('isolation matrix (SPEC §2): other environments and other projects see nothing of (A, live)', () => {
  let stack: ApiStack;
  let routes: Route[];
  let callers: Caller[];
  /** Resource path → the value of its parameter for the resource made in (A, live). */
  const made: Record<string, string> = {};
  const cells: string[] = [];

  const send = (route: Route, p: string, key: string, headers: Record<string, string> = {}) => {
    const body = VALID_BODIES[route.name]?.();
    return rawRequest(stack.url, {
      method: route.method,
      path: p,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  };

  /** What (A, live) can read: every GET without a parameter, and every made resource through its GET routes. */
  const ownerView = async () => {
    const seen: Record<string, unknown> = {};
    for (const route of routes.filter((r) => r.method === 'get' && !['/v1/openapi.json', '/v1/slo'].includes(r.path))) {
      const p = pathFor(route, made);
      const res = await stack.api(p, { key: stack.keys.live });
      const list = res.body?.object === 'list' ? await stack.api(`${p}?limit=100`, { key: stack.keys.live }) : res;
      seen[p] = { status: list.status, body: withoutRequestIds(list.body) };
    }
    return seen;
  };

  beforeAll(async () => {
    stack = await startApiStack('proof_isolation');
    // Project B: keys minted as the environments service mints them (bootstrapDemo makes only the first project).
    const other = await stack.otherProject();
    routes = routeTable(stack.app).filter((r) => r.path.startsWith('/v1/'));
    callers = [
      ...ENVIRONMENTS.filter((e) => e !== 'live').map((e) => ({ name: `A/${e}`, key: stack.keys[e], environment: e, sameProject: true })),
      ...ENVIRONMENTS.map((e) => ({ name: `B/${e}`, key: other.keys[e], environment: e, sameProject: false })),
    ];
  }, 60_000);

  afterAll(async () => {
    closeRawAgent();
    await stack?.close();
  });

  const parameterised = () => routes.filter((r) => r.params.length > 0);

  it('has a fixture for the resource behind every path parameter of the route table', () => {
    const uncovered = parameterised()
      .filter((r) => {
        const resource = resourceOf(r) as string;
        return !RESOURCES[resource] && !NON_RESOURCE_PARAMS[resource];
      })
      .map((r) => `add a fixture for ${r.name} (RESOURCES in test/proof/proof-support.ts)`);
    expect(uncovered).toEqual([]);
    expect(parameterised().length).toBeGreaterThanOrEqual(20);
  });

  it('answers every other environment and project exactly as for an unknown id, and changes nothing of A', async () => {
    for (const resource of new Set(parameterised().map((r) => resourceOf(r) as string))) {
      if (RESOURCES[resource]) made[resource] = await RESOURCES[resource].create(stack.api, stack.keys.live);
    }
    const before = await ownerView();
    const problems: string[] = [];
    for (const route of parameterised()) {
      const resource = resourceOf(route) as string;
      const value = made[resource];
      if (value === undefined) continue; // NON_RESOURCE_PARAMS: listed, and checked by the mismatch test below
      const missing = missingLike(value);
      for (const caller of callers) {
        const res = await send(route, pathFor(route, made), caller.key);
        const unknown = await send(route, pathFor(route, made, missing), caller.key);
        const cell = `${route.name} as ${caller.name}`;
        cells.push(cell);
        const allowed403 = SPEC_403[resource]?.environments.includes(caller.environment) ? SPEC_403[resource] : undefined;
        const expected = allowed403 ? { status: 403, code: allowed403.code } : { status: 404, code: 'resource_missing' };
        // The same answer, id aside: nothing tells "exists elsewhere" from "never existed".
        const normal = (r: typeof res, id: string) => JSON.stringify(withoutRequestIds(r.body)).split(id).join('<id>');
        if (res.status !== expected.status || res.body?.error?.code !== expected.code) problems.push(`${cell}: ${res.status} ${res.text.slice(0, 200)}`);
        else if (normal(res, value) !== normal(unknown, missing) || res.status !== unknown.status) problems.push(`${cell}: differs from an unknown id: ${res.text} vs ${unknown.text}`);
        else if (errorShapeProblems(res).length) problems.push(`${cell}: ${errorShapeProblems(res).join('; ')}`);
      }
    }
    expect(problems).toEqual([]);
    // Writes from other scopes (DELETE, PATCH, pause, rotate…) touched nothing of A.
    expect(await ownerView()).toEqual(before);
  }, 120_000);

  it('refuses an API key sent with another environment in Sched-Environment or the Host, on every route with a parameter: 403', async () => {
    const problems: string[] = [];
    for (const route of parameterised()) {
      const at = pathFor(route, made);
      for (const headers of [{ 'sched-environment': 'sandbox' }, { 'sched-environment': 'test' }, { host: 'sandbox-api.example.com' }, { host: 'test-api.example.com' }] as Record<string, string>[]) {
        const res = await send(route, at, stack.keys.live, headers);
        cells.push(`${route.name} with ${JSON.stringify(headers)}`);
        if (res.status !== 403 || res.body?.error?.code !== 'environment_mismatch') problems.push(`${route.name} ${JSON.stringify(headers)}: ${res.status} ${res.text.slice(0, 200)}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('never shows what (A, live) made in a list of another environment or project', async () => {
    // A's live signing secret, a dataset row and every made id and name are needles; the lists are every GET without a parameter, plus rows.
    const secret = (await stack.api('/v1/signing-secret', { key: stack.keys.live })).body.secret as string;
    const schema = made['/v1/datasets/:schema'];
    const row = await stack.api(`/v1/datasets/${schema}/rows`, { key: stack.keys.live, body: { customer: `cus_${unique()}` } });
    expect(row.status).toBe(201);
    const needles = [...Object.values(made), secret, row.body.id, row.body.data.customer];
    const lists = routes.filter((r) => r.method === 'get' && (r.params.length === 0 || r.path === '/v1/datasets/:schema/rows') && r.path !== '/v1/openapi.json');
    const problems: string[] = [];
    for (const route of lists) {
      for (const caller of callers) {
        if (caller.sameProject && SHARED_ACROSS_ENVIRONMENTS[route.path]) continue;
        const p = pathFor(route, made);
        const first = await stack.api(p, { key: caller.key });
        const res = first.body?.object === 'list' ? await stack.api(`${p}?limit=100`, { key: caller.key }) : first;
        cells.push(`list ${route.name} as ${caller.name}`);
        const text = JSON.stringify(res.body);
        // A 404 for the rows of A's schema may repeat the name the caller put in the URL; nothing else may show.
        const leaked = needles.filter((n) => text.includes(n) && !(n === schema && p.includes(n) && res.status === 404));
        if (leaked.length) problems.push(`${route.name} as ${caller.name} shows ${leaked.join(', ')}`);
      }
    }
    expect(problems).toEqual([]);
    // The needles are really there for the owner, so their absence above means something.
    const own = JSON.stringify((await stack.api('/v1/processes?limit=100', { key: stack.keys.live })).body);
    expect(own).toContain(made['/v1/processes/:id']);
  });

  it('scopes idempotency keys by project and environment: the same key makes independent schedules', async () => {
    const key = `proof-${unique()}`;
    const ids = new Set<string>();
    for (const apiKey of [stack.keys.live, ...callers.map((c) => c.key)]) {
      const res = await stack.api('/v1/schedules', { key: apiKey, body: YEARLY, headers: { 'idempotency-key': key } });
      expect(res.status).toBe(201);
      expect(res.headers.get('idempotent-replayed')).toBeNull();
      ids.add(res.body.id);
    }
    expect(ids.size).toBe(1 + callers.length);
    // Within one scope the key still replays.
    const again = await stack.api('/v1/schedules', { key: stack.keys.live, body: YEARLY, headers: { 'idempotency-key': key } });
    expect(again.headers.get('idempotent-replayed')).toBe('true');
  });

  afterAll(() => {
    mkdirSync(path.dirname(REPORT), { recursive: true });
    const resources = Object.keys(made);
    writeFileSync(
      REPORT,
      `${JSON.stringify({ generated_at: new Date().toISOString(), routes_with_parameters: parameterised().map((r) => r.name), resources, non_resource_parameters: NON_RESOURCE_PARAMS, shared_lists: SHARED_ACROSS_ENVIRONMENTS, spec_403: SPEC_403, callers: callers.map((c) => c.name), cells: cells.length }, null, 2)}\n`,
    );
  });
});
