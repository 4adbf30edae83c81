import { type INestApplication, Injectable, RequestMethod, type Type } from '@nestjs/common';
import { GUARDS_METADATA, METHOD_METADATA, MODULE_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { ApiKeyGuard } from './api-key.guard';
import { AUTH_ERRORS, type ErrorCase, errorExample, notFound, RATE_LIMITED } from './openapi.errors';

/** The security scheme name of API keys in the document. */
export const API_KEY_SCHEME = 'api_key';

/** One route the gateway serves, read from the controllers' Nest metadata. */
export interface GatewayRoute {
  /** Lower-case HTTP method, as OpenAPI keys operations. */
  readonly method: string;
  /** OpenAPI form: `/v1/schedules/{id}`. */
  readonly path: string;
  readonly authenticated: boolean;
  readonly handler: string;
}

const TAG_DESCRIPTIONS: Record<string, string> = {
  schedules: 'Schedules: one-off (delay, run_at) and recurring (cron + IANA time zone) HTTP requests (SPEC §3).',
  deliveries: 'Deliveries: each fire of a schedule, with its attempts (SPEC §4).',
  'dead-letters': 'Deliveries that failed for good and can be replayed (SPEC §4).',
  'signing-secret': "The environment's delivery signing secret (SPEC §4).",
  health: 'Liveness, readiness, metrics and this document.',
};

/** Every route of the given gateway module's controllers. */
export function gatewayRoutes(module: Type<unknown>): GatewayRoute[] {
  const controllers: Type<unknown>[] = Reflect.getMetadata(MODULE_METADATA.CONTROLLERS, module) ?? [];
  const routes: GatewayRoute[] = [];
  for (const controller of controllers) {
    const base = String(Reflect.getMetadata(PATH_METADATA, controller) ?? '');
    const classGuards: unknown[] = Reflect.getMetadata(GUARDS_METADATA, controller) ?? [];
    const proto = controller.prototype as Record<string, unknown>;
    for (const handler of Object.getOwnPropertyNames(proto)) {
      const fn = proto[handler];
      if (handler === 'constructor' || typeof fn !== 'function') continue;
      const method: RequestMethod | undefined = Reflect.getMetadata(METHOD_METADATA, fn);
      const sub = Reflect.getMetadata(PATH_METADATA, fn);
      if (method === undefined || sub === undefined) continue;
      const guards = [...classGuards, ...((Reflect.getMetadata(GUARDS_METADATA, fn) as unknown[]) ?? [])];
      const joined = `/${base}/${String(sub)}`.replace(/\/+/g, '/').replace(/(.)\/$/, '$1');
      routes.push({
        method: RequestMethod[method].toLowerCase(),
        path: joined.replace(/:([A-Za-z0-9_]+)/g, '{$1}'),
        authenticated: guards.includes(ApiKeyGuard),
        handler,
      });
    }
  }
  return routes;
}

/**
 * SPEC §9 `GET /v1/openapi.json`: the OpenAPI 3.1 document of the gateway, generated from its
 * controllers and DTOs by @nestjs/swagger, then completed from the routes' own metadata so a route
 * added without documentation still appears with its security, summary and common errors.
 */
export function buildOpenApiDocument(app: INestApplication, module: Type<unknown>, version: string): OpenAPIObject {
  const config = new DocumentBuilder()
    .setOpenAPIVersion('3.1.0')
    .setTitle('SchedStack API')
    .setDescription(
      'Durable scheduled HTTP delivery. Authenticate with a secret key as a bearer token: the key decides the ' +
        'environment (`sk_live_…`, `sk_sandbox_…`, `sk_test_…`). Errors are `{"error": {type, code, message, param, request_id}}`; ' +
        'every response carries a `Request-Id` header. See docs/api.md.',
    )
    .setVersion(version)
    .setLicense('MIT', 'https://opensource.org/licenses/MIT')
    .addServer('http://localhost:3000', 'The local profile (`npm start`)')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'A secret key: sk_live_…, sk_sandbox_… or sk_test_…' }, API_KEY_SCHEME)
    .build();
  const document = SwaggerModule.createDocument(app, config, {
    include: [module],
    autoTagControllers: false,
    operationIdFactory: (controller, method) => `${controller.replace(/HttpController$/, '').replace(/^./, (c) => c.toLowerCase())}_${method}`,
  });
  return completeDocument(document, gatewayRoutes(module));
}

function completeDocument(document: OpenAPIObject, routes: readonly GatewayRoute[]): OpenAPIObject {
  const components = (document.components ??= {});
  components.headers = {
    ...components.headers,
    'Request-Id': { description: 'The id of this request, as in `error.request_id`.', schema: { type: 'string', example: 'req_8sPq2LmXr0TzW7yVb1Nc4k' } },
  };
  const usedTags = new Set<string>();
  for (const route of routes) {
    const operation = document.paths[route.path]?.[route.method as 'get'];
    if (!operation) continue;
    operation.security = route.authenticated ? [{ [API_KEY_SCHEME]: [] }] : [];
    operation.summary ??= route.handler.replace(/([A-Z])/g, ' $1').replace(/^./, (c) => c.toUpperCase());
    if (!operation.tags?.length) operation.tags = [tagOf(route.path)];
    operation.tags.forEach((tag) => usedTags.add(tag));
    const common: ErrorCase[] = [
      ...(route.authenticated ? AUTH_ERRORS : []),
      ...(route.path.includes('{id}') ? [notFound('object', 'id')] : []),
      ...(route.path.startsWith('/v1/') ? [RATE_LIMITED] : []),
    ];
    for (const error of common) {
      operation.responses[String(error.status)] ??= {
        description: error.message,
        content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorModel' }, example: errorExample(error) } },
      };
    }
    for (const response of Object.values(operation.responses)) {
      if (!response || '$ref' in response) continue;
      if (!response.description) response.description = 'OK';
      response.headers = { ...response.headers, 'Request-Id': { $ref: '#/components/headers/Request-Id' } };
    }
  }
  document.tags = [...usedTags].sort().map((name) => ({ name, description: TAG_DESCRIPTIONS[name] ?? `Endpoints under /v1/${name}.` }));
  return toJsonSchemaNullable(document);
}

function tagOf(path: string): string {
  const segment = /^\/v1\/([^/{]+)/.exec(path)?.[1];
  return segment && segment !== 'openapi.json' ? segment : 'health';
}

/**
 * @nestjs/swagger writes OpenAPI 3.0's `nullable: true`; OpenAPI 3.1 schemas are JSON Schema, where
 * null is a type of its own. Rewrites every nullable schema in place.
 */
function toJsonSchemaNullable<T>(node: T): T {
  if (Array.isArray(node)) {
    node.forEach(toJsonSchemaNullable);
    return node;
  }
  if (typeof node !== 'object' || node === null) return node;
  const schema = node as Record<string, unknown>;
  for (const value of Object.values(schema)) toJsonSchemaNullable(value);
  if (schema.nullable === true) {
    delete schema.nullable;
    if (typeof schema.type === 'string') schema.type = [schema.type, 'null'];
    if (Array.isArray(schema.enum) && !schema.enum.includes(null)) schema.enum = [...schema.enum, null];
    if (schema.$ref || schema.allOf) {
      const inner = { ...schema };
      for (const key of Object.keys(schema)) delete schema[key];
      schema.oneOf = [inner, { type: 'null' }];
    }
  }
  return node;
}

/** Holds the document built at start, for the controller that serves it. */
@Injectable()
export class OpenApiDocumentHolder {
  document: OpenAPIObject | null = null;
}
