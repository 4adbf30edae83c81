import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { type ApiStack, startApiStack } from '../support/api-stack';

interface LintProblem {
  readonly ruleId: string;
  readonly severity: 'error' | 'warn';
  readonly message: string;
  readonly pointer?: string;
}

/**
 * @redocly/openapi-core is ESM-only and jest runs CommonJS, so the linter runs in its own Node
 * process: `lint` with the recommended rules, and `bundle` (which resolves every $ref).
 */
function lintOpenApi(document: unknown): { problems: LintProblem[]; bundleProblems: LintProblem[] } {
  const script = `
    import { bundleFromString, createConfig, lintFromString } from '@redocly/openapi-core';
    import { readFileSync } from 'node:fs';
    const source = readFileSync(0, 'utf8');
    const config = await createConfig({ extends: ['recommended'] });
    const shape = (p) => ({ ruleId: p.ruleId, severity: p.severity, message: p.message, pointer: p.location?.[0]?.pointer });
    const problems = await lintFromString({ source, absoluteRef: '/openapi.json', config });
    const bundled = await bundleFromString({ source, absoluteRef: '/openapi.json', config });
    process.stdout.write(JSON.stringify({ problems: problems.map(shape), bundleProblems: bundled.problems.map(shape) }));`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: path.resolve(__dirname, '..', '..'),
    input: JSON.stringify(document),
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`the OpenAPI linter failed to run: ${run.stderr}`);
  return JSON.parse(run.stdout);
}

/** Every (method, path) the running gateway answers, read from its HTTP router, in OpenAPI form. */
function registeredRoutes(stack: ApiStack): string[] {
  const router = stack.app.getHttpAdapter().getInstance().router as { stack: { route?: { path: string; methods: Record<string, boolean> } }[] };
  return router.stack.flatMap(({ route }) =>
    route
      ? Object.keys(route.methods)
          .filter((method) => method !== '_all')
          .map((method) => `${method} ${route.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`)
      : [],
  );
}

describe('OpenAPI document (SPEC §9)', () => {
  let stack: ApiStack;
  let document: {
    openapi: string;
    paths: Record<string, Record<string, { summary?: string; security?: unknown[]; responses: Record<string, unknown> }>>;
    components: { securitySchemes: Record<string, { type: string; scheme: string }> };
  };

  beforeAll(async () => {
    stack = await startApiStack('openapi');
    const res = await stack.api('/v1/openapi.json');
    expect(res.status).toBe(200);
    document = res.body;
  });

  afterAll(() => stack?.close());

  it('is served without a key as OpenAPI 3.1 with bearer security', () => {
    expect(document.openapi).toBe('3.1.0');
    expect(document.components.securitySchemes.api_key).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(document.paths['/v1/schedules'].post.security).toEqual([{ api_key: [] }]);
    expect(document.paths['/v1/openapi.json'].get.security).toEqual([]);
  });

  it('passes the recommended lint rules with no errors, and bundles cleanly', () => {
    const { problems, bundleProblems } = lintOpenApi(document);
    expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
    expect(bundleProblems.filter((p) => p.severity === 'error')).toEqual([]);
  });

  it('lists every route the gateway registers', () => {
    const routes = registeredRoutes(stack);
    expect(routes).toEqual(expect.arrayContaining(['post /v1/schedules', 'get /v1/schedules/{id}/upcoming', 'delete /v1/schedules/{id}']));
    const documented = Object.entries(document.paths).flatMap(([p, operations]) => Object.keys(operations).map((method) => `${method} ${p}`));
    expect(routes.filter((route) => !documented.includes(route))).toEqual([]);
  });

  it('documents the Stripe-style errors of each schedules route, with examples', () => {
    const create = document.paths['/v1/schedules'].post.responses as Record<string, { content: Record<string, { examples?: object; schema: unknown }> }>;
    expect(Object.keys(create)).toEqual(expect.arrayContaining(['201', '400', '401', '403', '409', '413']));
    expect(create['400'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/ErrorModel' });
    expect(Object.keys(create['400'].content['application/json'].examples ?? {})).toEqual(expect.arrayContaining(['parameter_invalid', 'parameter_unknown']));
    for (const [p, method] of [
      ['/v1/schedules/{id}', 'get'],
      ['/v1/schedules/{id}/pause', 'post'],
      ['/v1/schedules/{id}/resume', 'post'],
      ['/v1/schedules/{id}', 'delete'],
      ['/v1/schedules/{id}/upcoming', 'get'],
    ] as const) {
      expect(Object.keys(document.paths[p][method].responses)).toEqual(expect.arrayContaining(['200', '401', '404']));
      expect(document.paths[p][method].summary).toEqual(expect.any(String));
    }
  });
});
