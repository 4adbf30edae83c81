export * from './event-store.port';
export { PostgresEventStore } from './postgres/postgres-event-store';
export type { PostgresEventStoreOptions, Queryable } from './postgres/postgres-event-store';
export { KurrentEventStore } from './kurrent/kurrent-event-store';
export type { KurrentEventStoreOptions } from './kurrent/kurrent-event-store';
