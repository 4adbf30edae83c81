export * from './platform.module';
export * from './local-runtime';
export * from './local-app';
export * from './local-database';
