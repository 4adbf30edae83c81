export * from './schedules-service.module';
