export * from './infra';
export * from './receiver';
export * from './nats-server';
