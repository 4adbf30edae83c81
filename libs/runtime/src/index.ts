export * from './platform.module';
export * from './local-runtime';
export * from './local-app';
export * from './local-database';
export * from './distributed-runtime';
export * from './relay-leadership';
export * from './service-process';
export * from './telemetry';
