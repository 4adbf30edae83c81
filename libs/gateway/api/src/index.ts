export * from './gateway-api.module';
export * from './http-pipeline';
export * from './idempotency.store';
export { buildOpenApiDocument } from './openapi.document';
