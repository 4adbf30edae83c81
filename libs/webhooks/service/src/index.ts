export * from './webhooks-service.module';
