export * from './infra';
export * from './ports';
export * from './eventually';
export * from './receiver';
export * from './nats-server';
