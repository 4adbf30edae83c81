export * from './gateway-api.module';
export * from './http-pipeline';
