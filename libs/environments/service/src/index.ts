export * from './environments-service.module';
