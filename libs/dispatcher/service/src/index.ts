export * from './dispatcher-service.module';
export * from './http-sender';
