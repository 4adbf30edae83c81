import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ENVIRONMENTS, type Environment, randomToken } from '@schedstack/contracts';
import fc from 'fast-check';
import { type ApiStack, startApiStack } from '../support/api-stack';
import { eventually } from '../support/eventually';
import {
  closeRawAgent,
  errorShapeProblems,
  pathFor,
  rawRequest,
  RESOURCES,
  type Route,
  routeTable,
  VALID_BODIES,
  withoutRequestIds,
  WRITE_METHODS,
  YEARLY,
} from './proof-support';

/**
 * SPEC §8 by property: every write route of the running gateway (read from its router, so a new
 * route is fuzzed without editing this file) gets inputs that are invalid by construction —
 * each family below breaks one rule the API states — and must answer the family's 4xx with a
 * Stripe-style body, never a 5xx or silence; afterwards every read model is unchanged and the
 * server is ready. A last phase sends hostile but well-formed text, which may be accepted.
 */

/** Runs per (route, family): ~12 families, so 40–60 inputs per route. */
const RUNS = 5;
const HOSTILE_VALID_RUNS = 12;
const BODY_LIMIT = 256 * 1024;
const MAX_DEPTH = 32;
const REPORT = path.resolve(__dirname, '..', '..', 'tmp', 'proof', 'fuzz.json');

type JsonType = 'string' | 'number' | 'integer' | 'boolean' | 'null' | 'object' | 'array';
interface Prop {
  readonly name: string;
  /** The JSON types the document allows; null when the document is too loose to say (see `documentedTypes`). */
  readonly types: ReadonlySet<JsonType> | null;
  /** A map property (`additionalProperties`): entries can be fuzzed too. */
  readonly map: boolean;
  readonly required: boolean;
}
interface Expectation {
  readonly statuses: readonly number[];
  readonly codes?: readonly string[];
  /** The parameter the error must name (exact), or a predicate. */
  readonly param?: string | null | ((param: unknown) => boolean);
}
interface FuzzCase {
  readonly family: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: string | Buffer;
  readonly expect: Expectation;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type OpenApi = { paths: Record<string, Record<string, any>>; components: { schemas: Record<string, any> } };

const jsonTypeOf = (v: unknown): JsonType =>
  v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v === 'number' ? (Number.isInteger(v) ? 'integer' : 'number') : (typeof v as JsonType);
const allows = (types: ReadonlySet<JsonType>, v: unknown) => {
  const t = jsonTypeOf(v);
  return types.has(t) || (t === 'integer' && types.has('number'));
};
const notJson = (text: string) => {
  try {
    JSON.parse(text);
    return false;
  } catch {
    return true;
  }
};
const UNPAIRED = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const storable = (s: string) => !s.includes('\u0000') && !UNPAIRED.test(s);

/** Header-safe text: printable ASCII and Latin-1 (what an HTTP client can put in a header). */
const headerText = (options: { minLength?: number; maxLength?: number } = {}) =>
  fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).filter((c) => c !== 0x7f && (c < 0x80 || c > 0x9f)).map((c) => String.fromCharCode(c)), ...options });

/**
 * The JSON types a property schema allows. `type: object` with no properties, map or reference is
 * how @nestjs/swagger renders a union it cannot name (e.g. `max_attempts`, number or string), so
 * such a property gets no wrong-type inputs rather than wrong ones.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function documentedTypes(schema: any): Set<JsonType> | null {
  if (!schema) return null;
  if (schema.$ref || schema.allOf) return new Set(['object', ...(schema.type === 'null' || schema.type?.includes?.('null') ? (['null'] as const) : [])]);
  if (schema.oneOf || schema.anyOf) {
    const all = new Set<JsonType>();
    for (const branch of schema.oneOf ?? schema.anyOf) {
      const types = documentedTypes(branch);
      if (!types) return null;
      types.forEach((t) => all.add(t));
    }
    return all;
  }
  const types = ([] as JsonType[]).concat(schema.type ?? []);
  if (types.length === 0) return null;
  if (types.includes('object') && !schema.properties && !schema.additionalProperties) return null;
  return new Set(types);
}

function bodyProps(doc: OpenApi, route: Route): Prop[] | null {
  const operation = doc.paths[route.name.slice(route.method.length + 1)]?.[route.method];
  let schema = operation?.requestBody?.content?.['application/json']?.schema;
  if (!schema) return null;
  if (schema.$ref) schema = doc.components.schemas[schema.$ref.split('/').pop()];
  const required: string[] = schema.required ?? [];
  return Object.entries<Record<string, unknown>>(schema.properties ?? {}).map(([name, prop]) => {
    const types = documentedTypes(prop);
    // The API reads null for an optional property as "not given" (Stripe's convention), though the document does not say nullable.
    if (types && !required.includes(name)) types.add('null');
    return { name, types, map: Boolean(prop.additionalProperties), required: required.includes(name) };
  });
}

const isPublic = (doc: OpenApi, route: Route) => {
  const security = doc.paths[route.name.slice(route.method.length + 1)]?.[route.method]?.security;
  return Array.isArray(security) && security.length === 0;
};
const takesIdempotencyKey = (doc: OpenApi, route: Route) =>
  (doc.paths[route.name.slice(route.method.length + 1)]?.[route.method]?.parameters ?? []).some((p: { name: string }) => p.name === 'Idempotency-Key');

/** Values of every JSON type; the wrong-type family keeps those the document does not allow. */
const anyJson = fc.oneof(
  fc.boolean(),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.string({ maxLength: 20 }),
  fc.constant(null),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
);

/** Text PostgreSQL cannot keep — NUL or half a surrogate pair — sometimes 100k characters long. */
const unstorableText = fc
  .tuple(
    fc.string({ unit: 'grapheme', maxLength: 30 }),
    fc.constantFrom('\u0000', '\uD800', '\uDFFF', '\uDBFFA', 'a\u0000b', '\uDC00\uD800'),
    fc.string({ unit: 'grapheme', maxLength: 30 }),
    fc.boolean(),
  )
  .map(([a, bad, b, huge]) => (huge ? `${'x'.repeat(100_000)}${a}${bad}${b}` : `${a}${bad}${b}`));

/** Hostile text that is well formed, so the API may accept it: emoji, bidi overrides, 100k characters… */
const hostileValidText = fc.oneof(
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }).filter(storable),
  fc.constantFrom('😀🎉👩‍👩‍👧‍👦', '\u202Eevil\u202C', 'zero\u200Bwidth', 'e\u0301', '\uFEFFbom', '\uFFFF', '\u0001\u001f', '𝕏𝕐', "'; DROP TABLE x; --", '{{7*7}}', '../../etc/passwd', '%00', '\\u0000'),
  fc.integer({ min: 100_000, max: 100_050 }).map((n) => 'x'.repeat(n)),
  fc.integer({ min: 30_000, max: 30_010 }).map((n) => '😀'.repeat(n)),
);

describe('fuzzing every write endpoint (SPEC §8: 4xx, Stripe-style, nothing written, still ready)', () => {
  let stack: ApiStack;
  let doc: OpenApi;
  let routes: Route[];
  let writes: Route[];
  /** Path-parameter values of real resources (in live), keyed by resource path. */
  const seeds: Record<string, string> = {};
  let snapshotPaths: string[];
  let before: Record<string, unknown>;
  const stats = {
    endpoints: [] as string[],
    inputs: 0,
    statuses: {} as Record<string, number>,
    families: {} as Record<string, number>,
    per_endpoint: {} as Record<string, { inputs: number; statuses: Record<string, number> }>,
    hostile_valid: { inputs: 0, statuses: {} as Record<string, number> },
    loose_properties: [] as string[],
  };

  const send = (c: Pick<FuzzCase, 'path' | 'headers' | 'body'> & { method: string }) =>
    rawRequest(stack.url, { method: c.method, path: c.path, headers: c.headers, body: c.body, timeoutMs: 15_000 });

  /** Everything a client can read, in every environment: lists (with limit=100) and the seeded objects. */
  const snapshot = async () => {
    const seen: Record<string, unknown> = {};
    for (const environment of ENVIRONMENTS) {
      for (const p of snapshotPaths) {
        const res = await stack.api(p, { key: stack.keys[environment] });
        const list = res.body?.object === 'list' ? await stack.api(`${p}?limit=100`, { key: stack.keys[environment] }) : res;
        seen[`${environment} ${p}`] = { status: list.status, body: withoutRequestIds(list.body) };
      }
    }
    return seen;
  };

  beforeAll(async () => {
    stack = await startApiStack('proof_fuzz');
    doc = (await stack.api('/v1/openapi.json')).body;
    routes = routeTable(stack.app);
    writes = routes.filter((r) => WRITE_METHODS.has(r.method));
    // Real resources behind every path parameter, so a fuzzed request that slipped through would change one.
    for (const [resource, fixture] of Object.entries(RESOURCES)) seeds[resource] = await fixture.create(stack.api, stack.keys.live);
    await stack.api(`/v1/datasets/${seeds['/v1/datasets/:schema']}/rows`, { key: stack.keys.live, body: { customer: 'cus_seed' } });
    // Non-empty lists in the other environments too.
    await stack.api('/v1/schedules', { key: stack.keys.test, body: YEARLY });
    await stack.api('/v1/processes', { key: stack.keys.sandbox, body: { name: 'seeded' } });
    // SPEC §8 lists deliveries as client data: wait until the planned ones are projected, so the snapshot is settled.
    await eventually(async () => (await stack.api('/v1/deliveries?limit=100', { key: stack.keys.live })).body.data.length === 2);
    await eventually(async () => (await stack.api('/v1/deliveries?limit=100', { key: stack.keys.test })).body.data.length === 1);
    // Every GET under /v1 but the OpenAPI document (static) and the SLO report (a window sliding with the clock).
    snapshotPaths = routes
      .filter((r) => r.method === 'get' && r.path.startsWith('/v1/') && !['/v1/openapi.json', '/v1/slo'].includes(r.path))
      .map((r) => pathFor(r, seeds));
    before = await snapshot();
  }, 60_000);

  afterAll(async () => {
    closeRawAgent();
    await stack?.close();
  });

  /** The families of invalid input that apply to a route; each names the 4xx it must get. */
  function families(route: Route): Record<string, fc.Arbitrary<FuzzCase>> {
    const live = stack.keys.live;
    const auth = (key: string) => ({ authorization: `Bearer ${key}` });
    const json = { ...auth(live), 'content-type': 'application/json' };
    const valid = () => VALID_BODIES[route.name]?.();
    const validText = () => (valid() === undefined ? undefined : JSON.stringify(valid()));
    const at = pathFor(route, seeds);
    const props = bodyProps(doc, route);
    const out: Record<string, fc.Arbitrary<FuzzCase>> = {
      'non-object JSON': fc
        .jsonValue({ maxDepth: 3, stringUnit: 'binary' })
        .filter((v) => typeof v !== 'object' || v === null || Array.isArray(v))
        .map((v) => ({ family: 'non-object JSON', path: at, headers: json, body: JSON.stringify(v), expect: { statuses: [400], codes: ['body_invalid_json', 'body_invalid'] } })),
      'malformed JSON': fc
        .oneof(
          fc.string({ unit: 'binary', minLength: 1, maxLength: 200 }),
          fc.jsonValue({ maxDepth: 3 }).chain((v) => {
            const text = JSON.stringify({ k: v });
            return fc.integer({ min: 1, max: text.length - 1 }).map((n) => text.slice(0, n));
          }),
          fc.constantFrom("{'a':1}", '{"a":1,}', '{"a":1} x', '{a:1}', 'NaN', '{"a":NaN}', '{"a":undefined}', '{"a":01}', '{"a":"\\x41"}', '{"a":"\t"}'),
        )
        // What the server decodes (a lone surrogate arrives as U+FFFD) must not be JSON.
        .filter((text) => notJson(Buffer.from(text, 'utf8').toString('utf8')))
        .map((text) => ({ family: 'malformed JSON', path: at, headers: json, body: text, expect: { statuses: [400], codes: ['body_invalid_json'] } })),
      'oversized body': fc.record({ extra: fc.integer({ min: 1, max: 64 * 1024 }), fill: fc.constantFrom('x', 'é', '😀'), typed: fc.boolean() }).map(({ extra, fill, typed }) => {
        const count = Math.ceil((BODY_LIMIT + extra) / Buffer.byteLength(fill));
        return {
          family: 'oversized body',
          path: at,
          headers: typed ? json : auth(live),
          body: `{"pad":"${fill.repeat(count)}"}`,
          expect: { statuses: [413], codes: ['body_too_large'] },
        };
      }),
      'deep nesting': fc.record({ depth: fc.integer({ min: MAX_DEPTH + 1, max: 10_000 }), arrays: fc.boolean() }).map(({ depth, arrays }) => ({
        family: 'deep nesting',
        path: at,
        headers: json,
        body: arrays ? `{"a":${'['.repeat(depth)}${']'.repeat(depth)}}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`,
        expect: { statuses: [400], codes: ['body_too_deep'] },
      })),
      'unstorable text': fc
        .record({ text: unstorableText, inKey: fc.boolean(), pick: fc.nat() })
        .map(({ text, inKey, pick }) => {
          // Into a documented property (or one of a map's entries) when there are any, else a field of its own.
          const prop = props && props.length > 0 ? props[pick % props.length] : null;
          const name = prop?.name ?? 'note';
          const base = (valid() ?? {}) as Record<string, unknown>;
          const [value, param] = prop?.map || !prop ? (inKey ? [{ [text]: 'v' }, `${name}.${text}`] : [{ k: text }, `${name}.k`]) : [text, name];
          return { family: 'unstorable text', path: at, headers: json, body: JSON.stringify({ ...base, [name]: value }), expect: { statuses: [400], codes: ['parameter_invalid'], param } };
        }),
      'undecodable body': fc
        .oneof(
          // Not JSON at all, under its own content type, none, or a wrong one.
          fc
            .oneof(
              fc.dictionary(fc.stringMatching(/^[a-z]{1,8}$/), fc.stringMatching(/^[a-z0-9]{0,8}$/), { minKeys: 1, maxKeys: 4 }).map((form) => ({
                body: new URLSearchParams(form).toString() as string | Buffer,
                own: 'application/x-www-form-urlencoded',
              })),
              fc.constant({ body: '--X\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n--X--\r\n', own: 'multipart/form-data; boundary=X' }),
              fc.constant({ body: '<schedule><endpoint>https://example.com</endpoint></schedule>', own: 'application/xml' }),
              fc
                .uint8Array({ minLength: 1, maxLength: 256 })
                .filter((bytes) => notJson(Buffer.from(bytes).toString('utf8')))
                .map((bytes) => ({ body: Buffer.from(bytes), own: 'application/octet-stream' })),
            )
            .chain(({ body, own }) =>
              fc.constantFrom<string | undefined>(own, undefined, 'text/plain', 'application/json').map((type) => ({ body, headers: (type ? { 'content-type': type } : {}) as Record<string, string> })),
            ),
          // A JSON body in a charset the parser does not take, or claiming an encoding it is not in.
          fc.constantFrom('latin1', 'iso-8859-1', 'ucs-2', 'koi8-r', 'x-fuzz', 'utf-16').map((charset) => ({
            body: JSON.stringify(valid() ?? {}) as string | Buffer,
            headers: { 'content-type': `application/json; charset=${charset}` } as Record<string, string>,
          })),
          fc.constantFrom('gzip', 'deflate', 'br', 'x-fuzz').map((encoding) => ({
            body: JSON.stringify(valid() ?? {}) as string | Buffer,
            headers: { 'content-type': 'application/json', 'content-encoding': encoding } as Record<string, string>,
          })),
        )
        .map(({ body, headers }) => ({ family: 'undecodable body', path: at, headers: { ...auth(live), ...headers }, body, expect: { statuses: [400] } })),
    };
    if (props) {
      out['unknown field'] = fc
        .dictionary(fc.stringMatching(/^[a-z0-9_]{1,12}$/).map((k) => `x_fuzz_${k}`), fc.jsonValue({ maxDepth: 3, stringUnit: 'grapheme' }), { minKeys: 1, maxKeys: 4 })
        .map((extra) => ({
          family: 'unknown field',
          path: at,
          headers: json,
          body: JSON.stringify({ ...((valid() ?? {}) as object), ...extra }),
          expect: { statuses: [400], param: (p: unknown) => typeof p === 'string' && p.startsWith('x_fuzz_') },
        }));
      const typed = props.filter((p) => p.types);
      stats.loose_properties.push(...props.filter((p) => !p.types).map((p) => `${route.name} ${p.name}`));
      if (typed.length > 0) {
        out['wrong type'] = fc
          .constantFrom(...typed)
          .chain((prop) => anyJson.filter((v) => !allows(prop.types as Set<JsonType>, v)).map((v) => ({ prop, v })))
          .map(({ prop, v }) => ({
            family: 'wrong type',
            path: at,
            headers: json,
            body: JSON.stringify({ ...((valid() ?? {}) as object), [prop.name]: v }),
            expect: { statuses: [400], param: (p: unknown) => typeof p === 'string' && (p === prop.name || p.startsWith(`${prop.name}.`) || p.startsWith(`${prop.name}[`)) },
          }));
      }
    }
    if (!isPublic(doc, route)) {
      const realKey = fc.constantFrom(...ENVIRONMENTS).map((e) => stack.keys[e]);
      out['bad credentials'] = fc
        .oneof(
          fc.constant<string | undefined>(undefined),
          headerText({ maxLength: 60 }),
          headerText({ maxLength: 60 }).map((t) => `Bearer ${t}`),
          fc.constantFrom('sk_live_', 'sk_sandbox_', 'sk_test_', 'sess_').map((p) => `Bearer ${p}${randomToken(32)}`),
          // A real key with one character changed.
          fc.tuple(realKey, fc.nat(), fc.constantFrom(...'0aZ_-.')).map(([key, i, c]) => {
            const at = i % key.length;
            return `Bearer ${key.slice(0, at)}${key[at] === c ? '9' : c}${key.slice(at + 1)}`;
          }),
          fc.constantFrom('Basic dXNlcjpwYXNz', 'Bearer', 'bearer  ', `Token ${live}`, `Bearer ${live} ${live}`, `Bearer ${live}x`),
        )
        .map((authorization) => {
          const headers: Record<string, string> = {};
          if (authorization !== undefined) headers.authorization = authorization;
          const body = validText();
          if (body) headers['content-type'] = 'application/json';
          return { family: 'bad credentials', path: at, headers, body, expect: { statuses: [401], codes: ['api_key_missing', 'api_key_invalid', 'session_invalid'] } };
        });
      out['Sched-Environment mismatch'] = fc
        .record({ environment: fc.constantFrom(...ENVIRONMENTS), named: fc.oneof(fc.constantFrom<string>(...ENVIRONMENTS, 'LIVE', 'Test', 'production', 'staging', '', 'live,test', '*'), headerText({ maxLength: 30 })) })
        // HTTP trims spaces and tabs around a header value: what arrives must differ from the key's environment.
        .filter(({ environment, named }) => named.replace(/^[ \t]+|[ \t]+$/g, '') !== environment)
        .map(({ environment, named }) => {
          const headers: Record<string, string> = { ...auth(stack.keys[environment as Environment]), 'sched-environment': named };
          const body = validText();
          if (body) headers['content-type'] = 'application/json';
          return { family: 'Sched-Environment mismatch', path: at, headers, body, expect: { statuses: [403], codes: ['environment_mismatch'] } };
        });
    }
    if (takesIdempotencyKey(doc, route)) {
      out['bad Idempotency-Key'] = fc
        // Too long, empty, or holding a control character — each still so once HTTP trims the value's ends.
        .oneof(
          headerText({ minLength: 256, maxLength: 2_000 }).map((k) => `k${k}k`),
          fc.constant(''),
          fc.tuple(headerText({ maxLength: 20 }), headerText({ maxLength: 20 })).map(([a, b]) => `k${a}\t${b}k`),
        )
        .map((key) => ({
          family: 'bad Idempotency-Key',
          path: at,
          headers: { ...json, 'idempotency-key': key },
          body: validText() ?? '{}',
          expect: { statuses: [400], codes: ['parameter_invalid'], param: 'Idempotency-Key' },
        }));
    }
    if (route.params.length > 0) {
      out['unknown or hostile id'] = fc
        .oneof(
          fc.string({ unit: 'grapheme', minLength: 1, maxLength: 60 }).map((id) => encodeURIComponent(id)),
          fc.constantFrom('sch', 'dlv', 'we', 'key', 'proc', 'thm', 'fld', 'trn', 'dss', 'usr').map((p) => `${p}_${randomToken(22)}`),
          // Raw forms no encoder makes: NUL, a lone surrogate in UTF-8 form, a broken escape, dot segments.
          fc.constantFrom('%00', 'a%00b', '%ED%A0%80', '%E0%A4%A', '%', '..', '.', '%2e%2e', '%2F..%2F'),
        )
        .filter((id) => !Object.values(seeds).map(encodeURIComponent).includes(id) && !ENVIRONMENTS.includes(decodeSafe(id) as Environment))
        .map((id) => {
          let p = route.path;
          for (const param of route.params) p = p.replace(`:${param}`, id);
          const body = validText();
          return { family: 'unknown or hostile id', path: p, headers: body ? json : auth(live), body, expect: { statuses: [400, 404] } };
        });
    }
    return out;
  }

  const record = (route: Route, family: string, status: number) => {
    stats.inputs++;
    stats.statuses[status] = (stats.statuses[status] ?? 0) + 1;
    stats.families[family] = (stats.families[family] ?? 0) + 1;
    const mine = (stats.per_endpoint[route.name] ??= { inputs: 0, statuses: {} });
    mine.inputs++;
    mine.statuses[status] = (mine.statuses[status] ?? 0) + 1;
  };

  /** Why the answer to `c` is wrong, or nothing. */
  function judge(c: FuzzCase, res: Awaited<ReturnType<typeof send>>): string[] {
    const problems: string[] = [];
    if (res.status < 400 || res.status > 499) problems.push(`status ${res.status} is not a 4xx`);
    else if (!c.expect.statuses.includes(res.status)) problems.push(`status ${res.status}, expected ${c.expect.statuses.join('/')}`);
    problems.push(...errorShapeProblems(res));
    const error = res.body?.error ?? {};
    if (c.expect.codes && !c.expect.codes.includes(error.code)) problems.push(`code ${error.code}, expected ${c.expect.codes.join('/')}`);
    const param = c.expect.param;
    if (typeof param === 'function' ? !param(error.param) : param !== undefined && error.param !== param) problems.push(`param ${JSON.stringify(error.param)}`);
    return problems;
  }

  it('answers every invalid input to every write route with its 4xx and a Stripe-style error', async () => {
    expect(writes.length).toBeGreaterThanOrEqual(30);
    const failures: string[] = [];
    for (const route of writes) {
      stats.endpoints.push(route.name);
      for (const [family, arbitrary] of Object.entries(families(route))) {
        const run = await fc.check(
          fc.asyncProperty(arbitrary, async (c) => {
            const res = await send({ ...c, method: route.method });
            record(route, family, res.status);
            const problems = judge(c, res);
            if (problems.length > 0) throw new Error(`${problems.join('; ')} — answer: ${res.text.slice(0, 300)}`);
          }),
          { numRuns: RUNS },
        );
        if (run.failed) failures.push(`${route.name} [${family}]: ${failureOf(run)}`);
      }
    }
    expect(failures).toEqual([]);
  }, 120_000);

  it('wrote nothing: every read model of every environment is unchanged', async () => {
    expect(await snapshot()).toEqual(before);
  });

  it('keeps answering: /readyz and /healthz are 200 after the run', async () => {
    expect((await stack.api('/readyz')).status).toBe(200);
    expect((await stack.api('/healthz')).status).toBe(200);
  });

  it('never answers hostile but well-formed text with a 5xx, and stores exactly what it acknowledged', async () => {
    const failures: string[] = [];
    for (const route of writes) {
      const props = (bodyProps(doc, route) ?? []).filter((p) => p.types?.has('string') || p.map);
      if (props.length === 0 || !VALID_BODIES[route.name]) continue;
      // A PATCH reads back at its own path; a create at `<collection>/:id`.
      const readPath = route.params.length > 0 ? route.path : `${route.path}/:id`;
      const readBack = routes.find((r) => r.method === 'get' && r.path === readPath);
      const run = await fc.check(
          fc.asyncProperty(fc.constantFrom(...props), hostileValidText, fc.boolean(), async (prop, text, inKey) => {
            const value = prop.map ? { [inKey ? text.slice(0, 40) : 'k']: inKey ? 'v' : text } : text;
            const body = JSON.stringify({ ...(VALID_BODIES[route.name]() as object), [prop.name]: value });
            const at = pathFor(route, seeds);
            const res = await send({ method: route.method, path: at, headers: { authorization: `Bearer ${stack.keys.live}`, 'content-type': 'application/json' }, body });
            stats.hostile_valid.inputs++;
            stats.hostile_valid.statuses[res.status] = (stats.hostile_valid.statuses[res.status] ?? 0) + 1;
            if (res.status >= 500) throw new Error(`status ${res.status}: ${res.text.slice(0, 300)}`);
            if (res.status >= 400) {
              const problems = errorShapeProblems(res);
              if (problems.length) throw new Error(problems.join('; '));
              return;
            }
            // Accepted: what a read returns is what the write acknowledged.
            if (!readBack || typeof res.body?.id !== 'string') return;
            const read = await stack.api(readBack.path === route.path ? at : `${route.path}/${encodeURIComponent(res.body.id)}`, { key: stack.keys.live });
            if (read.status !== 200) throw new Error(`read back ${read.status}`);
            if (JSON.stringify(read.body[prop.name]) !== JSON.stringify(res.body[prop.name])) throw new Error(`${prop.name} read back differs from what was acknowledged`);
          }),
          { numRuns: HOSTILE_VALID_RUNS },
        );
      if (run.failed) failures.push(`${route.name}: ${failureOf(run)}`);
    }
    expect(failures).toEqual([]);
    expect((await stack.api('/readyz')).status).toBe(200);
  }, 90_000);

  afterAll(() => {
    // Totals for docs/reliability.md.
    mkdirSync(path.dirname(REPORT), { recursive: true });
    writeFileSync(REPORT, `${JSON.stringify({ generated_at: new Date().toISOString(), endpoints_fuzzed: stats.endpoints.length, ...stats }, null, 2)}\n`);
  });
});

/** The reason first; the counterexample (it may hold a 300 KiB body) cut short; the seed to replay it. */
function failureOf<Ts>(run: fc.RunDetails<Ts>): string {
  const reason = run.errorInstance instanceof Error ? run.errorInstance.message : String(run.errorInstance);
  return `${reason.slice(0, 600)} | input ${JSON.stringify(run.counterexample)?.slice(0, 400)} | seed ${run.seed} path ${run.counterexamplePath}`;
}

function decodeSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
