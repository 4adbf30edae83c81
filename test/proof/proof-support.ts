import { request as httpRequest, Agent } from 'node:http';
import type { INestApplication } from '@nestjs/common';
import { randomToken } from '@schedstack/contracts';
import type { TestStack } from '../support';
import { eventually } from '../support/eventually';

/**
 * What the proof suites share: the gateway's route table read from its running router, a raw
 * HTTP client (exact bytes and headers, a hard timeout), the SPEC §8 error-shape check, and one
 * fixture per resource that sits behind a path parameter.
 */

export interface Route {
  /** Lower case, as Express stores it. */
  readonly method: string;
  /** Express form: `/v1/schedules/:id/pause`. */
  readonly path: string;
  /** `post /v1/schedules/{id}/pause`, the OpenAPI form. */
  readonly name: string;
  readonly params: readonly string[];
}

/** Every (method, path) the running gateway answers, read from its HTTP router (as test/e2e/openapi.e2e.ts does). */
export function routeTable(app: INestApplication): Route[] {
  const router = app.getHttpAdapter().getInstance().router as { stack: { route?: { path: string; methods: Record<string, boolean> } }[] };
  return router.stack.flatMap(({ route }) =>
    route
      ? Object.keys(route.methods)
          .filter((method) => method !== '_all')
          .map((method) => ({
            method,
            path: route.path,
            name: `${method} ${route.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`,
            params: [...route.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]),
          }))
      : [],
  );
}

export const WRITE_METHODS = new Set(['post', 'put', 'patch', 'delete']);

/** The route up to and including its first path parameter: the resource it addresses. */
export const resourceOf = (route: Route): string | null => /^(.*?\/:[A-Za-z0-9_]+)/.exec(route.path)?.[1] ?? null;

export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  readonly body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface RawRequest {
  readonly method: string;
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: string | Buffer;
  readonly timeoutMs?: number;
}

const agent = new Agent({ keepAlive: true, maxSockets: 8 });

/**
 * One request exactly as given: no content-type is added, the path is not normalised, and a server
 * that does not answer within `timeoutMs` fails the request ("never a hang").
 */
export function rawRequest(baseUrl: string, req: RawRequest): Promise<RawResponse> {
  const url = new URL(baseUrl);
  const body = req.body === undefined ? undefined : Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body, 'utf8');
  const headers: Record<string, string> = { ...(req.headers ?? {}) };
  if (body) headers['content-length'] = String(body.length);
  const timeoutMs = req.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      { host: url.hostname, port: url.port, method: req.method.toUpperCase(), path: req.path, headers, agent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          clearTimeout(timer);
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : null;
          } catch {
            // not JSON: the shape check reports it
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body: parsed });
        });
        res.on('error', reject);
      },
    );
    const timer = setTimeout(() => {
      outgoing.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms: ${req.method.toUpperCase()} ${req.path.slice(0, 120)}`));
    }, timeoutMs);
    outgoing.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    outgoing.end(body);
  });
}

/** Closes the shared keep-alive sockets (call in afterAll so jest sees no open handles). */
export const closeRawAgent = (): void => agent.destroy();

const ERROR_TYPES = ['invalid_request_error', 'authentication_error', 'permission_error', 'idempotency_error', 'rate_limit_error', 'api_error'];

/**
 * SPEC §8: `{"error": {type, code, message, param, request_id}}` and nothing else, the request id
 * equal to the Request-Id header. Returns what is wrong (empty when the body is right).
 */
export function errorShapeProblems(res: Pick<RawResponse, 'body' | 'headers'>): string[] {
  const body = res.body as { error?: Record<string, unknown> } | null;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return [`body is not a JSON object: ${String(res.body).slice(0, 100)}`];
  const problems: string[] = [];
  if (Object.keys(body).join() !== 'error') problems.push(`top-level keys ${Object.keys(body).join()}`);
  const error = body.error ?? {};
  const extra = Object.keys(error).filter((k) => !['type', 'code', 'message', 'param', 'request_id'].includes(k));
  if (extra.length) problems.push(`unexpected error keys ${extra.join()}`);
  if (!ERROR_TYPES.includes(error.type as string)) problems.push(`type ${String(error.type)}`);
  if (typeof error.code !== 'string' || !/^[a-z_]+$/.test(error.code)) problems.push(`code ${String(error.code)}`);
  if (typeof error.message !== 'string' || error.message.length === 0) problems.push('message missing');
  if (!(error.param === null || typeof error.param === 'string')) problems.push(`param ${String(error.param)}`);
  const requestId = res.headers['request-id'];
  if (typeof error.request_id !== 'string' || !error.request_id.startsWith('req_') || error.request_id !== requestId) {
    problems.push(`request_id ${String(error.request_id)} vs Request-Id ${String(requestId)}`);
  }
  return problems;
}

let counter = 0;
/** A short unique token for names (lower case, so it fits every naming rule). */
export const unique = (): string => `${Date.now().toString(36)}${(counter++).toString(36)}${randomToken(4).toLowerCase()}`;

/** A value of the same shape as `value` that names nothing: the same prefix, a fresh random tail. */
export function missingLike(value: string): string {
  const cut = value.lastIndexOf('_') + 1;
  const tail = value.slice(cut);
  const fresh = randomToken(Math.max(tail.length, 8));
  return value.slice(0, cut) + (tail === tail.toLowerCase() ? fresh.toLowerCase() : fresh);
}

type Api = TestStack['api'];

async function created(api: Api, key: string, path: string, body: unknown, field = 'id'): Promise<string> {
  const res = await api(path, { key, body });
  if (res.status !== 201) throw new Error(`fixture POST ${path} answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body[field] as string;
}

/** A resource behind a path parameter: how to make one in the scope of a key, and the parameter's value. */
export interface ResourceFixture {
  /** Which environments can hold one (members are written through live only, SPEC §2). */
  readonly environments?: readonly string[];
  create(api: Api, key: string): Promise<string>;
}

/** A target that never fires during a suite: once a year, at new year. */
export const YEARLY = { endpoint: 'https://example.com/proof', cron: '0 0 1 1 *' };

/**
 * One fixture per resource path (`resourceOf(route)`). A route whose resource is missing here
 * fails the isolation matrix with "add a fixture for <route>".
 */
export const RESOURCES: Record<string, ResourceFixture> = {
  '/v1/schedules/:id': { create: (api, key) => created(api, key, '/v1/schedules', YEARLY) },
  '/v1/deliveries/:id': {
    // A delivery is planned by the schedules service for a schedule's next fire.
    async create(api, key) {
      const schedule = await created(api, key, '/v1/schedules', YEARLY);
      return eventually(async () => (await api(`/v1/deliveries?schedule=${schedule}`, { key })).body?.data?.[0]?.id as string | undefined);
    },
  },
  '/v1/webhook-endpoints/:id': { create: (api, key) => created(api, key, '/v1/webhook-endpoints', { url: 'https://example.com/proof-hooks', events: ['environment.cloned'] }) },
  '/v1/api-keys/:id': { create: (api, key) => created(api, key, '/v1/api-keys', { name: `proof ${unique()}` }) },
  '/v1/processes/:id': { create: (api, key) => created(api, key, '/v1/processes', { name: `proof-${unique()}` }) },
  '/v1/themes/:id': { create: (api, key) => created(api, key, '/v1/themes', { name: `proof-${unique()}` }) },
  '/v1/fields/:id': { create: (api, key) => created(api, key, '/v1/fields', { name: `proof_${unique()}`, type: 'string' }) },
  '/v1/translations/:id': { create: (api, key) => created(api, key, '/v1/translations', { locale: `en-${unique().slice(-8)}`, messages: { hello: 'Hello' } }) },
  '/v1/dataset-schemas/:id': { create: (api, key) => created(api, key, '/v1/dataset-schemas', { name: `proof_${unique()}`, fields: [{ name: 'customer', type: 'string', required: true }] }) },
  '/v1/datasets/:schema': {
    create: (api, key) => created(api, key, '/v1/dataset-schemas', { name: `proof_${unique()}`, fields: [{ name: 'customer', type: 'string', required: true }] }, 'name'),
  },
  '/v1/members/:user': {
    environments: ['live'],
    create: (api, key) => created(api, key, '/v1/members', { email: `proof-${unique()}@example.com`, role: 'viewer' }),
  },
};

/** Path parameters that name no resource of a scope, with why (the isolation matrix lists them). */
export const NON_RESOURCE_PARAMS: Record<string, { readonly value: string; readonly why: string }> = {
  '/v1/environments/:environment': { value: 'test', why: 'names the clone target of the caller’s own project (live → sandbox|test), not a resource of another scope' },
};

/**
 * A request body each write route accepts (with a fixture's ids in its path), so a refusal in a
 * proof is caused by what the proof changed, not by a body that was wrong anyway. Routes without
 * a body are absent.
 */
export const VALID_BODIES: Record<string, () => unknown> = {
  'post /v1/schedules': () => YEARLY,
  'post /v1/schedules/{id}/pause': () => ({}),
  'post /v1/schedules/{id}/resume': () => ({}),
  'post /v1/webhook-endpoints': () => ({ url: 'https://example.com/proof-hooks', events: ['environment.cloned'] }),
  'patch /v1/webhook-endpoints/{id}': () => ({ description: 'proof' }),
  'post /v1/sessions': () => ({ email: 'nobody@example.com', password: 'not the password' }),
  'post /v1/members': () => ({ email: `proof-${unique()}@example.com`, role: 'viewer' }),
  'patch /v1/members/{user}': () => ({ role: 'viewer' }),
  'post /v1/api-keys': () => ({ name: 'proof' }),
  'post /v1/processes': () => ({ name: `proof-${unique()}` }),
  'patch /v1/processes/{id}': () => ({ vendor: false }),
  'post /v1/themes': () => ({ name: `proof-${unique()}` }),
  'patch /v1/themes/{id}': () => ({ product_name: 'Proof' }),
  'post /v1/fields': () => ({ name: `proof_${unique()}`, type: 'string' }),
  'patch /v1/fields/{id}': () => ({ required: false }),
  'post /v1/translations': () => ({ locale: `en-${unique().slice(-8)}`, messages: { hello: 'Hello' } }),
  'patch /v1/translations/{id}': () => ({ messages: { hello: 'Hi' } }),
  'post /v1/dataset-schemas': () => ({ name: `proof_${unique()}`, fields: [{ name: 'customer', type: 'string', required: true }] }),
  'patch /v1/dataset-schemas/{id}': () => ({ fields: [{ name: 'customer', type: 'string', required: true }] }),
  'post /v1/datasets/{schema}/rows': () => ({ customer: 'cus_1' }),
  'post /v1/environments/{environment}/clone': () => ({ dry_run: true }),
  'patch /v1/limits': () => ({ requests_per_second: 100_000 }),
};

/** Fills a route's parameters from `values` (keyed by resource path), or with a fresh id where none is known. */
export function pathFor(route: Route, values: Record<string, string>, override?: string): string {
  let path = route.path;
  for (const param of route.params) {
    const resource = route.path.slice(0, route.path.indexOf(`:${param}`) + param.length + 1);
    const value = override ?? values[resource] ?? NON_RESOURCE_PARAMS[resource]?.value ?? `${param}_${randomToken(22)}`;
    path = path.replace(`:${param}`, encodeURIComponent(value));
  }
  return path;
}

/** Removes what differs between two identical answers (request ids), so read models can be compared. */
export function withoutRequestIds(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutRequestIds);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).filter(([k]) => k !== 'request_id').map(([k, v]) => [k, withoutRequestIds(v)]));
}
